"""The HTTP exchange under the REST transports (``driftcheck.lean_http``), against real servers
on 127.0.0.1: what requests did (credentials, token refresh, gzip, redirects, proxies, its
exceptions) still happens, on keep-alive connections."""

from __future__ import annotations

import gzip
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from google.auth.credentials import Credentials
from google.auth.transport.requests import AuthorizedSession

from driftcheck import lean_http
from driftcheck.lean_http import lean
from tests.httpserver import running


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, behave: Any) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.behave = behave
        self.seen: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: some tests break the exchange on purpose."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as Google's front ends

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self.server.seen.append(
            {"path": self.path, "peer": self.client_address[1], "headers": dict(self.headers)}
        )
        status, headers, body = self.server.behave(self)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _serving(behave: Any) -> AbstractContextManager[_Server]:
    return running(_Server(behave))


def _ok(_handler: Any) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "application/json"}, b'{"ok": true}'


class _Token(Credentials):
    """Credentials whose token changes on each refresh; the server may refuse the first."""

    def __init__(self) -> None:
        super().__init__()
        self.token = "token-0"
        self.refreshes = 0

    def refresh(self, request: Any) -> None:
        self.refreshes += 1
        self.token = f"token-{self.refreshes}"

    @property
    def expired(self) -> bool:
        return False

    @property
    def valid(self) -> bool:
        return True


def _session(credentials: Any = None) -> Any:
    session = lean(AuthorizedSession(credentials or _Token()))
    session.trust_env = False
    return session


def test_calls_share_a_connection_and_carry_credentials_and_parameters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def through_requests(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("sent through requests' adapter")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", through_requests)
    with _serving(_ok) as server:
        session = _session()
        first = session.get(f"{server.url}/v2/a", params=[("view", "FULL"), ("x", "a b")])
        second = session.get(f"{server.url}/v2/b", headers={"X-Goog-Api-Client": "gapic"})
    assert isinstance(first, requests.Response)
    assert (first.status_code, first.json(), second.json()) == (200, {"ok": True}, {"ok": True})
    assert first.request.method == "GET" and first.request.url == f"{server.url}/v2/a"
    assert [seen["path"] for seen in server.seen] == ["/v2/a?view=FULL&x=a+b", "/v2/b"]
    assert server.seen[0]["peer"] == server.seen[1]["peer"]  # one keep-alive connection
    assert server.seen[0]["headers"]["authorization"] == "Bearer token-0"
    assert server.seen[1]["headers"]["X-Goog-Api-Client"] == "gapic"


def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    def close_after(handler: Any) -> tuple[int, dict[str, str], bytes]:
        handler.close_connection = True  # without saying so: the client finds out on reuse
        return _ok(handler)

    with _serving(close_after) as server:
        session = _session()
        answers = [session.get(f"{server.url}/v2/{n}").status_code for n in range(3)]
    assert answers == [200, 200, 200]
    assert len({seen["peer"] for seen in server.seen}) == 3


def test_a_refused_token_is_refreshed_once_by_google_auth() -> None:
    def refuse_first(handler: Any) -> tuple[int, dict[str, str], bytes]:
        if handler.headers["Authorization"] == "Bearer token-0":
            return 401, {}, b'{"error": {"message": "expired"}}'
        return _ok(handler)

    credentials = _Token()
    with _serving(refuse_first) as server:
        response = _session(credentials).get(f"{server.url}/v2/x")
    assert (response.status_code, credentials.refreshes) == (200, 1)
    assert [seen["headers"]["authorization"] for seen in server.seen] == [
        "Bearer token-0",
        "Bearer token-1",
    ]


def test_a_gzip_answer_is_decoded_and_one_that_expands_past_the_limit_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    document = json.dumps({"services": ["s"] * 2000}).encode()

    def zipped(_handler: Any) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Encoding": "gzip"}, gzip.compress(document)

    with _serving(zipped) as server:
        session = _session()
        assert session.get(f"{server.url}/v2/x").content == document
        assert server.seen[0]["headers"]["Accept-Encoding"] == "gzip"
        monkeypatch.setattr(lean_http, "MAX_EXCHANGE_BYTES", 1000)
        with pytest.raises(requests.exceptions.ConnectionError, match="larger than 1000 bytes"):
            session.get(f"{server.url}/v2/x")


def test_a_redirect_is_followed_as_requests_follows_it() -> None:
    def moved(handler: Any) -> tuple[int, dict[str, str], bytes]:
        if handler.path == "/old":
            return 302, {"Location": "/new"}, b""
        return _ok(handler)

    with _serving(moved) as server:
        response = _session().get(f"{server.url}/old")
    assert (response.status_code, response.url) == (200, f"{server.url}/new")


def test_a_proxy_in_the_environment_is_used_through_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with _serving(_ok) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        session = lean(AuthorizedSession(_Token()))  # trust_env, as for Google's endpoints
        response = session.get("http://run.example.invalid/v2/projects")
    assert response.status_code == 200
    assert [seen["path"] for seen in proxy.seen] == ["http://run.example.invalid/v2/projects"]


def test_failures_are_the_exceptions_requests_raised() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(requests.exceptions.ConnectionError):
        _session().get(f"http://127.0.0.1:{port}/v2/x", timeout=5)

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        with pytest.raises(requests.exceptions.ReadTimeout):
            _session().get(f"http://127.0.0.1:{silent.getsockname()[1]}/v2/x", timeout=0.3)
    finally:
        silent.close()

    def garbage(handler: Any) -> tuple[int, dict[str, str], bytes]:
        handler.wfile.write(b"NOT HTTP AT ALL\r\n\r\n")
        handler.wfile.flush()
        handler.close_connection = True
        raise ConnectionAbortedError

    with _serving(garbage) as server, pytest.raises(requests.exceptions.ConnectionError):
        _session().get(f"{server.url}/v2/x", timeout=5)


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "driftcheck test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_https_is_verified_against_requests_ca_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert_path, key_path = _certificate(tmp_path)
    with _serving(_ok) as server:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert_path, key_path)
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        url = server.url.replace("http://", "https://")
        # Not in the bundle: refused, as requests refuses it.
        with pytest.raises(requests.exceptions.SSLError):
            _session().get(f"{url}/v2/x", timeout=5)
        assert server.seen == []
        monkeypatch.setattr(requests.utils, "DEFAULT_CA_BUNDLE_PATH", str(cert_path))
        session = _session()
        answers = [session.get(f"{url}/v2/{n}", timeout=5).json() for n in range(2)]
    assert answers == [{"ok": True}, {"ok": True}]
    assert len({seen["peer"] for seen in server.seen}) == 1  # one TLS connection, kept alive


