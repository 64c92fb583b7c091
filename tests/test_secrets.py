"""Secret Manager: the real client against the emulator, fingerprints, and secret violations."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from driftcheck.emulator import EmulatorServer
from driftcheck.emulator.scenario import FaultSpec, Scenario
from driftcheck.model import DriftReport, Finding
from tests.conftest import CliResult
from tests.factories import PROD, STAGING, project, scenario, service, write_config

Start = Callable[[Scenario], EmulatorServer]
Run = Callable[..., CliResult]
CANARY = "canary-secret-payload"


def secret_ref(name: str, version: str = "latest") -> dict[str, Any]:
    return {"name": "KEY", "valueSource": {"secretKeyRef": {"secret": name, "version": version}}}


def with_env(name: str, project_id: str, *env: dict[str, Any]) -> dict[str, Any]:
    body = service(name, project_id)
    body["template"]["containers"][0]["env"].extend(env)
    return body


def versions(*states: str, tag: str = "p") -> list[dict[str, Any]]:
    return [
        {"version": number, "state": state, "payload": f"{CANARY}-{tag}-{number}"}
        for number, state in enumerate(states, start=1)
    ]


def estate(
    prod_versions: list[dict[str, Any]] | None = None,
    staging_versions: list[dict[str, Any]] | None = None,
    staging_ref: str = "latest",
    faults: list[FaultSpec] | None = None,
) -> Scenario:
    prod_secrets = {"e2e-key": {"versions": prod_versions or versions("ENABLED")}}
    staging_secrets = {"e2e-key": {"versions": staging_versions or versions("ENABLED", tag="s")}}
    return scenario(
        projects={
            PROD: project(
                [
                    with_env("backend", PROD, secret_ref("e2e-key")),
                    with_env("auth", PROD, secret_ref("e2e-key")),
                ],
                "111111111111",
                secrets=prod_secrets,
            ),
            STAGING: project(
                [
                    with_env("backend", STAGING, secret_ref("e2e-key", staging_ref)),
                    with_env("auth", STAGING, secret_ref("e2e-key")),
                ],
                "222222222222",
                secrets=staging_secrets,
            ),
        },
        faults=faults or [],
    )


def secret_config(tmp_path: Path, **staging_extra: Any) -> Path:
    environments = {
        "production": {
            "project": PROD,
            "project_number": "111111111111",
            "regions": ["us-central1"],
        },
        "staging": {
            "project": STAGING,
            "project_number": "222222222222",
            "regions": ["us-central1"],
            **staging_extra,
        },
    }
    return write_config(tmp_path, environments=environments)


@pytest.fixture
def cli(run_cli: Run, tmp_path: Path) -> Run:
    config = secret_config(
        tmp_path, secrets=[{"name": "e2e-key", "expect_env": "E2E_OAUTH_SIMULATION_KEY"}]
    )
    return lambda *args: run_cli("--config", str(config), *args)


def report(tmp_path: Path, stem: str) -> DriftReport:
    return DriftReport.model_validate_json((tmp_path / "reports" / f"{stem}.json").read_text())


def violations(found: DriftReport) -> dict[str, Finding]:
    return {f.path: f for f in found.findings if f.kind.value == "violation"}


def test_each_secret_is_read_once_and_the_baseline_holds_only_fingerprints(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    server = emulator(estate())
    assert cli("baseline", "production").code == 0
    listings = [p for _m, p in server.calls if p.endswith(f"/projects/{PROD}/secrets")]
    gets = [p for _m, p in server.calls if p.endswith("/secrets/e2e-key")]
    accesses = [p for _m, p in server.calls if p.endswith(":access")]
    # two services, one read; the metadata from the project's listing
    assert (len(listings), len(gets), len(accesses)) == (1, 0, 1)
    text = (tmp_path / "baselines" / "production.yaml").read_text()
    assert CANARY not in text
    assert "hmac-sha256:k=" in text
    assert "service/us-central1/backend:containers.app.env.KEY" in text


def checked_with_listing_fault(
    emulator: Start, run_cli: Run, tmp_path: Path, status: int
) -> tuple[CliResult, list[str], str]:
    """Baseline production, then check it while listing its secrets answers ``status``: the
    check, the paths it called, and the baseline's text."""
    config = secret_config(tmp_path)
    server = emulator(estate())
    assert run_cli("--config", str(config), "baseline", "production").code == 0
    baseline = (tmp_path / "baselines" / "production.yaml").read_text()
    server.add_fault(FaultSpec(path="/secrets$", status=status))
    before = len(server.calls)
    result = run_cli("--config", str(config), "check", "production")
    return result, [path for _method, path in server.calls[before:]], baseline


