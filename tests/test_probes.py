"""Live behaviour probes against real WebSocket and HTTP servers on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from driftcheck.baseline import read_snapshot
from driftcheck.emulator import EmulatorServer
from driftcheck.emulator.probes import ProbeServer
from driftcheck.emulator.scenario import Scenario
from driftcheck.model import DriftReport, Evidence, Finding
from tests.conftest import CliResult
from tests.factories import PROD, STAGING, project, scenario, service, write_config

Start = Callable[[Scenario], EmulatorServer]
Run = Callable[..., CliResult]
TOKEN = "canary-probe-token-7f3e9a1b2c4d"


@pytest.fixture
def probes() -> Iterator[ProbeServer]:
    with ProbeServer(slow_seconds=0.3) as server:
        yield server


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A server that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


@pytest.fixture(autouse=True)
def estate(emulator: Start) -> EmulatorServer:
    return emulator(
        scenario(
            projects={
                PROD: project([service("backend")], "1"),
                STAGING: project([service("backend", STAGING)], "2"),
            }
        )
    )


def ws_probe(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "backend-ws",
        "websocket": url,
        "subprotocols": ["jwt-auth"],
        "expect_messages": ["connection_established"],
        "timeout_seconds": 1,
        **extra,
    }


def health_probe(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "backend-health",
        "http": url,
        "timeout_seconds": 1,
        "fields": ["status", "dependencies.redis.status", "dependencies.redis.latency_ms"],
        "max_latency_ms": 1000,
        **extra,
    }


def configure(
    tmp_path: Path, production: list[dict[str, Any]], staging: list[dict[str, Any]]
) -> Path:
    return write_config(
        tmp_path,
        environments={
            "production": {"project": PROD, "regions": ["us-central1"], "probes": production},
            "staging": {"project": STAGING, "regions": ["us-central1"], "probes": staging},
        },
    )


def check(run_cli: Run, config: Path, env: str = "staging") -> tuple[CliResult, DriftReport]:
    if not (config.parent / "baselines" / "production.yaml").exists():
        made = run_cli("--config", str(config), "baseline", "production")
        assert made.code == 0, made.stderr
    result = run_cli("--config", str(config), "check", env, "--against", "production")
    report = DriftReport.model_validate_json(
        (config.parent / "reports" / f"{env}-vs-production.json").read_text()
    )
    return result, report


def by_path(report: DriftReport) -> dict[str, Finding]:
    return {f.path: f for f in report.findings if f.resource.startswith("probe/")}


def evidence(finding: Finding) -> dict[str, Evidence]:
    """The observations merged into ``finding`` (one fact, one finding), by path."""
    return {e.path: e for e in finding.evidence}


def test_echoing_production_and_non_echoing_staging(
    probes: ProbeServer, run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("E2E_FALLBACK_JWT", TOKEN)
    config = configure(
        tmp_path,
        [ws_probe(probes.url("ws", "/echo/ws"), token_env="E2E_FALLBACK_JWT")],
        [ws_probe(probes.url("ws", "/noecho/ws"), token_env="E2E_FALLBACK_JWT")],
    )
    result, report = check(run_cli, config)
    assert result.code == 1
    # One fact, one finding: the violation leads, the differences are its evidence.
    (finding,) = by_path(report).values()
    assert finding.path == "defects.subprotocol"
    assert finding.kind.value == "violation" and finding.severity.value == "high"
    assert "selected no offered subprotocol" in finding.message
    assert finding.message.endswith("(and 2 related observations)")
    seen = evidence(finding)
    assert set(seen) == {"defects.subprotocol", "subprotocol", "headers.sec-websocket-protocol"}
    assert seen["subprotocol"].severity.value == "high"
    assert seen["subprotocol"].baseline == "jwt-auth" and seen["subprotocol"].actual is None
    assert seen["headers.sec-websocket-protocol"].baseline == "jwt-auth"
    assert any(path == "/echo/ws" for path, _headers in probes.requests)
    outputs = result.stderr + "".join(
        p.read_text()
        for p in tmp_path.rglob("*.*")
        if p.suffix in (".json", ".yaml", ".md", ".html")
    )
    assert TOKEN not in outputs


def test_token_as_bearer_header(
    probes: ProbeServer, run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("E2E_FALLBACK_JWT", TOKEN)
    probe = ws_probe(
        probes.url("ws", "/echo/ws"), token_env="E2E_FALLBACK_JWT", token_mode="bearer"
    )
    config = configure(tmp_path, [probe], [probe])
    result, _report = check(run_cli, config)
    assert result.code == 0
    headers = [h for path, h in probes.requests if path == "/echo/ws"]
    assert headers and all(h.get("Authorization") == f"Bearer {TOKEN}" for h in headers)


def test_rejected_handshake_is_a_violation_not_a_crash(
    probes: ProbeServer, run_cli: Run, tmp_path: Path
) -> None:
    config = configure(
        tmp_path,
        [ws_probe(probes.url("ws", "/echo/ws"))],
        [ws_probe(probes.url("ws", "/reject/ws"))],
    )
    result, report = check(run_cli, config)
    assert result.code == 1
    finding = by_path(report)["defects.handshake"]
    assert finding.severity.value == "high"
    assert "rejected with HTTP 401" in finding.message
    assert "handshake" not in by_path(report)  # merged into the violation, not a second finding
    assert evidence(finding)["handshake"].actual == "rejected"
    assert evidence(finding)["status"].actual == 401
    # What the connection would have shown follows from the rejection: one fact, one finding.
    assert [f.path for f in report.findings if f.active] == ["defects.handshake"]
    assert {"subprotocol", "messages"} <= set(evidence(finding))
    assert any(path.startswith("headers") for path in evidence(finding))


def test_server_that_never_answers_makes_the_run_incomplete(
    probes: ProbeServer, silent_port: int, run_cli: Run, tmp_path: Path
) -> None:
    config = configure(
        tmp_path,
        [ws_probe(probes.url("ws", "/echo/ws"))],
        [
            ws_probe(f"ws://127.0.0.1:{silent_port}/ws"),
            health_probe(f"http://127.0.0.1:{silent_port}/health", name="h"),
        ],
    )
    result, report = check(run_cli, config)
    assert result.code == 3
    assert report.status.value == "incomplete"
    assert sorted(e.resource for e in report.errors) == ["probe/backend-ws", "probe/h"]
    assert all("within 1 s" in e.message for e in report.errors)


def test_degraded_dependency_is_high_and_latency_only_against_the_limit(
    probes: ProbeServer, run_cli: Run, tmp_path: Path
) -> None:
    config = configure(
        tmp_path,
        [health_probe(probes.url("http", "/health/ok"))],
        [health_probe(probes.url("http", "/health/degraded"))],
    )
    result, report = check(run_cli, config)
    assert result.code == 1
    # Each degraded field and its defect are one finding; other fields are other facts.
    findings = by_path(report)
    assert sorted(findings) == [
        "defects.degraded:dependencies.redis.status",
        "defects.degraded:status",
    ]
    finding = findings["defects.degraded:dependencies.redis.status"]
    assert finding.severity.value == "high"
    assert finding.actual == "degraded"
    assert evidence(finding)["fields.dependencies.redis.status"].actual == "degraded"
    assert set(evidence(finding)) == {
        "fields.dependencies.redis.status",
        "defects.degraded:dependencies.redis.status",
    }
    # A latency varies by nature: it is never written, so never compared (2 ms vs 950 ms).
    for snapshot in (
        config.parent / "baselines" / "production.yaml",
        config.parent / "reports" / "staging-vs-production.snapshot.yaml",
    ):
        body = read_snapshot(snapshot).resources["probe/backend-health"]
        assert body["fields"]["dependencies.redis.status"] in ("ok", "degraded")
        assert "latency" not in str(body)


def test_slow_endpoint_over_the_limit_is_medium(
    probes: ProbeServer, run_cli: Run, tmp_path: Path
) -> None:
    slow = health_probe(probes.url("http", "/health/slow"), max_latency_ms=100)
    config = configure(tmp_path, [health_probe(probes.url("http", "/health/ok"))], [slow])
    _result, report = check(run_cli, config)
    finding = by_path(report)["defects.latency"]
    assert finding.severity.value == "medium"
    assert "answered slower than its limit of 100 ms" in finding.message


def test_unexpected_status_is_high(probes: ProbeServer, run_cli: Run, tmp_path: Path) -> None:
    probe = health_probe(probes.url("http", "/health/ok"), expect_status=204)
    config = configure(tmp_path, [health_probe(probes.url("http", "/health/ok"))], [probe])
    _result, report = check(run_cli, config)
    assert "HTTP 200, expected 204" in by_path(report)["defects.status"].message


def test_probe_needs_one_target_and_a_secure_url(run_cli: Run, tmp_path: Path) -> None:
    for probe, expected in (
        ({"name": "p"}, "exactly one of websocket or http"),
        ({"name": "p", "websocket": "ws://backend.example.com/ws"}, "must use TLS"),
    ):
        config = configure(tmp_path, [probe], [])
        result = run_cli("--config", str(config), "collect", "production")
        assert result.code == 2 and expected in result.stderr, result.stderr


def test_credentials_in_a_probe_url_stay_out_of_error_messages(
    probes: ProbeServer, silent_port: int, run_cli: Run, tmp_path: Path
) -> None:
    secret_url = f"ws://user:canary-userinfo-9b2@127.0.0.1:{silent_port}/ws?token=canary-q-77d1"
    config = configure(tmp_path, [ws_probe(probes.url("ws", "/echo/ws"))], [ws_probe(secret_url)])
    result, report = check(run_cli, config)
    assert result.code == 3
    assert report.errors[0].message.startswith(f"ws://127.0.0.1:{silent_port}/ws?…:")
    outputs = result.stderr + "".join(p.read_text() for p in (tmp_path / "reports").iterdir())
    assert "canary-userinfo" not in outputs and "canary-q" not in outputs
