"""A loopback fake of the few GitHub REST issue endpoints that ``driftcheck track`` calls.

Real HTTP on 127.0.0.1: list issues (paged with a Link header, pull requests mixed in, like
GitHub), create, update and comment. Every request is recorded with its Authorization header so
tests can prove which token was sent and that nothing else was.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

REPOSITORY = "acme/platform"
TOKEN = "ghs_faketoken0123456789abcdefghijklmnopqrstu"


@dataclass
class Recorded:
    """One request as the fake saw it."""

    method: str
    path: str
    authorization: str
    body: Any


@dataclass
class FakeGitHubState:
    """Issues (number -> issue JSON), comments (number -> bodies), requests seen."""

    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[str]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    page_size: int = 2
    fail_status: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, title: str, body: str, *, pull_request: bool = False, state: str = "open") -> int:
        """Seed an issue (or pull request); its number."""
        number = len(self.issues) + 1
        issue: dict[str, Any] = {"number": number, "title": title, "body": body, "state": state}
        if pull_request:
            issue["pull_request"] = {"url": f"https://example.invalid/pulls/{number}"}
        self.issues[number] = issue
        return number

    def open_issues(self) -> list[dict[str, Any]]:
        """Open issues that are not pull requests."""
        return [i for i in self.issues.values() if i["state"] == "open" and "pull_request" not in i]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: FakeGitHubState


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def do_PATCH(self) -> None:  # noqa: N802
        self._serve("PATCH")

    def _serve(self, method: str) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        with state.lock:
            state.requests.append(
                Recorded(method, self.path, self.headers.get("Authorization", ""), body)
            )
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._send(401, {"message": "Bad credentials"})
                return
            if state.fail_status is not None:
                self._send(state.fail_status, {"message": "Validation Failed"})
                return
            self._route(method, url.path, parse_qs(url.query), body)

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> None:
        state = self.server.state
        base = f"/repos/{REPOSITORY}/issues"
        one = re.fullmatch(rf"{re.escape(base)}/(\d+)", path)
        comments = re.fullmatch(rf"{re.escape(base)}/(\d+)/comments", path)
        if path == base and method == "GET":
            wanted = (query.get("state") or ["open"])[0]
            listed = [i for i in state.issues.values() if i["state"] == wanted]
            page = int((query.get("page") or ["1"])[0])
            size = state.page_size
            chunk = listed[(page - 1) * size : page * size]
            headers = {}
            if page * size < len(listed):
                host, port = self.server.server_address[:2]
                nxt = f"http://{host!s}:{port}{base}?state={wanted}&per_page={size}&page={page + 1}"
                headers["Link"] = f'<{nxt}>; rel="next"'
            self._send(200, chunk, headers)
        elif path == base and method == "POST":
            number = state.add(body["title"], body["body"])
            state.issues[number]["labels"] = body.get("labels", [])
            self._send(201, state.issues[number])
        elif one and method == "PATCH" and int(one.group(1)) in state.issues:
            issue = state.issues[int(one.group(1))]
            issue.update(body)
            self._send(200, issue)
        elif comments and method == "POST" and int(comments.group(1)) in state.issues:
            state.comments.setdefault(int(comments.group(1)), []).append(body["body"])
            self._send(201, {"id": 1, "body": body["body"]})
        else:
            self._send(404, {"message": "Not Found"})

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


@dataclass
class FakeGitHub:
    """A running fake: its API URL and state."""

    url: str
    state: FakeGitHubState

    def environ(self) -> dict[str, str]:
        """The variables a GitHub job gives ``driftcheck track``."""
        return {
            "GITHUB_API_URL": self.url,
            "GITHUB_TOKEN": TOKEN,
            "GITHUB_REPOSITORY": REPOSITORY,
        }


@contextmanager
def fake_github() -> Iterator[FakeGitHub]:
    """A fake GitHub API on 127.0.0.1, shut down afterwards."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.state = FakeGitHubState()
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield FakeGitHub(f"http://{host!s}:{port}", server.state)
    finally:
        server.shutdown()
        server.server_close()
