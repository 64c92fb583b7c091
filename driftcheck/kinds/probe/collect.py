"""Live behaviour probes: a WebSocket handshake (websockets) and an HTTP health check (httpx).

Configuration can look identical while behaviour differs: a proxy that no longer echoes the
negotiated ``Sec-WebSocket-Protocol``, dependencies reported degraded. A probe's result is a
``probe/<name>`` resource compared like any other. A rejected handshake or a bad health answer is
a violation; a probe that cannot reach its target makes the run incomplete. A token sent by a
probe is scrubbed from everything recorded.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from driftcheck.collectors.interface import CollectionContext, CollectorResult
from driftcheck.concurrency import Workers, start_bounded
from driftcheck.config import Environment, ProbeSpec, display_url
from driftcheck.fingerprint import Fingerprinter
from driftcheck.identity import Neutralizer
from driftcheck.kinds.interface import CollectRequest
from driftcheck.kinds.probe.normalize import normalize_probe
from driftcheck.model import CollectionErrorRecord
from driftcheck.sensitive import Redactor, scrub

SOURCE = "probe"
HEADERS_OF_INTEREST = ("sec-websocket-protocol", "sec-websocket-extensions", "upgrade")
DEGRADED_WORDS = frozenset(
    {"degraded", "down", "unhealthy", "error", "fail", "failed", "failing", "unavailable"}
)
_MAX_MESSAGES = 5
_MAX_TEXT = 200


class ProbeUnreachable(Exception):
    """The probe's target could not be reached or did not answer in time."""


def _scrub(value: Any, secret: str | None) -> Any:
    """Replace a token sent by the probe, and each long part of it, wherever a server echoed it;
    then clip long strings. Clipping comes last: a clipped token would escape the replacement."""
    # The token itself whatever its length, and each long part of it (a JWT's segments).
    parts = sorted({secret, *secret.split(".")} if secret else set(), key=len, reverse=True)
    parts = [part for part in parts if len(part) >= 12 or (part == secret and len(part) >= 4)]

    def clean(item: Any) -> Any:
        if isinstance(item, str):
            for part in parts:
                item = item.replace(part, "<token>")
            return item[:_MAX_TEXT]
        if isinstance(item, dict):
            return {clean(k): clean(v) for k, v in item.items()}
        if isinstance(item, list):
            return [clean(element) for element in item]
        return item

    return clean(value)


def _defect(severity: str, message: str) -> dict[str, str]:
    return {"severity": severity, "message": message}


def _is_loopback(url: str) -> bool:
    return urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")


