"""The test suite's kill switch: nothing but loopback can be reached from a test."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult, NetworkRefused


def test_connection_outside_loopback_is_refused() -> None:
    with socket.socket() as sock, pytest.raises(NetworkRefused):
        sock.connect(("192.0.2.1", 443))


def test_name_lookup_is_refused() -> None:
    with pytest.raises(NetworkRefused):
        socket.getaddrinfo("run.googleapis.com", 443)


def test_public_endpoint_without_emulator_is_never_contacted(
    run_cli: Callable[..., CliResult], workdir: Path
) -> None:
    """Without emulator variables driftcheck would use Google; here it cannot, and says so."""
    result = run_cli("--config", str(workdir / "driftcheck.yaml"), "collect", "production")
    assert result.code in (2, 3)
    assert "Traceback" not in result.stderr
