"""``driftcheck demo``: the whole pipeline on the emulator, as a newcomer runs it."""

from __future__ import annotations

import json
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
    assert drift.errors == []
    found = {(f.resource, f.path): f.severity.value for f in drift.findings if f.active}
    backend, auth = "service/us-central1/backend", "service/us-central1/auth"
    assert found[(backend, "ingress")] == "critical"
    assert found[(auth, "iam.roles/run.invoker")] == "critical"
    assert found[(backend, "template.timeout")] == "high"
    assert found[(backend, "template.session_affinity")] == "high"
    assert found[(backend, "template.containers.app.ports.8080.name")] == "high"
    assert found[(backend, "template.vpc_access.egress")] == "high"
    # Behind the VPC: the causes of staging's unreachable Redis and slow PostgreSQL.
    redis_host = [f for f in drift.findings if f.path.endswith("env.REDIS_HOST.value")]
    assert redis_host[0].severity.value == "critical"
    assert "points at 10.128.0.7, which is no Redis instance in staging" in redis_host[0].message
    # The address staging names is no instance: not a second finding of its own.
    assert ("redis/us-central1/10.128.0.7", "") not in found
    assert found[("connector/us-central1/egress-legacy", "state")] == "critical"
    assert found[("redis/us-central1/cache", "tier")] == "high"
    # A BASIC instance has no replica: the replica count it lost is the tier's evidence.
    assert ("redis/us-central1/cache", "replica_count") not in found
    (tier,) = [f for f in drift.findings if f.path == "tier"]
    assert "replica_count" in {e.path for e in tier.evidence}
    budget = found[("sql/us-central1/main-db", "connections.max_connections")]
    assert budget == "high"
    heartbeat = (backend, "template.containers.app.env.WS_HEARTBEAT_SECONDS")
    assert found[heartbeat] == "medium"
    bypass = found[("secret/e2e-bypass-key", "consumers.E2E_OAUTH_SIMULATION_KEY")]
    assert bypass == "critical"
    pinned = (
        "secret/e2e-bypass-key",
        f"references.{auth}:containers.app.env.E2E_BYPASS_KEY",
    )
    assert found[pinned] == "high"
    baseline_text = (out / "baselines" / "production.yaml").read_text()
    assert "hmac-sha256:k=" in baseline_text and "demo-prod-e2e-key" not in baseline_text
    token = ("auth-policy/auth", "tokens.e2e-fallback.permission:agent_execution:agent_access")
    assert found[token] == "high"
    assert found[("auth-policy/auth", "capabilities.agent_execution")] == "high"
    # One fact, one finding: the subprotocol not echoed is one finding with its evidence.
    (echo,) = [f for f in drift.findings if f.resource == "probe/backend-ws"]
    assert (echo.path, echo.severity.value) == ("defects.subprotocol", "high")
    assert {e.path for e in echo.evidence} == {
        "defects.subprotocol",
        "subprotocol",
        "headers.sec-websocket-protocol",
    }
    assert echo.message.endswith("(and 2 related observations)")
    # Redis degraded is one finding (its field and its defect); the overall status another.
    health = {f.path: f for f in drift.findings if f.resource == "probe/backend-health"}
    assert sorted(health) == [
        "defects.degraded:dependencies.redis.status",
        "defects.degraded:status",
    ]
    redis = health["defects.degraded:dependencies.redis.status"]
    assert redis.severity.value == "high"
    assert "fields.dependencies.redis.status" in {e.path for e in redis.evidence}
    ignored = [f for f in drift.findings if f.ignored]
    assert ignored and all(f.path.startswith("template.scaling.") for f in ignored)
    for suffix in ("json", "html", "md", "sarif"):
        assert (out / f"staging-vs-production.{suffix}").is_file()
    assert "driftcheck: staging (acme-staging) vs production (acme-prod): DRIFT" in result.stderr
    # Every finding says why it matters; the ones Cloud Run can undo say how, in staging's names.
    assert all(f.hint is not None and f.hint.why for f in drift.findings)
    commands = {(f.resource, f.path): f.hint.commands for f in drift.findings if f.hint}
    gcloud = "gcloud run services update backend --project=acme-staging --region=us-central1"
    assert commands[(backend, "template.session_affinity")] == [f"{gcloud} --session-affinity"]
    assert commands[(backend, "template.timeout")] == [f"{gcloud} --timeout=3600"]
    assert commands[(backend, "ingress")] == [
        f"{gcloud} --ingress=internal-and-cloud-load-balancing"
    ]
    assert commands[(auth, "iam.roles/run.invoker")] == [
        "gcloud run services remove-iam-policy-binding auth --project=acme-staging "
        "--region=us-central1 --member=allUsers --role=roles/run.invoker"
    ]
    assert commands[pinned] == [
        "gcloud run services update auth --project=acme-staging --region=us-central1 "
        "--container=app --update-secrets=E2E_BYPASS_KEY=e2e-bypass-key:8"
    ]


def test_the_demo_config_names_a_schema_that_exists_beside_it(
    tmp_path: Path, run_cli: Callable[..., CliResult]
) -> None:
    out = tmp_path / "anywhere" / "demo"
    assert run_cli("demo", "--out-dir", str(out)).code == 0
    first = (out / "driftcheck.yaml").read_text(encoding="utf-8").splitlines()[0]
    relative = first.removeprefix("# yaml-language-server: $schema=")
    assert relative != first and not relative.startswith(("/", ".."))
    schema = json.loads((out / relative).read_text(encoding="utf-8"))
    assert schema["title"] == "Config"