class ProbeCollector:
    """Runs an environment's probes on the worker pool."""

    source = SOURCE

    def __init__(
        self, http: Any, workers: Workers, fingerprints: Fingerprinter | None = None
    ) -> None:
        self._redactor = Redactor(fingerprints)
        self._http = http
        self._workers = workers

    def collect(self, env_name: str, env: Environment) -> CollectorResult:
        """One ``probe/<name>`` resource per probe, or a collection error when unreachable."""
        result = CollectorResult()
        neutral = Neutralizer(
            project=env.project, project_number=env.project_number, name_map=env.name_map
        )
        # Each probe on a thread of its own, bounded in total: a server that trickles its answer
        # (each read within the timeout) cannot hold the run.
        futures = [(spec, start_bounded(partial(self._run, env_name, spec))) for spec in env.probes]
        for spec, future in futures:
            key = f"probe/{spec.name}"
            try:
                body = future.result(timeout=_total_time(spec))
            except ProbeUnreachable as exc:
                result.errors.append(
                    CollectionErrorRecord(source=SOURCE, resource=key, message=str(exc))
                )
                continue
            except TimeoutError:
                target = display_url(str(spec.websocket or spec.http))
                result.errors.append(
                    CollectionErrorRecord(
                        source=SOURCE,
                        resource=key,
                        message=f"{target}: no complete answer within {_total_time(spec):g} s",
                    )
                )
                continue
            result.resources[key] = normalize_probe(body, neutral, self._redactor)
        return result

    def _run(self, env_name: str, spec: ProbeSpec) -> dict[str, Any]:
        token = os.environ.get(spec.token_env) if spec.token_env else None
        body = (
            self._websocket(env_name, spec, token)
            if spec.websocket
            else self._health(env_name, spec, token)
        )
        return dict(_scrub(body, token))

    # WebSocket -------------------------------------------------------------------------------
    def _websocket(self, env_name: str, spec: ProbeSpec, token: str | None) -> dict[str, Any]:
        from websockets.exceptions import InvalidHandshake, InvalidStatus
        from websockets.sync.client import connect
        from websockets.typing import Subprotocol

        url = str(spec.websocket)
        offered = list(spec.subprotocols)
        headers: dict[str, str] = {}
        if token and spec.token_mode == "subprotocol":  # noqa: S105 - a mode name
            offered_with_token = [*offered, f"jwt.{token}"]
        else:
            offered_with_token = offered
            if token:
                headers["Authorization"] = f"Bearer {token}"
        body: dict[str, Any] = {"kind": "websocket", "offered": offered}
        defects: dict[str, dict[str, str]] = {}
        try:
            with connect(
                url,
                subprotocols=[Subprotocol(p) for p in offered_with_token] or None,
                additional_headers=headers or None,
                open_timeout=spec.timeout_seconds,
                close_timeout=1,
                proxy=None if _is_loopback(url) else True,
            ) as connection:
                response = connection.response
                assert response is not None  # noqa: S101 - set once the handshake succeeded
                body["handshake"] = "accepted"
                body["status"] = response.status_code
                body["subprotocol"] = connection.subprotocol
                body["headers"] = {
                    name: response.headers[name]
                    for name in HEADERS_OF_INTEREST
                    if name in response.headers
                }
                body["messages"], close_code = _first_messages(
                    connection, len(spec.expect_messages), spec.timeout_seconds
                )
                if close_code is not None:
                    body["close_code"] = close_code
        except InvalidStatus as exc:
            status = exc.response.status_code
            body.update(handshake="rejected", status=status)
            defects["handshake"] = _defect(
                "high",
                f"probe {spec.name}: the WebSocket handshake was rejected with HTTP "
                f"{status} in {env_name}",
            )
        except TimeoutError:
            raise ProbeUnreachable(
                f"{display_url(url)}: no WebSocket handshake within {spec.timeout_seconds:g} s"
            ) from None
        except (OSError, InvalidHandshake) as exc:
            raise ProbeUnreachable(
                f"{display_url(url)}: cannot connect ({type(exc).__name__})"
            ) from None
        if body.get("handshake") == "accepted":
            if offered and body.get("subprotocol") not in offered:
                defects["subprotocol"] = _defect(
                    "high",
                    f"probe {spec.name}: the server selected no offered subprotocol "
                    f"({', '.join(offered)}) in {env_name}",
                )
            missing = [m for m in spec.expect_messages if m not in body.get("messages", [])]
            if missing:
                defects["messages"] = _defect(
                    "high",
                    f"probe {spec.name}: no {', '.join(missing)} message within "
                    f"{spec.timeout_seconds:g} s in {env_name}",
                )
        body["defects"] = defects
        return body

    # HTTP health -----------------------------------------------------------------------------
    def _health(self, env_name: str, spec: ProbeSpec, token: str | None) -> dict[str, Any]:
        import httpx

        url = str(spec.http)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        started = time.perf_counter()
        try:
            response, content = _bounded_get(self._http, url, headers, spec.timeout_seconds)
        except _TooLarge:
            raise ProbeUnreachable(
                f"{display_url(url)}: the answer is larger than {MAX_ANSWER_BYTES} bytes"
            ) from None
        except httpx.TimeoutException:
            raise ProbeUnreachable(
                f"{display_url(url)}: no answer within {spec.timeout_seconds:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise ProbeUnreachable(
                f"{display_url(url)}: cannot connect ({type(exc).__name__})"
            ) from None
        latency_ms = round((time.perf_counter() - started) * 1000)
        # Latency varies by nature: it is judged against its limit, never written in the body.
        body: dict[str, Any] = {"kind": "http", "status": response.status_code}
        defects: dict[str, dict[str, str]] = {}
        if response.status_code != spec.expect_status:
            defects["status"] = _defect(
                "high",
                f"probe {spec.name}: HTTP {response.status_code}, expected "
                f"{spec.expect_status} in {env_name}",
            )
        try:
            document = json.loads(content)
        except (ValueError, UnicodeDecodeError, RecursionError):
            document = None  # not JSON, or nested past reason: no field to read
        fields = {name: _field(document, name) for name in spec.fields}
        body["fields"] = {
            name: value for name, value in fields.items() if not _is_measurement(name, value)
        }
        for name, value in sorted(fields.items()):
            # Whole words only: "cooldown-complete" and "no errors" are healthy.
            if isinstance(value, str) and DEGRADED_WORDS & set(
                re.findall(r"[a-z]+", value.lower())
            ):
                shown = scrub(value)
                defects[f"degraded:{name}"] = {
                    **_defect("high", f"probe {spec.name}: {name} is {shown!r} in {env_name}"),
                    "value": shown,
                }
        if spec.max_latency_ms is not None and latency_ms > spec.max_latency_ms:
            defects["latency"] = _defect(
                "medium",
                f"probe {spec.name}: answered slower than its limit of "
                f"{spec.max_latency_ms:g} ms in {env_name}",
            )
        body["defects"] = defects
        return body


