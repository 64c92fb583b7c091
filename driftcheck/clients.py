"""The one place that builds Google API clients, from endpoints and credentials.

``DRIFTCHECK_RUN_ENDPOINT`` / ``DRIFTCHECK_SECRETMANAGER_ENDPOINT`` point an API at an emulator
(REST, anonymous credentials), like Google's own ``*_EMULATOR_HOST`` variables. Otherwise
Application Default Credentials and the public endpoints are used. Imports of the google
libraries are deferred so that ``--help`` and ``diff`` stay fast.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from driftcheck import __version__
from driftcheck.config import display_url
from driftcheck.errors import UsageError

RUN_ENDPOINT_VAR = "DRIFTCHECK_RUN_ENDPOINT"
SECRETMANAGER_ENDPOINT_VAR = "DRIFTCHECK_SECRETMANAGER_ENDPOINT"
RUN_PUBLIC = "https://run.googleapis.com"
SECRETMANAGER_PUBLIC = "https://secretmanager.googleapis.com"
ANONYMOUS = "anonymous (emulator)"


@dataclass
class ApiClients:
    """Clients handed to the collectors, plus what the report says about them."""

    run: Any
    secrets: Any
    http_factory: Callable[[], Any]
    endpoints: dict[str, str] = field(default_factory=dict)
    principal: str = "unknown"
    # Cloud Run's other collections, on the same endpoint as services.
    jobs: Any = None
    worker_pools: Any = None
    revisions: Any = None
    # Clients built on first use (the APIs behind the VPC, read only when configured).
    factories: dict[str, Callable[[], tuple[Any, str]]] = field(default_factory=dict)
    # What the reports name as their endpoints (see ``announce``).
    dependency_endpoints: dict[str, str] = field(default_factory=dict)
    _built: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _http: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def client(self, api: str) -> Any:
        """The client of ``api`` (``vpcaccess``, ``redis``, ``sqladmin``), built once."""
        with self._lock:
            if api not in self._built:
                self._built[api], self.endpoints[api] = self.factories[api]()
            return self._built[api]

    def announce(self, api: str) -> None:
        """Name the endpoint of ``api`` in the reports from now on: the run reads it, its client
        built when first used (reports judged meanwhile name it all the same)."""
        with self._lock:
            self.endpoints.setdefault(api, self.dependency_endpoints[api])

    @property
    def http(self) -> Any:
        """The plain HTTP client (probes, JWKS), built on first use: most runs never need it,
        and importing httpx costs a run's start 50 ms."""
        with self._lock:
            if self._http is None:
                self._http = self.http_factory()
            return self._http


def _endpoint(var: str) -> str | None:
    value = os.environ.get(var, "").strip()
    if value and not value.startswith(("http://", "https://")):
        # The value is not echoed: a malformed endpoint may well carry credentials.
        raise UsageError(f"{var} must be a base URL such as http://127.0.0.1:8085")
    return value.rstrip("/") or None


def _tune_session(client: Any, size: int, emulator: bool) -> Any:
    """Let ``size`` concurrent calls share a client without discarding connections.

    requests keeps 10 connections per host by default; the REST transport's session is reached
    through a private attribute because the client offers no public knob for it. Its sockets
    read under a deadline, so that a trickling answer cannot outlast the call's timeout. An
    emulator on loopback is never reached through a proxy, so the per-request proxy lookup is
    skipped.
    """
    from driftcheck.deadlines import deadline_adapter
    from driftcheck.kinds.cloud_run.unknown import capture_responses
    from driftcheck.lean_http import lean

    session = getattr(getattr(client, "_transport", None), "_session", None)
    if session is not None:
        # Exchanges go over http.client (see ``lean_http``); what requests still sends (through
        # a proxy, say) is bounded in total time, not per read, the same way (see ``deadlines``).
        adapter = deadline_adapter(pool_maxsize=max(size, 10))
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.request = capture_responses(lean(session).request)
        if emulator:
            session.trust_env = False
    return client


@cache
def _keep_out_of_collections() -> None:
    """Once a process has imported the client libraries, everything alive (modules, their
    classes and descriptors, the clients) lives as long as the process: kept out of the garbage
    collector's passes, which would otherwise walk it all again each time while the API is read
    (8% of a 300-service check). What becomes garbage later is collected as ever."""
    gc.freeze()


