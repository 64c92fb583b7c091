"""Shared fixtures: a network kill switch, the fingerprint key, emulators, and the CLI."""

from __future__ import annotations

import ipaddress
import shutil
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright

from driftcheck.cli import main
from driftcheck.emulator import EmulatorServer
from driftcheck.emulator.scenario import Scenario
from tests.factories import write_config

TEST_KEY = "test-fingerprint-key-0123456789"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless Debian Chromium as root, with no background traffic to Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _is_loopback(address: Any) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return False
    if host == "localhost" or isinstance(address, str):  # AF_UNIX paths are local
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class NetworkRefused(OSError):
    """Raised when a test tries to reach anything but loopback."""


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse every connection and name lookup outside 127.0.0.0/8 and ::1."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def guarded_connect(self: socket.socket, address: Any) -> None:
        if not _is_loopback(address):
            raise NetworkRefused(f"test tried to connect to {address!r}")
        real_connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        if not _is_loopback(address):
            raise NetworkRefused(f"test tried to connect to {address!r}")
        return real_connect_ex(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _is_loopback((host, 0)):
            raise NetworkRefused(f"test tried to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with the test key and no endpoint or config variables of the caller."""
    for name in (
        "DRIFTCHECK_RUN_ENDPOINT",
        "DRIFTCHECK_SECRETMANAGER_ENDPOINT",
        "DRIFTCHECK_VPCACCESS_ENDPOINT",
        "DRIFTCHECK_REDIS_ENDPOINT",
        "DRIFTCHECK_SQLADMIN_ENDPOINT",
        "DRIFTCHECK_CONFIG",
        "GOOGLE_APPLICATION_CREDENTIALS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DRIFTCHECK_FINGERPRINT_KEY", TEST_KEY)


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Scenario], EmulatorServer]]:
    """Start emulators for scenarios and point driftcheck's clients at the latest one."""
    started: list[EmulatorServer] = []

    def start(scenario: Scenario) -> EmulatorServer:
        server = EmulatorServer(scenario).start()
        started.append(server)
        monkeypatch.setenv("DRIFTCHECK_RUN_ENDPOINT", server.url)
        monkeypatch.setenv("DRIFTCHECK_SECRETMANAGER_ENDPOINT", server.url)
        for api in ("VPCACCESS", "REDIS", "SQLADMIN"):
            monkeypatch.setenv(f"DRIFTCHECK_{api}_ENDPOINT", server.url)
        return server

    yield start
    for server in started:
        server.stop()


@dataclass
class CliResult:
    """What a CLI run produced."""

    code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run the real entry point in-process and capture its exit code and streams."""

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = 0
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return CliResult(code=code, stdout=captured.out, stderr=captured.err)

    return run


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One real headless Chromium for the whole session."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A folder with a driftcheck.yaml for production and staging."""
    write_config(tmp_path)
    return tmp_path
