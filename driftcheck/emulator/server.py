"""The emulator's HTTP server: Google-shaped REST answers on 127.0.0.1, with injectable faults.

Only read methods exist; anything else answers 405 and is recorded, so tests can prove that
driftcheck never writes. Volatile fields (uid, etag, times, uri) are filled in afresh at every
start, so tests can prove that normalization drops them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from driftcheck.emulator.scenario import FaultSpec, ProjectSpec, Scenario

_STATUS_NAMES = {
    400: "FAILED_PRECONDITION",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_RUN_LOCATIONS = re.compile(r"^/v1/projects/([^/]+)/locations$")
_RUN_LIST = re.compile(r"^/v2/projects/([^/]+)/locations/([^/]+)/services$")
_RUN_GET = re.compile(r"^/v2/projects/([^/]+)/locations/([^/]+)/services/([^/:]+)$")
_RUN_IAM = re.compile(r"^/v2/projects/([^/]+)/locations/([^/]+)/services/([^/:]+):getIamPolicy$")
# Jobs and worker pools: the same shape as services under another collection name.
_RUN_OTHER_LIST = re.compile(r"^/v2/projects/([^/]+)/locations/([^/]+)/(jobs|workerPools)$")
_RUN_OTHER_GET = re.compile(r"^/v2/projects/([^/]+)/locations/([^/]+)/(jobs|workerPools)/([^/:]+)$")
_RUN_OTHER_IAM = re.compile(
    r"^/v2/projects/([^/]+)/locations/([^/]+)/(jobs|workerPools)/([^/:]+):getIamPolicy$"
)
_RUN_REVISION = re.compile(
    r"^/v2/projects/([^/]+)/locations/([^/]+)/services/([^/:]+)/revisions/([^/:]+)$"
)
_SM_SECRETS = re.compile(r"^/v1/projects/([^/]+)/secrets$")
_SM_SECRET = re.compile(r"^/v1/projects/([^/]+)/secrets/([^/:]+)$")
_SM_VERSIONS = re.compile(r"^/v1/projects/([^/]+)/secrets/([^/:]+)/versions$")
_SM_VERSION = re.compile(r"^/v1/projects/([^/]+)/secrets/([^/:]+)/versions/([^/:]+)$")
_SM_ACCESS = re.compile(r"^/v1/projects/([^/]+)/secrets/([^/:]+)/versions/([^/:]+):access$")
_VPC_LIST = re.compile(r"^/v1/projects/([^/]+)/locations/([^/]+)/connectors$")
_VPC_GET = re.compile(r"^/v1/projects/([^/]+)/locations/([^/]+)/connectors/([^/:]+)$")
_REDIS_LIST = re.compile(r"^/v1/projects/([^/]+)/locations/([^/]+)/instances$")
_REDIS_GET = re.compile(r"^/v1/projects/([^/]+)/locations/([^/]+)/instances/([^/:]+)$")
_REDIS_AUTH = re.compile(r"^/v1/projects/([^/]+)/locations/([^/]+)/instances/([^/:]+)/authString$")
_SQL_LIST = re.compile(r"^/v1/projects/([^/]+)/instances$")
_SQL_USERS = re.compile(r"^/v1/projects/([^/]+)/instances/([^/:]+)/users$")


class ApiError(Exception):
    """An error answered in Google's JSON error shape."""

    def __init__(self, status: int, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason or _STATUS_NAMES.get(status, "UNKNOWN")


@dataclass
class Fault:
    """A live fault: a spec and how many more times it fires."""

    spec: FaultSpec
    remaining: int | None

    @classmethod
    def from_spec(cls, spec: FaultSpec) -> Fault:
        """A fault that fires ``spec.times`` times (forever when None)."""
        return cls(spec=spec, remaining=spec.times)

    def take(self, method: str, path: str) -> bool:
        """True (and one use consumed) when this fault applies to the request."""
        if self.remaining == 0 or method != self.spec.method:
            return False
        if not re.search(self.spec.path, path):
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True


class EmulatorState:
    """The scenario being served, the faults still armed, and every call received."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.faults = [Fault.from_spec(spec) for spec in scenario.faults]
        self.calls: list[tuple[str, str]] = []
        self.services: dict[tuple[str, str], Any] = {}
        self.in_flight = 0
        self.peak_in_flight = 0
        self.lock = threading.Lock()
        self.boot = uuid.uuid4().hex
        self.boot_time = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def project(self, ref: str) -> tuple[str, ProjectSpec]:
        """Project by id or number; 404 if absent."""
        for project_id, spec in self.scenario.projects.items():
            if ref in (project_id, spec.number):
                return project_id, spec
        raise ApiError(404, f"Project '{ref}' not found.")


def _crc32c(data: bytes) -> int:
    """CRC32C (Castagnoli), as Secret Manager reports it for payloads."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _page_window(
    query: dict[str, list[str]], cap: int, size_parameter: str = "pageSize"
) -> tuple[int, int]:
    """(first index, page size) of a list call's ``pageToken`` and page size parameter."""
    size = min(int((query.get(size_parameter) or [str(cap)])[0] or cap) or cap, cap)
    token = (query.get("pageToken") or ["0"])[0] or "0"
    if not token.isdigit():
        raise ApiError(400, "The page token is invalid.", "INVALID_ARGUMENT")
    return int(token), size


