"""``driftcheck demo``: the whole pipeline on the emulator, as a newcomer runs it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from driftcheck.model import DriftReport
from tests.conftest import CliResult


def test_demo_runs_and_reports_the_incident(
    tmp_path: Path, run_cli: Callable[..., CliResult]
) -> None:
    out = tmp_path / "demo"
    result = run_cli("demo", "--out-dir", str(out))
    assert result.code == 0, result.stderr
    assert (out / "baselines" / "production.yaml").is_file()
    clean = DriftReport.model_validate_json((out / "production-vs-production.json").read_text())
    assert clean.status.value == "clean" and clean.findings == []
    drift = DriftReport.model_validate_json((out / "staging-vs-production.json").read_text())
    assert drift.status.value == "drift"
    found = {(f.resource, f.path): f.severity.value for f in drift.findings if f.active}
    assert found[("service/backend", "ingress")] == "critical"
    assert found[("service/auth", "iam.roles/run.invoker")] == "critical"
    assert found[("service/backend", "template.timeout")] == "high"
    assert found[("service/backend", "template.session_affinity")] == "high"
    assert found[("service/backend", "template.containers.app.ports.8080.name")] == "high"
    assert found[("service/backend", "template.vpc_access.egress")] == "high"
    assert found[("service/backend", "template.containers.app.env.REDIS_HOST.value")] == "medium"
    heartbeat = ("service/backend", "template.containers.app.env.WS_HEARTBEAT_SECONDS")
    assert found[heartbeat] == "medium"
    bypass = found[("secret/e2e-bypass-key", "consumers.E2E_OAUTH_SIMULATION_KEY")]
    assert bypass == "critical"
    pinned = ("secret/e2e-bypass-key", "references.service/auth:containers.app.env.E2E_BYPASS_KEY")
    assert found[pinned] == "high"
    baseline_text = (out / "baselines" / "production.yaml").read_text()
    assert "hmac-sha256:k=" in baseline_text and "demo-prod-e2e-key" not in baseline_text
    token = ("auth-policy/auth", "tokens.e2e-fallback.permission:agent_execution:agent_access")
    assert found[token] == "high"
    assert found[("auth-policy/auth", "capabilities.agent_execution")] == "high"
    assert found[("probe/backend-ws", "subprotocol")] == "high"
    degraded = ("probe/backend-health", "defects.degraded:dependencies.redis.status")
    assert found[degraded] == "high"
    ignored = [f for f in drift.findings if f.ignored]
    assert ignored and all(f.path.startswith("template.scaling.") for f in ignored)
    for suffix in ("json", "html", "md"):
        assert (out / f"staging-vs-production.{suffix}").is_file()
    assert "staging vs production: DRIFT" in result.stderr