def build_clients(pool_size: int = 16) -> ApiClients:
    """Clients for Cloud Run and Secret Manager, honouring the emulator variables."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import run_v2, secretmanager_v1

    run_endpoint = _endpoint(RUN_ENDPOINT_VAR)
    secrets_endpoint = _endpoint(SECRETMANAGER_ENDPOINT_VAR)
    credentials = None
    principal = ANONYMOUS
    if not (run_endpoint and secrets_endpoint):
        credentials, principal = _default_credentials()

    def options(endpoint: str | None) -> dict[str, Any]:
        if endpoint:
            return {
                "credentials": AnonymousCredentials(),
                "client_options": ClientOptions(api_endpoint=endpoint),
            }
        return {"credentials": credentials}

    def run_client(kind: Any) -> Any:
        client = kind(transport="rest", **options(run_endpoint))
        return _tune_session(client, pool_size, emulator=run_endpoint is not None)

    clients = ApiClients(
        run=run_client(run_v2.ServicesClient),
        jobs=run_client(run_v2.JobsClient),
        worker_pools=run_client(run_v2.WorkerPoolsClient),
        revisions=run_client(run_v2.RevisionsClient),
        secrets=_tune_session(
            secretmanager_v1.SecretManagerServiceClient(
                transport="rest", **options(secrets_endpoint)
            ),
            pool_size,
            emulator=secrets_endpoint is not None,
        ),
        http_factory=_http_client,
        # Credentials in an endpoint URL (user info, a query) never reach a report.
        endpoints={
            "run": display_url(run_endpoint or RUN_PUBLIC),
            "secretmanager": display_url(secrets_endpoint or SECRETMANAGER_PUBLIC),
        },
        principal=principal,
        factories=dependency_factories(pool_size),
        dependency_endpoints=dependency_endpoints(),
    )
    _keep_out_of_collections()
    return clients


VPCACCESS_ENDPOINT_VAR = "DRIFTCHECK_VPCACCESS_ENDPOINT"
REDIS_ENDPOINT_VAR = "DRIFTCHECK_REDIS_ENDPOINT"
SQLADMIN_ENDPOINT_VAR = "DRIFTCHECK_SQLADMIN_ENDPOINT"
DEPENDENCY_ENDPOINTS = {
    "vpcaccess": (VPCACCESS_ENDPOINT_VAR, "https://vpcaccess.googleapis.com"),
    "redis": (REDIS_ENDPOINT_VAR, "https://redis.googleapis.com"),
    "sqladmin": (SQLADMIN_ENDPOINT_VAR, "https://sqladmin.googleapis.com"),
}


def dependency_endpoints() -> dict[str, str]:
    """The endpoint of each API behind the VPC, as the reports name it."""
    return {
        api: display_url(_endpoint(var) or public)
        for api, (var, public) in DEPENDENCY_ENDPOINTS.items()
    }


def dependency_factories(pool_size: int) -> dict[str, Callable[[], tuple[Any, str]]]:
    """Builders of the VPC Access, Redis and Cloud SQL Admin clients (REST, like the others).

    They are built on first use, so an environment that reads no dependency never needs the
    credentials or endpoints they would. Cloud SQL has no REST transport in google-cloud-sql
    (gRPC only), so its Admin REST API is called through an authorized session (see
    ``kinds.sql.rest``).
    """
    endpoints = {api: _endpoint(var) for api, (var, _public) in DEPENDENCY_ENDPOINTS.items()}
    credentials = cache(lambda: _default_credentials()[0])

    def options(api: str) -> dict[str, Any]:
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials

        endpoint = endpoints[api]
        if endpoint:
            return {
                "credentials": AnonymousCredentials(),
                "client_options": ClientOptions(api_endpoint=endpoint),
            }
        return {"credentials": credentials()}

    def shown(api: str) -> str:
        return dependency_endpoints()[api]

    def vpcaccess() -> tuple[Any, str]:
        from google.cloud import vpcaccess_v1

        client = vpcaccess_v1.VpcAccessServiceClient(transport="rest", **options("vpcaccess"))
        return _tune_session(client, pool_size, endpoints["vpcaccess"] is not None), shown(
            "vpcaccess"
        )

    def redis() -> tuple[Any, str]:
        from google.cloud import redis_v1

        client = redis_v1.CloudRedisClient(transport="rest", **options("redis"))
        return _tune_session(client, pool_size, endpoints["redis"] is not None), shown("redis")

    def sqladmin() -> tuple[Any, str]:
        from driftcheck.kinds.sql.rest import SqlAdminRest

        endpoint = endpoints["sqladmin"] or DEPENDENCY_ENDPOINTS["sqladmin"][1]
        client = SqlAdminRest(endpoint, options("sqladmin")["credentials"])
        return _tune_session(client, pool_size, endpoints["sqladmin"] is not None), shown(
            "sqladmin"
        )

    return {"vpcaccess": vpcaccess, "redis": redis, "sqladmin": sqladmin}


def _http_client() -> Any:
    import httpx

    return httpx.Client(headers={"User-Agent": f"driftcheck/{__version__}"})


def _default_credentials() -> tuple[Any, str]:
    import google.auth
    from google.auth import exceptions as auth_exceptions

    try:
        credentials, _project = google.auth.default(
            scopes=["https://www.googleapis.com/auth/cloud-platform"]
        )
    except auth_exceptions.DefaultCredentialsError:
        raise UsageError(
            "no Google credentials found: run `gcloud auth application-default login` or set "
            f"GOOGLE_APPLICATION_CREDENTIALS (or point {RUN_ENDPOINT_VAR} and "
            f"{SECRETMANAGER_ENDPOINT_VAR} at an emulator)"
        ) from None
    email = getattr(credentials, "service_account_email", None)
    principal = email if isinstance(email, str) and "@" in email else type(credentials).__name__
    return credentials, principal