_MEASUREMENT_WORDS = ("latency", "duration", "elapsed", "uptime", "timestamp", "response_time")


_MEASURED_TEXT = re.compile(
    r"^-?[0-9]+(\.[0-9]+)?\s*(ns|us|µs|ms|s|m|h|d|sec|secs|seconds|minutes|hours|days)?$"
    r"|^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.]+(Z|[+-][0-9:]+)?$",
    re.IGNORECASE,
)


def _is_measurement(name: str, value: Any) -> bool:
    """A value that varies by nature (a latency, an uptime, a clock reading), as a number or as
    text: recorded nowhere, so that two snapshots of an unchanged estate are identical."""
    last = name.rsplit(".", 1)[-1].lower()
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return False
    if isinstance(value, str) and not _MEASURED_TEXT.match(value.strip()):
        return False
    words = (*_MEASUREMENT_WORDS, "time", "date", "now", "clock", "age")
    return any(w in last for w in words) or last.endswith("_ms")


def _total_time(spec: ProbeSpec) -> float:
    """A probe's whole budget: the handshake or request, then the first messages."""
    return spec.timeout_seconds * 2 + 2


def _first_messages(connection: Any, wanted: int, timeout: float) -> tuple[list[str], int | None]:
    """Types of the first messages (JSON ``type`` field, else the text), and any close code."""
    from websockets.exceptions import ConnectionClosed

    types: list[str] = []
    deadline = time.monotonic() + timeout
    while len(types) < max(wanted, 0) and len(types) < _MAX_MESSAGES:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            message = connection.recv(timeout=remaining)
        except TimeoutError:
            break
        except ConnectionClosed as closed:
            return types, closed.rcvd.code if closed.rcvd else None
        types.append(_message_type(message))
    return types, None


MAX_ANSWER_BYTES = 1024 * 1024


class _TooLarge(Exception):
    """A health answer past MAX_ANSWER_BYTES (once decompressed)."""


def _bounded_get(http: Any, url: str, headers: dict[str, str], timeout: float) -> tuple[Any, bytes]:
    """GET ``url``, reading at most MAX_ANSWER_BYTES of its (decompressed) body."""
    with http.stream("GET", url, headers=headers, timeout=timeout) as response:
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise _TooLarge
            chunks.append(chunk)
    return response, b"".join(chunks)


def _message_type(message: str | bytes) -> str:
    if isinstance(message, bytes):
        return "<binary>"
    try:
        data = json.loads(message)
    except (ValueError, RecursionError):
        return message
    if isinstance(data, dict) and isinstance(data.get("type"), str):
        return str(data["type"])
    return "<json>"


def _field(document: Any, dotted: str) -> Any:
    node = document
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    if isinstance(node, str):
        return node
    return node if isinstance(node, int | float | bool) or node is None else "<complex>"


def collect_probes(context: CollectionContext, request: CollectRequest) -> CollectorResult:
    """Every probe the environment configures."""
    if not request.env.probes:
        return CollectorResult()
    collector = ProbeCollector(context.clients.http, context.workers, context.fingerprints)
    return collector.collect(request.env_name, request.env)
