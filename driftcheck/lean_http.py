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

import email.parser
import http.client
import os
import re
import select
import socket
import ssl
import threading
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from requests.structures import CaseInsensitiveDict

from driftcheck.concurrency import on_the_wire
from driftcheck.deadlines import MAX_EXCHANGE_BYTES, DeadlineSocket, deadline, remaining

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
_READ_SIZE = 64 * 1024
# What writing to, or reading from, a kept-alive connection the server closed while idle raises.
_CLOSED_WHILE_IDLE = (
    http.client.RemoteDisconnected,
    ConnectionResetError,
    BrokenPipeError,
    ssl.SSLEOFError,
    ssl.SSLZeroReturnError,
)


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """Whether an idle connection has anything to read: EOF, a reset, or bytes no request asked
    for (urllib3's is_connection_dropped). Such a connection is never reused."""
    sock: Any = conn.sock
    if sock is None:
        return True
    try:
        if isinstance(getattr(sock, "_sock", sock), ssl.SSLSocket) and sock.pending():
            return True
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


_MAX_LINE = 65536  # http.client's limits
_MAX_HEADERS = 100
# What the email parser takes for a header's name (printable ASCII but the colon, no space).
_HEADER_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")


class _Answer(http.client.HTTPResponse):
    """``http.client``'s response, its headers parsed without the email package (a tenth of a
    small call's CPU, spent while the call holds its slot). Header lines that are not plain
    ``Name: value`` (folded, or without a colon) go to the email parser as before."""

    def begin(self) -> None:
        # http.client.HTTPResponse.begin (Python 3.11), but for the header parser; called once,
        # by getresponse.
        while True:
            version, status, reason = self._read_status()  # type: ignore[attr-defined]
            if status != http.client.CONTINUE:
                break
            _header_lines(self.fp)  # an interim answer's headers: skipped
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        self.headers = self.msg = _parse_headers(_header_lines(self.fp))
        encoding = self.headers.get("transfer-encoding")
        self.chunked = bool(encoding and encoding.lower() == "chunked")
        if self.chunked:
            self.chunk_left = None
        self.will_close = self._check_close()  # type: ignore[attr-defined]
        self.length = None
        length = self.headers.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:
                    self.length = None
        if status in (204, 304) or 100 <= status < 200 or self._method == "HEAD":  # type: ignore[attr-defined]
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True


def _header_lines(fp: Any) -> list[bytes]:
    """The header lines of an answer, up to the blank line, within http.client's limits."""
    lines = []
    while True:
        line = fp.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise http.client.LineTooLong("header line")
        lines.append(line)
        if len(lines) > _MAX_HEADERS:
            raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")
        if line in (b"\r\n", b"\n", b""):
            return lines


def _parse_headers(lines: list[bytes]) -> http.client.HTTPMessage:
    """What ``http.client.parse_headers`` makes of ``lines``."""
    message = http.client.HTTPMessage()
    for raw in lines[:-1]:
        text = raw.decode("iso-8859-1")
        line = text[:-2] if text.endswith("\r\n") else text.removesuffix("\n")
        name, colon, value = line.partition(":")
        if not colon or _HEADER_NAME.fullmatch(name) is None or "\r" in value:
            # (the email parser also breaks lines at a lone CR)
            text = b"".join(lines).decode("iso-8859-1")
            return email.parser.Parser(_class=http.client.HTTPMessage).parsestr(text)
        message[name] = value.lstrip(" \t")
    message.set_payload("")
    return message


