"""A loopback WebSocket and health server for probe tests and the demo.

Routes (the path decides the behaviour):
  /echo/ws       selects the first offered subprotocol, sends {"type": "connection_established"}
  /noecho/ws     selects no subprotocol (the incident's proxy), sends the same message
  /echotoken/ws  selects the "jwt.<token>" subprotocol: a server that echoes the token back
  /reject/ws     refuses the handshake with HTTP 401
  /health/ok     {"status": "ok", "dependencies": {...ok...}}
  /health/degraded  Redis reported degraded
  /health/slow   answers after a delay
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from websockets.typing import Subprotocol

HEALTHY = {
    "status": "ok",
    "dependencies": {
        "redis": {"status": "ok", "latency_ms": 2},
        "postgres": {"status": "ok", "latency_ms": 4},
    },
}
DEGRADED = {
    "status": "ok, degraded",
    "dependencies": {
        "redis": {"status": "degraded", "latency_ms": 950},
        "postgres": {"status": "ok", "latency_ms": 5},
    },
}


class ProbeServer:
    """Serves the routes above on 127.0.0.1 in a background thread; a context manager."""

    def __init__(self, slow_seconds: float = 0.5) -> None:
        from websockets.sync.server import serve

        self.slow_seconds = slow_seconds
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._server = serve(
            self._handle,
            "127.0.0.1",
            0,
            select_subprotocol=self._select,
            process_request=self._process_request,
            server_header="driftcheck-probe-server",
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        """The TCP port."""
        return int(self._server.socket.getsockname()[1])

    def url(self, scheme: str, path: str) -> str:
        """``ws://127.0.0.1:<port><path>`` or ``http://…``."""
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def _select(self, connection: Any, offered: Sequence[Subprotocol]) -> Subprotocol | None:
        if connection.request.path.startswith("/echo/"):
            return next((p for p in offered if not p.startswith("jwt.")), None)
        if connection.request.path.startswith("/echotoken/"):
            return next((p for p in offered if p.startswith("jwt.")), None)
        return None

    def _process_request(self, connection: Any, request: Any) -> Any:
        self.requests.append((request.path, dict(request.headers.raw_items())))
        if request.path.startswith("/health/"):
            if request.path == "/health/slow":
                time.sleep(self.slow_seconds)
            body = DEGRADED if request.path == "/health/degraded" else HEALTHY
            response = connection.respond(HTTPStatus.OK, json.dumps(body))
            response.headers["Content-Type"] = "application/json"
            return response
        if request.path.startswith("/reject/"):
            return connection.respond(HTTPStatus.UNAUTHORIZED, "unauthorized\n")
        return None

    def _handle(self, connection: Any) -> None:
        connection.send(json.dumps({"type": "connection_established"}))
        try:
            for _message in connection:
                pass
        except Exception:  # noqa: BLE001, S110 - a probe hanging up is the normal end
            return

    def start(self) -> ProbeServer:
        """Start serving."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()

    def __enter__(self) -> ProbeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
