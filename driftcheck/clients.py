"""The one place that builds Google API clients, from endpoints and credentials.

``DRIFTCHECK_RUN_ENDPOINT`` / ``DRIFTCHECK_SECRETMANAGER_ENDPOINT`` point an API at an emulator
(REST, anonymous credentials), like Google's own ``*_EMULATOR_HOST`` variables. Otherwise
Application Default Credentials and the public endpoints are used. Imports of the google
libraries are deferred so that ``--help`` and ``diff`` stay fast.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
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
    _http: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

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
    from driftcheck.deadlines import bounded_request, deadline_adapter

    session = getattr(getattr(client, "_transport", None), "_session", None)
    if session is not None:
        # Each exchange is bounded in total time, not per read (see ``deadlines``).
        adapter = deadline_adapter(pool_maxsize=max(size, 10))
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.request = bounded_request(session.request)
        if emulator:
            session.trust_env = False
    return client


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

    return ApiClients(
        run=_tune_session(
            run_v2.ServicesClient(transport="rest", **options(run_endpoint)),
            pool_size,
            emulator=run_endpoint is not None,
        ),
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
    )


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