class _Connections:
    """Idle keep-alive connections per (scheme, host, port), most recently used first."""

    def __init__(self, cafile: str | None = None) -> None:
        self._idle: dict[tuple[str, str, int], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None
        self._cafile = cafile

    def take(self, scheme: str, host: str, port: int) -> tuple[http.client.HTTPConnection, bool]:
        """An idle connection (and True), or a new one not yet connected (and False)."""
        while True:
            with self._lock:
                idle = self._idle.get((scheme, host, port))
                conn = idle.pop() if idle else None
            if conn is None:
                break
            if not _dropped(conn):
                return conn, True
            conn.close()
        with self._lock:
            if scheme == "https" and self._tls is None:
                # The CA bundle requests verifies with (REQUESTS_CA_BUNDLE…, else certifi's).
                bundle = self._cafile or requests.utils.DEFAULT_CA_BUNDLE_PATH
                if os.path.isdir(bundle):
                    self._tls = ssl.create_default_context(capath=bundle)
                else:
                    self._tls = ssl.create_default_context(cafile=bundle)
        fresh: http.client.HTTPConnection
        if scheme == "https":
            fresh = http.client.HTTPSConnection(host, port, context=self._tls)
        else:
            fresh = http.client.HTTPConnection(host, port)
        fresh.response_class = _Answer
        return fresh, False

    def give_back(
        self, scheme: str, host: str, port: int, conn: http.client.HTTPConnection
    ) -> None:
        with self._lock:
            idle = self._idle.setdefault((scheme, host, port), [])
            if len(idle) < _IDLE_PER_HOST:
                idle.append(conn)
                return
        conn.close()


@dataclass(frozen=True)
class _Request:
    """One request ready to go out."""

    method: str
    origin: tuple[str, str, int]  # scheme, host, port
    target: str
    body: bytes | None
    headers: dict[str, Any]


class LeanSend(requests.Session):
    """``Session.request`` over ``http.client`` keep-alive connections (see the module)."""

    _lean_connections: _Connections | None = None
    _lean_lock = threading.Lock()

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
        """Send one request (see the module for what falls back to requests): on the wire in
        one of the run's slots, bounded in total time from the moment it goes out."""
        lean = self._lean_applies(url, data, kwargs)
        total = _total(timeout)
        if lean:
            # Built before the call takes its slot, and its answer turned into a response after
            # it has left it: the slot is held on the wire only.
            request = self._prepare(method, url, params, data, headers)
            with on_the_wire() as wire, deadline(total):
                answer, content = self._exchange(request)
                wire.ok = 200 <= answer.status < 300
            response = _response(method, url, request.headers, answer, content)
            if response.status_code not in _REDIRECTS or "Location" not in response.headers:
                return response
            # Google's APIs do not redirect; should one, requests follows it as it always did.
        with on_the_wire() as wire, deadline(total):
            sent = super().request(
                method, url, params=params, data=data, headers=headers, timeout=timeout, **kwargs
            )
            wire.ok = 200 <= sent.status_code < 300
            return sent

    def _prepare(self, method: str, url: str, params: Any, data: Any, headers: Any) -> _Request:
        parts = urlsplit(url)
        target = parts.path or "/"
        query = "&".join(q for q in (parts.query, _encode(params)) if q)
        if query:
            target += "?" + query
        merged: CaseInsensitiveDict[Any] = CaseInsensitiveDict(self.headers)
        merged.update(headers or {})  # case-insensitively, as requests merges them
        merged["Accept-Encoding"] = "gzip"
        sent = {name: value for name, value in merged.items() if value is not None}
        body = data.encode("utf-8") if isinstance(data, str) else data
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return _Request(method, (parts.scheme, parts.hostname or "", port), target, body, sent)

    def _lean_applies(self, url: str, data: Any, options: dict[str, Any]) -> bool:
        if any(options.get(name) is not None for name in _REQUESTS_ONLY):
            return False
        if options.get("allow_redirects") is False or getattr(self, "is_mtls", False):
            return False
        if self.proxies or self.cert or self.verify is not True:
            return False
        if not url.startswith(("http://", "https://")) or not isinstance(data, str | bytes | None):
            return False
        if "@" in url.split("/", 3)[2]:
            return False  # user info: requests sends it as Basic authentication
        # A proxy from the environment (HTTPS_PROXY…) is requests' to honour (the environment
        # is read once per scheme and host: it does not change during a run).
        if not self.trust_env:
            return True
        origin = "/".join(url.split("/", 3)[:3])
        proxied: dict[str, bool] = self.__dict__.setdefault("_lean_proxied", {})
        if origin not in proxied:
            proxied[origin] = bool(requests.utils.get_environ_proxies(url))
        return not proxied[origin]

    def _connections(self) -> _Connections:
        with self._lean_lock:
            if self._lean_connections is None:
                # requests' own choice (merge_environment_settings): the environment's bundle.
                cafile = None
                if self.trust_env:
                    cafile = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get(
                        "CURL_CA_BUNDLE"
                    )
                self._lean_connections = _Connections(cafile)
            return self._lean_connections

    def _exchange(self, request: _Request) -> tuple[http.client.HTTPResponse, bytes]:
        """Send ``request`` on a kept connection, taken now the call holds its slot (a
        connection with bytes waiting on it is never reused: see ``_dropped``), once more on a
        new one if the server had closed it while idle; the answer and its whole body."""
        connections = self._connections()
        conn, reused = connections.take(*request.origin)
        while True:
            connected = reused
            try:
                left = remaining()
                if left is not None and left <= 0:
                    raise TimeoutError
                if not reused:
                    conn.timeout = left  # connecting spends the exchange's deadline too
                    conn.connect()
                    connected = True
                    conn.sock = DeadlineSocket(conn.sock)
                # This exchange's timeout for every read and for sending (not the one the
                # connection was opened with, nor what the last read left on the socket).
                conn.sock.settimeout(left)
                conn.request(request.method, request.target, request.body, request.headers)
                answer = conn.getresponse()
                content = _read_all(answer)
            except _CLOSED_WHILE_IDLE as exc:
                conn.close()
                if reused:
                    # the server closed an idle connection: once more on a new one
                    conn, reused = connections.take(*request.origin)
                    continue
                raise requests.exceptions.ConnectionError(_reason(exc), request=None) from None
            except BaseException as exc:
                conn.close()
                raise _as_requests_error(exc, connected) from None
            break
        if answer.will_close or answer.status < 200:
            conn.close()  # after a 1xx taken for the answer, the real one is still to come
        else:
            connections.give_back(*request.origin, conn)
        return answer, content


def _read_all(answer: http.client.HTTPResponse) -> bytes:
    """The whole body, read in bounded pieces: http.client's read() allocates the announced
    Content-Length (or chunk size) at once, so that a lying header is a MemoryError."""
    parts = []
    while chunk := answer.read(_READ_SIZE):
        parts.append(chunk)
    if answer.length:  # the connection ended before Content-Length bytes came
        content = b"".join(parts)
        raise http.client.IncompleteRead(content, answer.length)
    return b"".join(parts)


def _encode(params: Any) -> str:
    """Query parameters as requests encodes them (a None value is left out)."""
    if not params:
        return ""
    pairs = list(params.items()) if isinstance(params, dict) else list(params)
    return urlencode([(k, v) for k, v in pairs if v is not None], doseq=True)


def _total(timeout: Any) -> float | None:
    """The exchange's whole time, from a requests timeout (a number or a (connect, read) pair)."""
    if isinstance(timeout, tuple):
        return sum(t for t in timeout if isinstance(t, int | float)) or None
    return float(timeout) if isinstance(timeout, int | float) else None


def _response(
    method: str,
    url: str,
    headers: dict[str, Any],
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
    response._content_consumed = True  # type: ignore[attr-defined]
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
    if isinstance(exc, OSError | http.client.HTTPException | MemoryError | OverflowError):
        return requests.exceptions.ConnectionError(_reason(exc))
    if isinstance(exc, ValueError):  # a header or URL http.client refuses to send
        return requests.exceptions.InvalidHeader(_reason(exc))
    return exc


def lean(session: Any) -> Any:
    """``session`` (an ``AuthorizedSession`` or any ``requests.Session``) sending through
    :class:`LeanSend` from now on."""
    kind = type(session)
    if not issubclass(kind, LeanSend):
        session.__class__ = type(f"Lean{kind.__name__}", (kind, LeanSend), {})
    return session
