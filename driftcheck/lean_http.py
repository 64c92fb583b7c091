"""The HTTP exchange under the google-cloud REST transports, without requests' per-call cost.

The generated REST transports (and google-auth's ``AuthorizedSession`` they send through) call
``session.request(method, url, params=…, data=…, headers=…, timeout=…)``. requests spends most
of a small call's CPU preparing it (cookies, hooks, settings merged from the environment) and
urllib3 adds its own layers; with thousands of IAM reads a run, that CPU, not the network, set
the pace. :class:`LeanSend` sits below ``AuthorizedSession`` in the class hierarchy, so
credentials, token refresh on 401 and logging stay google-auth's, and sends the same request
with ``http.client`` over a small pool of keep-alive connections whose sockets read under the
exchange's deadline (see ``deadlines``).

What it does not handle goes through requests as before: a proxy from the environment, client
certificates (mTLS), custom verification, streaming or any other requests option. Its answers
are ``requests.Response`` objects and its failures requests' exceptions, so that the transports,
google-api-core's error mapping and driftcheck's retry policy see exactly what they saw before.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import zlib
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from requests.structures import CaseInsensitiveDict

from driftcheck.deadlines import MAX_EXCHANGE_BYTES, DeadlineSocket, deadline

# Options of ``Session.request`` that only requests itself handles.
_REQUESTS_ONLY = (
    "files",
    "json",
    "auth",
    "cookies",
    "proxies",
    "stream",
    "verify",
    "cert",
    "hooks",
)
_IDLE_PER_HOST = 256  # the highest concurrency the config allows
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class _Connections:
    """Idle keep-alive connections per (scheme, host, port), most recently used first."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, str, int], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None

    def take(self, scheme: str, host: str, port: int) -> tuple[http.client.HTTPConnection, bool]:
        """An idle connection (and True), or a new one not yet connected (and False)."""
        with self._lock:
            idle = self._idle.get((scheme, host, port))
            if idle:
                return idle.pop(), True
            if scheme == "https" and self._tls is None:
                # The CA bundle requests verifies with (certifi's).
                self._tls = ssl.create_default_context(cafile=requests.utils.DEFAULT_CA_BUNDLE_PATH)
        if scheme == "https":
            return http.client.HTTPSConnection(host, port, context=self._tls), False
        return http.client.HTTPConnection(host, port), False

    def give_back(
        self, scheme: str, host: str, port: int, conn: http.client.HTTPConnection
    ) -> None:
        with self._lock:
            idle = self._idle.setdefault((scheme, host, port), [])
            if len(idle) < _IDLE_PER_HOST:
                idle.append(conn)
                return
        conn.close()


