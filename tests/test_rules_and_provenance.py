"""Rules from driftcheck.yaml end to end, name mapping, and the provenance every report carries."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from driftcheck.compare import finding_id
from driftcheck.emulator import EmulatorServer
from driftcheck.emulator.scenario import Scenario
from driftcheck.model import DriftReport, FindingKind
from tests.conftest import CliResult
from tests.factories import PROD, STAGING, config_data, project, scenario, service, write_config

Start = Callable[[Scenario], EmulatorServer]
Run = Callable[..., CliResult]


def drifted() -> Scenario:
    staging = service("backend", STAGING)
    staging["template"]["timeout"] = "300s"
    staging["template"]["scaling"] = {"minInstanceCount": 0, "maxInstanceCount": 10}
    staging["template"]["containers"][0]["env"].append(
        {"name": "API_URL", "value": "https://api-stg.example.com"}
    )
    prod = service("backend", PROD)
    prod["template"]["containers"][0]["env"].append(
        {"name": "API_URL", "value": "https://api-prod.example.com"}
    )
    return scenario(
        projects={PROD: project([prod], "111111111111"), STAGING: project([staging], "2222")}
    )


def check(run_cli: Run, tmp_path: Path, rules: dict[str, Any], **env_extra: Any) -> DriftReport:
    data = config_data(rules=rules)
    for name, mapping in env_extra.items():
        data["environments"][name]["name_map"] = mapping
    config = write_config(tmp_path, **{k: v for k, v in data.items() if k != "version"})
    assert run_cli("--config", str(config), "baseline", "production").code == 0
    run_cli("--config", str(config), "check", "staging", "--against", "production")
    text = (tmp_path / "reports" / "staging-vs-production.json").read_text()
    return DriftReport.model_validate_json(text)


def test_ignored_scaling_stays_visible_but_does_not_fail(
    emulator: Start, run_cli: Run, tmp_path: Path
) -> None:
    emulator(drifted())
    rules = {"ignore": [{"path": "template.scaling.*", "reason": "staging scales to zero"}]}
    report = check(run_cli, tmp_path, rules)
    scaling = [f for f in report.findings if f.path.startswith("template.scaling")]
    assert scaling and all(f.ignored and f.reason == "staging scales to zero" for f in scaling)
    assert report.summary.ignored == len(scaling)
    assert report.summary.info == 0


def test_expired_suppression_resurfaces(emulator: Start, run_cli: Run, tmp_path: Path) -> None:
    emulator(drifted())
    timeout_id = finding_id("service/us-central1/backend", "template.timeout", FindingKind.CHANGED)
    rules = {
        "suppress": [
            {
                "id": timeout_id,
                "accepted": 300,
                "reason": "r",
                "owner": "o",
                "expires": "2020-01-01",
            }
        ]
    }
    report = check(run_cli, tmp_path, rules)
    timeout = next(f for f in report.findings if f.path == "template.timeout")
    assert not timeout.suppressed and timeout.active
    expired = next(f for f in report.findings if f.path == "rules.suppress[0]")
    assert "expired on 2020-01-01" in expired.message


def test_active_suppression_is_counted_not_dropped(
    emulator: Start, run_cli: Run, tmp_path: Path
) -> None:
    emulator(drifted())
    rules = {
        "suppress": [
            {
                "resource": "service/us-central1/backend",
                "path": "template.timeout",
                "accepted": 300,
                "reason": "migration",
                "owner": "platform",
                "expires": "2099-01-01",
            }
        ]
    }
    report = check(run_cli, tmp_path, rules)
    timeout = next(f for f in report.findings if f.path == "template.timeout")
    assert timeout.suppressed and "platform" in (timeout.reason or "")
    assert "accepted 300" in (timeout.reason or "")
    assert report.summary.suppressed == 1


def test_name_map_makes_environment_tokens_neutral(
    emulator: Start, run_cli: Run, tmp_path: Path
) -> None:
    emulator(drifted())
    without = check(run_cli, tmp_path, {})
    assert any(f.path.endswith("API_URL.value") for f in without.findings)
    mapped = check(
        run_cli,
        tmp_path,
        {},
        production={"prod": "${env}"},
        staging={"stg": "${env}"},
    )
    assert not any(f.path.endswith("API_URL.value") for f in mapped.findings)


def test_report_provenance(emulator: Start, run_cli: Run, tmp_path: Path) -> None:
    emulator(drifted())
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    check(run_cli, tmp_path, {})
    baseline_path = tmp_path / "baselines" / "production.yaml"
    subprocess.run(["git", "-C", str(tmp_path), "add", "baselines"], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(tmp_path),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "approve",
        ],
        check=True,
    )
    config = tmp_path / "driftcheck.yaml"
    run_cli("--config", str(config), "check", "staging", "--against", "production")
    report = DriftReport.model_validate_json(
        (tmp_path / "reports" / "staging-vs-production.json").read_text()
    )
    import hashlib

    p = report.provenance
    assert report.baseline.sha256 == hashlib.sha256(baseline_path.read_bytes()).hexdigest()
    assert report.baseline.path == str(baseline_path)
    assert p.config_sha256 == hashlib.sha256(config.read_bytes()).hexdigest()
    commit = subprocess.run(
        ["git", "-C", str(tmp_path), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert p.baseline_git_commit == commit
    assert p.principal == "anonymous (emulator)"
    assert p.endpoints["run"].startswith("http://127.0.0.1:")
    assert p.fingerprint_key_id and len(p.fingerprint_key_id) == 8
    assert p.started_at and p.finished_at and p.started_at <= p.finished_at
    assert p.command.startswith("driftcheck --config")


def test_a_baseline_edited_since_its_commit_names_no_commit(
    emulator: Start, run_cli: Run, tmp_path: Path
) -> None:
    """The provenance names the commit of the bytes compared, or none: a baseline changed since
    it was committed is not that commit's."""
    emulator(drifted())
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    check(run_cli, tmp_path, {})
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "baselines"], check=True)
    subprocess.run([*git, "commit", "-qm", "approve"], check=True)
    baseline_path = tmp_path / "baselines" / "production.yaml"
    with baseline_path.open("a", encoding="utf-8") as baseline:
        baseline.write("# edited after approval\n")
    config = tmp_path / "driftcheck.yaml"
    run_cli("--config", str(config), "check", "staging", "--against", "production")
    report = DriftReport.model_validate_json(
        (tmp_path / "reports" / "staging-vs-production.json").read_text()
    )
    assert report.provenance.baseline_git_commit is None
    import hashlib

    assert report.baseline.sha256 == hashlib.sha256(baseline_path.read_bytes()).hexdigest()