@contextmanager
def _raw_server(answer: Any) -> Iterator[str]:
    """A server on 127.0.0.1 that calls ``answer(connection, request_line)`` for each request
    read, writing whatever bytes it likes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def serve(conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffer:
                    try:
                        data = conn.recv(65536)
                    except OSError:  # closed by ``answer``
                        return
                    if not data:
                        return
                    buffer += data
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                answer(conn, head.split(b"\r\n", 1)[0].decode())

    def accept() -> None:
        while True:
            try:
                conn, _peer = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def _answer(conn: socket.socket, body: bytes, extra: bytes = b"") -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s%s" % (len(body), body, extra))


def test_bytes_after_an_answer_never_become_the_next_answer() -> None:
    forged = b'{"name": "FORGED"}'

    def answer(conn: socket.socket, line: str) -> None:
        path = line.split()[1].encode()
        stray = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(forged), forged)
        _answer(conn, b'{"for": "%s"}' % path, stray if b"first" in path else b"")

    with _raw_server(answer) as url:
        session = _session()
        first = session.get(f"{url}/first", timeout=5).json()
        time.sleep(0.1)  # the stray bytes have arrived on the idle connection
        second = session.get(f"{url}/second", timeout=5).json()
    assert (first, second) == ({"for": "/first"}, {"for": "/second"})


def test_bytes_arriving_while_a_call_waits_for_its_slot_never_become_its_answer() -> None:
    # The connection is taken before the call waits for a slot and the limiter: it is looked
    # at again once they are held, just before the request goes out on it.
    from driftcheck.concurrency import RateLimiter, Slots, calls_through

    forged = b'{"name": "FORGED"}'

    def answer(conn: socket.socket, line: str) -> None:
        path = line.split()[1].encode()
        _answer(conn, b'{"for": "%s"}' % path)
        if b"first" in path:

            def later() -> None:
                time.sleep(0.3)  # while the next call waits for its slot
                stray = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                conn.sendall(stray % (len(forged), forged))

            threading.Thread(target=later, daemon=True).start()

    slots = Slots(1)
    with _raw_server(answer) as url:
        session = _session()
        first = session.get(f"{url}/first", timeout=5).json()
        slots.acquire()  # another call holds the only slot for a while
        threading.Timer(0.6, slots.release).start()
        with calls_through(slots, RateLimiter(10_000)):
            second = session.get(f"{url}/second", timeout=5).json()
    assert (first, second) == ({"for": "/first"}, {"for": "/second"})


def test_an_answer_announcing_a_huge_body_is_a_connection_error() -> None:
    def answer(conn: socket.socket, _line: str) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n{}")
        conn.close()

    with _raw_server(answer) as url, pytest.raises(requests.exceptions.RequestException):
        _session().get(f"{url}/x", timeout=5)


def test_each_call_on_a_kept_connection_has_its_own_timeout() -> None:
    def answer(conn: socket.socket, line: str) -> None:
        if "slow" in line:
            time.sleep(0.6)
        _answer(conn, b"{}")

    with _raw_server(answer) as url:
        session = _session()
        session.get(f"{url}/fast", timeout=0.3)  # opens the connection with a short timeout
        assert session.get(f"{url}/slow", timeout=5).status_code == 200


def test_the_environment_ca_bundle_is_honoured_as_requests_honours_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert_path, key_path = _certificate(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert_path))
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    with _serving(_ok) as server:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert_path, key_path)
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        session = lean(AuthorizedSession(_Token()))  # trust_env, as for Google's endpoints
        url = server.url.replace("http://", "https://")
        assert session.get(f"{url}/v2/x", timeout=5).json() == {"ok": True}