class LeanSend(requests.Session):
    """``Session.request`` over ``http.client`` keep-alive connections (see the module)."""

    _lean_connections: _Connections | None = None
    _lean_lock = threading.Lock()
    _lean_proxied: dict[str, bool] = {}  # noqa: RUF012 - per host, the same for every session

    def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request; see the module for what falls back to requests."""
        if not self._lean_applies(url, data, kwargs):
            return super().request(
                method, url, params=params, data=data, headers=headers, timeout=timeout, **kwargs
            )
        parts = urlsplit(url)
        target = parts.path or "/"
        query = "&".join(q for q in (parts.query, _encode(params)) if q)
        if query:
            target += "?" + query
        merged = {**self.headers, **(headers or {})}
        sent = {name: value for name, value in merged.items() if value is not None}
        sent["Accept-Encoding"] = "gzip"
        body = data.encode("utf-8") if isinstance(data, str) else data
        total = _total(timeout)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        with deadline(total):
            response = self._exchange(
                method, parts.scheme, parts.hostname or "", port, target, body, sent, url, total
            )
        if response.status_code in _REDIRECTS and "Location" in response.headers:
            # Google's APIs do not redirect; should one, requests follows it as it always did.
            return super().request(
                method, url, params=params, data=data, headers=headers, timeout=timeout, **kwargs
            )
        return response

    def _lean_applies(self, url: str, data: Any, options: dict[str, Any]) -> bool:
        if any(options.get(name) is not None for name in _REQUESTS_ONLY):
            return False
        if options.get("allow_redirects") is False or getattr(self, "is_mtls", False):
            return False
        if self.proxies or self.cert or self.verify is not True:
            return False
        if not url.startswith(("http://", "https://")) or not isinstance(data, str | bytes | None):
            return False
        # A proxy from the environment (HTTPS_PROXY…) is requests' to honour (the environment
        # is read once per host: it does not change during a run).
        if not self.trust_env:
            return True
        host = url.split("/", 3)[2]
        proxied = self._lean_proxied.get(host)
        if proxied is None:
            proxied = self._lean_proxied[host] = bool(requests.utils.get_environ_proxies(url))
        return not proxied

    def _connections(self) -> _Connections:
        with self._lean_lock:
            if self._lean_connections is None:
                self._lean_connections = _Connections()
            return self._lean_connections

    def _exchange(
        self,
        method: str,
        scheme: str,
        host: str,
        port: int,
        target: str,
        body: bytes | None,
        headers: dict[str, str],
        url: str,
        total: float | None,
    ) -> requests.Response:
        connections = self._connections()
        while True:
            conn, reused = connections.take(scheme, host, port)
            connected = reused
            try:
                if not reused:
                    conn.timeout = total
                    conn.connect()
                    connected = True
                    conn.sock = DeadlineSocket(conn.sock)
                conn.request(method, target, body=body, headers=headers)
                answer = conn.getresponse()
                content = answer.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                conn.close()
                if reused:
                    continue  # the server closed an idle connection: once more on a new one
                raise requests.exceptions.ConnectionError(_reason(exc), request=None) from None
            except BaseException as exc:
                conn.close()
                raise _as_requests_error(exc, connected) from None
            break
        if answer.will_close:
            conn.close()
        else:
            connections.give_back(scheme, host, port, conn)
        return _response(method, url, headers, answer, content)


def _encode(params: Any) -> str:
    if not params:
        return ""
    return urlencode(list(params.items()) if isinstance(params, dict) else params, doseq=True)


def _total(timeout: Any) -> float | None:
    """The exchange's whole time, from a requests timeout (a number or a (connect, read) pair)."""
    if isinstance(timeout, tuple):
        return sum(t for t in timeout if isinstance(t, int | float)) or None
    return float(timeout) if isinstance(timeout, int | float) else None


def _response(
    method: str,
    url: str,
    headers: dict[str, str],
    answer: http.client.HTTPResponse,
    content: bytes,
) -> requests.Response:
    """The answer as requests would have returned it (status, headers, decoded body)."""
    response = requests.Response()
    response.status_code = answer.status
    response.reason = answer.reason
    response.headers = CaseInsensitiveDict(answer.getheaders())
    if response.headers.get("Content-Encoding", "").lower() == "gzip":
        content = _gunzip(content)
    response._content = content
    response.url = url
    response.encoding = requests.utils.get_encoding_from_headers(response.headers)
    prepared = requests.PreparedRequest()
    prepared.method, prepared.url, prepared.headers = method, url, CaseInsensitiveDict(headers)
    response.request = prepared
    return response


def _gunzip(content: bytes) -> bytes:
    """A gzip body, decoded no further than MAX_EXCHANGE_BYTES (a small bomb stays small)."""
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        plain = decoder.decompress(content, MAX_EXCHANGE_BYTES)
    except zlib.error:
        raise requests.exceptions.ContentDecodingError(
            "the answer's gzip body is corrupt"
        ) from None
    if decoder.unconsumed_tail:
        raise requests.exceptions.ConnectionError(
            f"the answer is larger than {MAX_EXCHANGE_BYTES} bytes"
        )
    return plain


def _reason(exc: BaseException) -> str:
    return type(exc).__name__


def _as_requests_error(exc: BaseException, connected: bool) -> BaseException:
    """The requests exception a failed exchange raised through requests would have been."""
    if isinstance(exc, socket.timeout | TimeoutError):
        if not connected:
            return requests.exceptions.ConnectTimeout(_reason(exc))
        return requests.exceptions.ReadTimeout(_reason(exc))
    if isinstance(exc, ssl.SSLError):
        return requests.exceptions.SSLError(_reason(exc))
    if isinstance(exc, http.client.IncompleteRead):
        return requests.exceptions.ChunkedEncodingError(_reason(exc))
    if isinstance(exc, OSError | http.client.HTTPException):
        return requests.exceptions.ConnectionError(_reason(exc))
    return exc


def lean(session: Any) -> Any:
    """``session`` (an ``AuthorizedSession`` or any ``requests.Session``) sending through
    :class:`LeanSend` from now on."""
    kind = type(session)
    if not issubclass(kind, LeanSend):
        session.__class__ = type(f"Lean{kind.__name__}", (kind, LeanSend), {})
    return session