class _Api:
    """The read-only REST surface, answering from an :class:`EmulatorState`."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def route(self, path: str, query: dict[str, list[str]]) -> dict[str, Any]:
        routes: list[tuple[re.Pattern[str], Any]] = [
            (_RUN_LOCATIONS, self.list_locations),
            (_RUN_LIST, self.list_services),
            (_RUN_IAM, self.get_iam_policy),
            (_RUN_GET, self.get_service),
            (_RUN_REVISION, self.get_revision),
            (_RUN_OTHER_LIST, self.list_other),
            (_RUN_OTHER_IAM, self.other_iam_policy),
            (_RUN_OTHER_GET, self.get_other),
            (_SM_ACCESS, self.access_version),
            (_SM_VERSIONS, self.list_versions),
            (_SM_VERSION, self.get_version),
            (_SM_SECRET, self.get_secret),
            (_SM_SECRETS, self.list_secrets),
            *self.dependency_routes(),
        ]
        for pattern, handler in routes:
            match = pattern.match(path)
            if match:
                result: dict[str, Any] = handler(*match.groups(), query=query)
                return result
        raise ApiError(404, f"The requested URL {path} was not found on this server.")

    # Cloud Run v1 locations --------------------------------------------------------------------
    def list_locations(self, project: str, *, query: dict[str, list[str]]) -> dict[str, Any]:
        """``ListLocationsResponse``, paged like the services list."""
        project_id, spec = self.state.project(project)
        locations = [
            {
                "name": f"projects/{project_id}/locations/{location}",
                "locationId": location,
                "displayName": location,
                "labels": {"cloud.googleapis.com/region": location},
            }
            for location in spec.location_ids()
        ]
        return self._page(locations, "locations", query, "pageSize")

    # Cloud Run v2 ------------------------------------------------------------------------------
    def _volatile(self, digest: str) -> dict[str, Any]:
        """What Cloud Run sets on every resource and changes on every boot of the emulator."""
        return {
            "uid": str(uuid.UUID(digest[:32])),
            "generation": str(int(digest[:4], 16)),
            "etag": f'"{digest[:20]}"',
            "createTime": self.state.boot_time,
            "updateTime": self.state.boot_time,
            "creator": "deployer@example.com",
            "lastModifier": "deployer@example.com",
            "observedGeneration": str(int(digest[:4], 16)),
        }

    def _service_json(
        self, project_id: str, spec: ProjectSpec, location: str, raw: dict[str, Any]
    ) -> dict[str, Any]:
        short = str(raw["name"]).rsplit("/", 1)[-1]
        name = f"projects/{project_id}/locations/{location}/services/{short}"
        digest = hashlib.sha256(f"{self.state.boot}{name}".encode()).hexdigest()
        volatile = {
            **self._volatile(digest),
            "uri": f"https://{short}-{digest[:10]}-uc.a.run.app",
            "urls": [f"https://{short}-{spec.number}.{location}.run.app"],
            "latestReadyRevision": f"{name}/revisions/{short}-{digest[:5]}",
            "latestCreatedRevision": f"{name}/revisions/{short}-{digest[:5]}",
            "terminalCondition": {"type": "Ready", "state": "CONDITION_SUCCEEDED"},
            "conditions": [{"type": "RoutesReady", "state": "CONDITION_SUCCEEDED"}],
            "reconciling": False,
        }
        return {**volatile, **raw, "name": name}

    def _services(
        self, project_ref: str, location: str
    ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        """The services of a location as served, and an index by short name (built once)."""
        project_id, spec = self.state.project(project_ref)
        with self.state.lock:
            cached = self.state.services.get((project_id, location))
            if cached is None:
                raw = spec.services.get(location, [])
                served = [self._service_json(project_id, spec, location, s) for s in raw]
                index = {s["name"].rsplit("/", 1)[-1]: s for s in served}
                cached = self.state.services[(project_id, location)] = (served, index)
        return cached

    def list_services(
        self, project: str, location: str, *, query: dict[str, list[str]]
    ) -> dict[str, Any]:
        services, _index = self._services(project, location)
        return self._page(services, "services", query, "pageSize")

    def get_service(
        self, project: str, location: str, name: str, *, query: dict[str, list[str]]
    ) -> dict[str, Any]:
        _services, index = self._services(project, location)
        if name in index:
            return index[name]
        raise ApiError(
            404, f"Resource 'projects/{project}/locations/{location}/services/{name}' was not found"
        )

    def get_iam_policy(
        self, project: str, location: str, name: str, *, query: dict[str, list[str]]
    ) -> dict[str, Any]:
        self.get_service(project, location, name, query=query)
        _pid, spec = self.state.project(project)
        policy = dict(spec.iam.get(name, {}))
        policy.setdefault("etag", base64.b64encode(self.state.boot[:8].encode()).decode())
        return policy

    def get_revision(
        self, project: str, location: str, service: str, name: str, *, query: dict[str, list[str]]
    ) -> dict[str, Any]:
        """A revision of a service, from the scenario's ``revisions`` (REST JSON)."""
        self.get_service(project, location, service, query=query)
        project_id, spec = self.state.project(project)
        for raw in spec.revisions.get(location, []):
            if str(raw["name"]).rsplit("/", 1)[-1] == name:
                parent = f"projects/{project_id}/locations/{location}/services/{service}"
                return {**raw, "name": f"{parent}/revisions/{name}", "service": parent}
        raise ApiError(404, f"Revision '{name}' of service '{service}' was not found")

    def _others(self, project_ref: str, location: str, collection: str) -> list[dict[str, Any]]:
        """Jobs or worker pools of a location as served (names made full, volatile fields set)."""
        project_id, spec = self.state.project(project_ref)
        raw = (spec.jobs if collection == "jobs" else spec.worker_pools).get(location, [])
        served = []
        for item in raw:
            short = str(item["name"]).rsplit("/", 1)[-1]
            name = f"projects/{project_id}/locations/{location}/{collection}/{short}"
            digest = hashlib.sha256(f"{self.state.boot}{name}".encode()).hexdigest()
            ready = {"terminalCondition": {"type": "Ready", "state": "CONDITION_SUCCEEDED"}}
            served.append({**self._volatile(digest), **ready, **item, "name": name})
        return served

    def list_other(
        self, project: str, location: str, collection: str, *, query: dict[str, list[str]]
    ) -> dict[str, Any]:
        return self._page(
            self._others(project, location, collection), collection, query, "pageSize"
        )

    def get_other(
        self,
        project: str,
        location: str,
        collection: str,
        name: str,
        *,
        query: dict[str, list[str]],
    ) -> dict[str, Any]:
        for item in self._others(project, location, collection):
            if item["name"].rsplit("/", 1)[-1] == name:
                return item
        raise ApiError(
            404,
            f"Resource 'projects/{project}/locations/{location}/{collection}/{name}' was not found",
        )

    def other_iam_policy(
        self,
        project: str,
        location: str,
        collection: str,
        name: str,
        *,
        query: dict[str, list[str]],
    ) -> dict[str, Any]:
        self.get_other(project, location, collection, name, query=query)
        _pid, spec = self.state.project(project)
        policy = dict(spec.iam.get(f"{collection}/{name}", {}))
        policy.setdefault("etag", base64.b64encode(self.state.boot[:8].encode()).decode())
        return policy

    # Secret Manager v1 ---------------------------------------------------------------------------
    def _secret(self, project: str, secret: str) -> tuple[str, Any]:
        _pid, spec = self.state.project(project)
        found = spec.secrets.get(secret)
        if found is None:
            raise ApiError(404, f"Secret [projects/{spec.number}/secrets/{secret}] not found.")
        return f"projects/{spec.number}/secrets/{secret}", found

    def get_secret(
        self, project: str, secret: str, *, query: dict[str, list[str]]
    ) -> dict[str, Any]:
        name, spec = self._secret(project, secret)
        return {
            "replication": {"automatic": {}},
            **spec.metadata,
            "name": name,
            "createTime": self.state.boot_time,
            "etag": f'"{self.state.boot[:12]}"',
        }

    def list_secrets(self, project: str, *, query: dict[str, list[str]]) -> dict[str, Any]:
        """``ListSecretsResponse``: every secret of the project as ``get_secret`` answers it."""
        _pid, spec = self.state.project(project)
        secrets = [self.get_secret(project, name, query=query) for name in sorted(spec.secrets)]
        body = self._page(secrets, "secrets", query, "pageSize")
        body["totalSize"] = len(secrets)
        return body

    def _version_json(self, name: str, version: Any) -> dict[str, Any]:
        body = {
            "name": f"{name}/versions/{version.version}",
            "state": version.state,
            "createTime": self.state.boot_time,
            "etag": f'"{self.state.boot[:12]}"',
            "replicationStatus": {"automatic": {}},
        }
        if version.state == "DESTROYED":
            body["destroyTime"] = self.state.boot_time
        return body

    def _resolve(self, project: str, secret: str, version: str) -> tuple[str, Any]:
        name, spec = self._secret(project, secret)
        if version == "latest":
            candidates = [v for v in spec.versions if v.state == "ENABLED"]
            if not candidates:
                raise ApiError(400, f"Secret [{name}] has no enabled versions.")
            return name, max(candidates, key=lambda v: v.version)
        for candidate in spec.versions:
            if str(candidate.version) == version:
                return name, candidate
        raise ApiError(404, f"Secret Version [{name}/versions/{version}] not found.")

    def list_versions(
        self, project: str, secret: str, *, query: dict[str, list[str]]
    ) -> dict[str, Any]:
        name, spec = self._secret(project, secret)
        versions = sorted(spec.versions, key=lambda v: -v.version)
        return {
            "versions": [self._version_json(name, v) for v in versions],
            "totalSize": len(versions),
        }

    def get_version(
        self, project: str, secret: str, version: str, *, query: dict[str, list[str]]
    ) -> dict[str, Any]:
        name, found = self._resolve(project, secret, version)
        return self._version_json(name, found)

    def access_version(
        self, project: str, secret: str, version: str, *, query: dict[str, list[str]]
    ) -> dict[str, Any]:
        name, found = self._resolve(project, secret, version)
        if found.state != "ENABLED":
            raise ApiError(
                400,
                f"Secret Version [{name}/versions/{found.version}] is in {found.state} state.",
            )
        data = (found.payload or "").encode("utf-8")
        return {
            "name": f"{name}/versions/{found.version}",
            "payload": {
                "data": base64.b64encode(data).decode("ascii"),
                "dataCrc32c": str(_crc32c(data)),
            },
        }

    # VPC Access v1, Memorystore for Redis v1, Cloud SQL Admin v1 -------------------------------
    def dependency_routes(self) -> list[tuple[re.Pattern[str], Any]]:
        """Routes of the APIs behind the VPC. The Redis AUTH string and the Cloud SQL users are
        served (recorded like any call) so that tests can prove driftcheck never asks."""
        return [
            (_VPC_LIST, self.list_connectors),
            (_VPC_GET, self.get_connector),
            (_REDIS_LIST, self.list_redis),
            (_REDIS_AUTH, self.redis_auth_string),
            (_REDIS_GET, self.get_redis),
            (_SQL_LIST, self.list_sql),
            (_SQL_USERS, self.sql_users),
        ]

    def _page(
        self, items: list[dict[str, Any]], field: str, query: dict[str, list[str]], size: str
    ) -> dict[str, Any]:
        start, limit = _page_window(query, self.state.scenario.max_page_size, size)
        body: dict[str, Any] = {field: items[start : start + limit]}
        if start + limit < len(items):
            body["nextPageToken"] = str(start + limit)
        return body

    def _located(
        self, project: str, location: str, kind: str, short: str, raw: dict[str, Any]
    ) -> dict[str, Any]:
        project_id, _spec = self.state.project(project)
        name = f"projects/{project_id}/locations/{location}/{kind}/{short}"
        return {**raw, "name": name}

    def _connectors(self, project: str, location: str) -> list[dict[str, Any]]:
        _pid, spec = self.state.project(project)
        return [
            self._located(project, location, "connectors", str(c["name"]).rsplit("/", 1)[-1], c)
            for c in spec.connectors.get(location, [])
        ]

    def list_connectors(
        self, project: str, location: str, *, query: dict[str, list[str]]
    ) -> dict[str, Any]:
        return self._page(self._connectors(project, location), "connectors", query, "pageSize")

    def get_connector(
        self, project: str, location: str, name: str, *, query: dict[str, list[str]]
    ) -> dict[str, Any]:
        for connector in self._connectors(project, location):
            if connector["name"].endswith(f"/{name}"):
                return connector
        raise ApiError(404, f"Connector '{name}' was not found.")

    def _redis(self, project: str, location: str) -> list[dict[str, Any]]:
        _pid, spec = self.state.project(project)
        volatile = {"createTime": self.state.boot_time, "currentLocationId": f"{location}-a"}
        return [
            {
                **volatile,
                **self._located(
                    project, location, "instances", str(r["name"]).rsplit("/", 1)[-1], r
                ),
            }
            for r in spec.redis.get(location, [])
        ]

    def list_redis(
        self, project: str, location: str, *, query: dict[str, list[str]]
    ) -> dict[str, Any]:
        if location == "-":  # every region of the project, as Memorystore answers it
            _pid, spec = self.state.project(project)
            found = [r for region in sorted(spec.redis) for r in self._redis(project, region)]
            page = self._page(found, "instances", query, "pageSize")
            if spec.redis_unreachable:
                page["unreachable"] = sorted(spec.redis_unreachable)
            return page
        return self._page(self._redis(project, location), "instances", query, "pageSize")

    def get_redis(
        self, project: str, location: str, name: str, *, query: dict[str, list[str]]
    ) -> dict[str, Any]:
        for instance in self._redis(project, location):
            if instance["name"].endswith(f"/{name}"):
                return instance
        raise ApiError(404, f"Instance '{name}' was not found.")

    def redis_auth_string(
        self, project: str, location: str, name: str, *, query: dict[str, list[str]]
    ) -> dict[str, Any]:
        self.get_redis(project, location, name, query=query)
        return {"authString": f"emulated-auth-{self.state.boot[:16]}"}

    def list_sql(self, project: str, *, query: dict[str, list[str]]) -> dict[str, Any]:
        project_id, spec = self.state.project(project)
        items = [
            {
                "kind": "sql#instance",
                "etag": f'"{self.state.boot[:12]}"',
                "createTime": self.state.boot_time,
                **raw,
                "project": project_id,
                "connectionName": f"{project_id}:{raw.get('region', '')}:{raw.get('name', '')}",
                "selfLink": f"https://sqladmin.googleapis.com/v1/projects/{project_id}/"
                f"instances/{raw.get('name', '')}",
            }
            for raw in spec.sql
        ]
        body = self._page(items, "items", query, "maxResults")
        body["kind"] = "sql#instancesList"
        return body

    def sql_users(
        self, project: str, instance: str, *, query: dict[str, list[str]]
    ) -> dict[str, Any]:
        self.state.project(project)
        return {"items": [{"name": "app", "password": f"emulated-{self.state.boot[:12]}"}]}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence the default per-request log on stderr."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def do_PATCH(self) -> None:  # noqa: N802
        self._serve("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve("DELETE")

    def do_PUT(self) -> None:  # noqa: N802
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        with state.lock:
            state.calls.append((method, url.path))
            fault = next((f for f in state.faults if f.take(method, url.path)), None)
            state.in_flight += 1
            state.peak_in_flight = max(state.peak_in_flight, state.in_flight)
        self._counted = True
        self._streaming = fault is not None and fault.spec.body in ("trickle", "truncated")
        try:
            self._answer(method, url, fault)
        finally:
            self._leave()

    def flush_headers(self) -> None:
        # A call is in flight until its answer starts out: once the client has read it, it may
        # send the next one before this thread is scheduled again. (An answer that trickles,
        # or is cut short, stays in flight until its handler ends.)
        if not getattr(self, "_streaming", False):
            self._leave()
        super().flush_headers()

    def _leave(self) -> None:
        if getattr(self, "_counted", False):
            self._counted = False
            with self.server.state.lock:
                self.server.state.in_flight -= 1

    def _answer(self, method: str, url: Any, fault: Fault | None) -> None:
        state = self.server.state
        if state.scenario.latency_ms:
            time.sleep(state.scenario.latency_ms / 1000)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if fault is not None and self._inject(fault.spec):
            return
        if method != "GET":
            self._send_error(ApiError(405, f"Method {method} is not supported by the emulator."))
            return
        query = parse_qs(url.query)
        if fault is not None and fault.spec.body == "repeat-token":
            query.pop("pageToken", None)  # always the first page, always the same token
        try:
            body = _Api(state).route(url.path, query)
        except ApiError as exc:
            self._send_error(exc)
            return
        if fault is not None and fault.spec.body == "repeat-token":
            body["nextPageToken"] = "the-same-token"
        if fault is not None and fault.spec.body == "trickle":
            self._trickle(json.dumps(body).encode("utf-8"), fault.spec.delay_seconds or 1.0)
            return
        self._send_json(200, body)

    def _trickle(self, data: bytes, interval: float) -> None:
        """The whole answer, one byte at a time: each read succeeds, the call never ends."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            for index in range(len(data)):
                self.wfile.write(data[index : index + 1])
                self.wfile.flush()
                time.sleep(interval)
        except OSError:
            self.close_connection = True  # the client gave up, as it should

    def _inject(self, spec: FaultSpec) -> bool:
        """Answer with the fault; False when the fault only delays a normal answer."""
        if spec.body in ("trickle", "repeat-token"):
            return False  # the normal answer, altered on its way out
        if spec.body == "endless":
            self._send_json(200, {"services": [], "nextPageToken": uuid.uuid4().hex})
            return True
        if spec.delay_seconds:
            time.sleep(spec.delay_seconds)
        if spec.body == "slow":
            return False
        if spec.body == "deep":
            depth = 200_000
            nested = b'{"error": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}"
            self._send_raw(spec.status, nested, "application/json")
            return True
        if spec.body == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return True
        if spec.body == "html":
            self._send_raw(
                spec.status, b"<html><body><h1>Server Error</h1></body></html>", "text/html"
            )
        elif spec.body == "malformed":
            self._send_raw(spec.status, b'{"services": [{"name": ', "application/json")
        elif spec.body == "truncated":
            self.send_response(spec.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "4096")
            self.end_headers()
            self.wfile.write(b'{"services": [')
            self.close_connection = True
        else:
            message = spec.message or f"Injected fault {spec.status}."
            self._send_error(ApiError(spec.status, message))
        return True

    def _send_error(self, error: ApiError) -> None:
        body = {"error": {"code": error.status, "message": error.message, "status": error.reason}}
        self._send_json(error.status, body)

    def _send_json(self, status: int, body: dict[str, Any]) -> None:
        self._send_raw(status, json.dumps(body).encode("utf-8"), "application/json; charset=UTF-8")

    def _send_raw(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(
            status, HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else None
        )
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    state: EmulatorState

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (a timeout, an injected reset) is not worth a traceback."""


class EmulatorServer:
    """Runs the emulator on 127.0.0.1 in a background thread; use as a context manager."""

    def __init__(self, scenario: Scenario, port: int = 0) -> None:
        self.state = EmulatorState(scenario)
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.state = self.state
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:40123``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def calls(self) -> list[tuple[str, str]]:
        """Every (method, path) received so far."""
        with self.state.lock:
            return list(self.state.calls)

    def add_fault(self, spec: FaultSpec) -> None:
        """Arm another fault while running."""
        with self.state.lock:
            self.state.faults.append(Fault.from_spec(spec))

    def start(self) -> EmulatorServer:
        """Start serving in the background."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