def test_a_principal_that_may_not_list_secrets_reads_each_alone(
    emulator: Start, run_cli: Run, tmp_path: Path
) -> None:
    result, called, baseline = checked_with_listing_fault(emulator, run_cli, tmp_path, 403)
    assert result.code == 0, result.stderr
    assert [path for path in called if path.endswith("/secrets/e2e-key")] != []
    snapshot = read_text_of(tmp_path / "reports" / "production-vs-production.snapshot.yaml")
    assert snapshot.split("resources:", 1)[1] == baseline.split("resources:", 1)[1]


def test_a_listing_that_fails_leaves_its_secrets_unread_never_absent(
    emulator: Start, run_cli: Run, tmp_path: Path
) -> None:
    result, _called, _baseline = checked_with_listing_fault(emulator, run_cli, tmp_path, 404)
    assert result.code == 3, result.stderr
    errors = report(tmp_path, "production-vs-production").errors
    assert [(e.resource, e.source) for e in errors] == [
        ("secret/e2e-key", "secretmanager.googleapis.com")
    ]
    findings = report(tmp_path, "production-vs-production").findings
    assert not [f for f in findings if f.resource == "secret/e2e-key"]  # not "removed"


def test_consumer_key_mismatch_is_critical(
    emulator: Start, cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator(estate(staging_versions=versions("ENABLED", "ENABLED", tag="s")))
    monkeypatch.setenv("E2E_OAUTH_SIMULATION_KEY", f"{CANARY}-s-1")  # stale: live is version 2
    assert cli("baseline", "staging").code == 0
    result = cli("check", "staging")
    assert result.code == 1
    finding = violations(report(tmp_path, "staging-vs-staging"))[
        "consumers.E2E_OAUTH_SIMULATION_KEY"
    ]
    assert finding.severity.value == "critical"
    assert finding.message == (
        "the key held in E2E_OAUTH_SIMULATION_KEY does not match staging's live e2e-key, version 2"
    )


def test_consumer_key_match_is_clean(
    emulator: Start, cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator(estate())
    monkeypatch.setenv("E2E_OAUTH_SIMULATION_KEY", f"{CANARY}-s-1")
    cli("baseline", "staging")
    assert cli("check", "staging").code == 0
    assert report(tmp_path, "staging-vs-staging").findings == []


def test_unset_consumer_variable_is_high(emulator: Start, cli: Run, tmp_path: Path) -> None:
    emulator(estate())
    cli("baseline", "staging")
    assert cli("check", "staging").code == 1
    finding = violations(report(tmp_path, "staging-vs-staging"))[
        "consumers.E2E_OAUTH_SIMULATION_KEY"
    ]
    assert finding.severity.value == "high"
    assert "not set" in finding.message


@pytest.mark.parametrize(
    ("states", "pinned", "severity", "state"),
    [
        (("ENABLED", "DISABLED"), "2", "high", "disabled"),
        (("ENABLED", "DESTROYED"), "2", "critical", "destroyed"),
        (("ENABLED",), "9", "critical", "missing"),
    ],
)
def test_reference_to_unusable_version_is_a_violation(
    emulator: Start,
    run_cli: Run,
    tmp_path: Path,
    states: tuple[str, ...],
    pinned: str,
    severity: str,
    state: str,
) -> None:
    config = secret_config(tmp_path)
    emulator(estate(staging_versions=versions(*states, tag="s"), staging_ref=pinned))
    assert run_cli("--config", str(config), "baseline", "staging").code == 0
    result = run_cli("--config", str(config), "check", "staging")
    assert result.code == 1
    finding = violations(report(tmp_path, "staging-vs-staging"))[
        "references.service/us-central1/backend:containers.app.env.KEY"
    ]
    assert finding.severity.value == severity
    assert f"version {pinned}, which is {state} in staging" in finding.message


def test_secret_that_does_not_exist_is_critical(
    emulator: Start, run_cli: Run, tmp_path: Path
) -> None:
    config = secret_config(tmp_path)
    data = estate()
    data.projects[STAGING].secrets.clear()
    emulator(data)
    run_cli("--config", str(config), "baseline", "staging")
    assert run_cli("--config", str(config), "check", "staging").code == 1
    finding = violations(report(tmp_path, "staging-vs-staging"))["exists"]
    assert finding.severity.value == "critical"
    assert "does not exist in staging" in finding.message


def test_rotation_since_the_baseline_is_reported(
    emulator: Start, run_cli: Run, tmp_path: Path
) -> None:
    config = secret_config(tmp_path)
    emulator(estate())
    assert run_cli("--config", str(config), "baseline", "production").code == 0
    emulator(estate(prod_versions=versions("ENABLED", "ENABLED")))
    assert run_cli("--config", str(config), "check", "production").code == 1
    # One rotation, one finding: the new version, the fingerprints and resolutions it moved.
    (rotation,) = report(tmp_path, "production-vs-production").findings
    assert (rotation.resource, rotation.path) == ("secret/e2e-key", "latest.fingerprint")
    assert rotation.severity.value == "medium"
    assert rotation.message == (
        "latest.fingerprint: secret value changed (and 6 related observations)"
    )
    assert rotation.actual["redacted"] is True
    evidence = {e.path: e for e in rotation.evidence}
    assert (evidence["latest.version"].baseline, evidence["latest.version"].actual) == ("1", "2")
    assert evidence["versions.2"].kind.value == "added"
    for user in ("backend", "auth"):
        where = f"references.service/us-central1/{user}:containers.app.env.KEY"
        assert evidence[f"{where}.fingerprint"].actual["redacted"] is True
        assert evidence[f"{where}.resolved"].actual == "2"


def test_fingerprints_are_not_compared_across_environments_unless_shared(
    emulator: Start, run_cli: Run, tmp_path: Path
) -> None:
    emulator(estate())
    config = secret_config(tmp_path)
    run_cli("--config", str(config), "baseline", "production")
    assert run_cli("--config", str(config), "check", "staging", "--against", "production").code == 0
    shared = secret_config(tmp_path, secrets=[{"name": "e2e-key", "same_across_envs": True}])
    result = run_cli("--config", str(shared), "check", "staging", "--against", "production")
    assert result.code == 1
    paths = {f.path for f in report(tmp_path, "staging-vs-production").findings}
    assert "latest.fingerprint" in paths


def test_pinned_in_one_environment_and_latest_in_the_other(
    emulator: Start, run_cli: Run, tmp_path: Path
) -> None:
    emulator(estate(staging_ref="1"))
    config = secret_config(tmp_path)
    run_cli("--config", str(config), "baseline", "production")
    assert run_cli("--config", str(config), "check", "staging", "--against", "production").code == 1
    # The secret's reference and the service's own setting are one fact: one finding.
    (finding,) = report(tmp_path, "staging-vs-production").findings
    assert finding.path == "references.service/us-central1/backend:containers.app.env.KEY.pinned"
    assert finding.message.endswith("(and 1 related observation)")
    evidence = {(e.resource, e.path): e for e in finding.evidence}
    version = evidence[("service/us-central1/backend", "template.containers.app.env.KEY.version")]
    assert (version.baseline, version.actual) == ("latest", "1")


def test_a_fingerprint_under_another_key_is_incomparable(
    emulator: Start, run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator(estate())
    config = secret_config(tmp_path)
    run_cli("--config", str(config), "baseline", "production")
    monkeypatch.setenv("DRIFTCHECK_FINGERPRINT_KEY", "another-key-0123456789abcdef")
    # Not comparable is not clean: the verdict is incomplete, and says why and where.
    result = run_cli("--config", str(config), "check", "production")
    assert result.code == 3
    checked = report(tmp_path, "production-vs-production")
    assert checked.status.value == "incomplete"
    assert checked.findings == []
    (gap,) = checked.errors
    assert (gap.source, gap.resource) == ("compare", "secret/e2e-key")
    assert "latest.fingerprint" in (gap.path or "")
    assert "fingerprints were made under different keys" in gap.message
    assert "[incomplete] secret/e2e-key" in result.stderr


def test_access_429_is_retried(emulator: Start, run_cli: Run, tmp_path: Path) -> None:
    server = emulator(estate(faults=[FaultSpec(path=":access$", status=429, times=2)]))
    config = secret_config(tmp_path)
    assert run_cli("--config", str(config), "baseline", "production").code == 0
    assert len([p for _m, p in server.calls if p.endswith(":access")]) == 3


def test_access_denied_makes_the_run_incomplete(
    emulator: Start, run_cli: Run, tmp_path: Path
) -> None:
    config = secret_config(tmp_path)
    server = emulator(estate())
    run_cli("--config", str(config), "baseline", "production")
    server.add_fault(FaultSpec(path=":access$", status=403))
    result = run_cli("--config", str(config), "check", "production")
    assert result.code == 3
    errors = report(tmp_path, "production-vs-production").errors
    assert [(e.resource, e.source) for e in errors] == [
        ("secret/e2e-key", "secretmanager.googleapis.com")
    ]
    assert "secretmanager.versions.access" in errors[0].message
    assert "roles/secretmanager.secretAccessor" in errors[0].message
    assert errors[0].path == "payloads.1"
    # Only the value is lost: the secret's versions and references are still judged.
    assert "secret/e2e-key" in read_text_of(
        tmp_path / "reports" / "production-vs-production.snapshot.yaml"
    )


def test_no_secret_payloads_works_without_access(
    emulator: Start, run_cli: Run, tmp_path: Path
) -> None:
    config = secret_config(tmp_path)
    server = emulator(estate(faults=[FaultSpec(path=":access$", status=403)]))
    result = run_cli("--config", str(config), "--no-secret-payloads", "collect", "production")
    assert result.code == 0
    assert not [p for _m, p in server.calls if p.endswith(":access")]
    assert "unavailable: true" in result.stdout


def test_no_canary_anywhere(
    emulator: Start, cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator(estate(staging_versions=versions("ENABLED", "DISABLED", tag="s"), staging_ref="2"))
    monkeypatch.setenv("E2E_OAUTH_SIMULATION_KEY", f"{CANARY}-consumer")
    outputs = [
        cli("baseline", "production"),
        cli("-v", "collect", "staging"),
        cli("check", "staging", "--against", "production"),
        cli("-v", "check", "staging", "--against", "production"),
        cli("-v", "baseline", "staging"),
        cli("check", "staging"),
    ]
    assert CANARY not in json.dumps([o.__dict__ for o in outputs])
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name != "driftcheck.yaml":
            assert CANARY.encode() not in path.read_bytes(), path


def read_text_of(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _with_metadata(scenario_: Scenario, project_id: str, metadata: dict[str, Any]) -> Scenario:
    data = scenario_.model_dump()
    data["projects"][project_id]["secrets"]["e2e-key"]["metadata"] = metadata
    return Scenario.model_validate(data)


def _metadata(
    project_id: str, number: str, aliases: dict[str, str], *replicas: str
) -> dict[str, Any]:
    return {
        "expireTime": f"2027-0{len(project_id) % 9 + 1}-01T00:00:00Z",
        "versionAliases": aliases,
        "policyMember": {
            "iamPolicyNamePrincipal": f"principal://parametermanager.googleapis.com/projects/"
            f"{number}/secrets/e2e-key",
            "iamPolicyUidPrincipal": f"principal://secretmanager.googleapis.com/uid/{number}",
        },
        "replication": {"userManaged": {"replicas": [{"location": r} for r in replicas]}},
    }


def test_per_environment_secret_metadata_is_no_drift_but_an_alias_name_is(
    emulator: Start, run_cli: Run, tmp_path: Path
) -> None:
    """The moment a secret expires, the principals derived from its ids, the version numbers its
    aliases point at and the order of its replicas differ per environment: no finding. An alias
    that exists on one side only is one."""
    prod = _metadata(PROD, "111111111111", {"current": "1"}, "us-east1", "europe-west1")
    staging = _metadata(STAGING, "222222222222", {"current": "3"}, "europe-west1", "us-east1")
    served = _with_metadata(_with_metadata(estate(), PROD, prod), STAGING, staging)
    emulator(served)
    config = secret_config(tmp_path)
    assert run_cli("--config", str(config), "baseline", "production").code == 0
    result = run_cli("--config", str(config), "check", "staging", "--against", "production")
    assert result.code == 0, result.stdout
    staging["versionAliases"] = {"current": "3", "canary": "2"}
    emulator(_with_metadata(estate(), STAGING, staging))
    result = run_cli("--config", str(config), "check", "staging", "--against", "production")
    assert result.code == 1
    found = [(f.resource, f.path) for f in report(tmp_path, "staging-vs-production").findings]
    assert found == [("secret/e2e-key", "version_aliases")]


def test_secret_reads_start_while_services_are_still_read(
    emulator: Start, run_cli: Run, tmp_path: Path
) -> None:
    names = [f"svc-{i:02d}" for i in range(40)]
    services = [with_env(name, PROD, secret_ref(f"key-{i:02d}")) for i, name in enumerate(names)]
    secrets = {f"key-{i:02d}": {"versions": versions("ENABLED")} for i in range(40)}
    server = emulator(
        scenario(
            projects={PROD: project(services, "111111111111", secrets=secrets)},
            latency_ms=20,
            max_page_size=10,
        )
    )
    config = secret_config(tmp_path)
    result = run_cli("--config", str(config), "--concurrency", "4", "baseline", "production")
    assert result.code == 0, result.stderr
    paths = [path for _method, path in server.calls]
    first_secret = next(n for n, path in enumerate(paths) if "/secrets" in path)
    last_iam = max(n for n, path in enumerate(paths) if path.endswith(":getIamPolicy"))
    assert first_secret < last_iam
    assert len([p for p in paths if p.endswith("/versions")]) == 40  # each still read once
