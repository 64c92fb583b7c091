"""Hints: every finding says why it matters; where Cloud Run allows, the exact gcloud command that
brings the checked environment back to its baseline, with its real project, region and names.

The commands are checked against the documented flags of ``gcloud run services update`` (and its
IAM siblings), and the script of ``driftcheck hints`` is run by a real ``sh`` against a stand-in
``gcloud`` that records the arguments it receives: quoting must survive hostile values.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from driftcheck.emulator import EmulatorServer
from driftcheck.emulator.scenario import Scenario
from driftcheck.model import DriftReport, Finding
from tests.conftest import CliResult
from tests.factories import (
    PROD,
    REGION,
    STAGING,
    invoker_policy,
    project,
    scenario,
    service,
    write_config,
)

Start = Callable[[Scenario], EmulatorServer]
Run = Callable[..., CliResult]

# `gcloud run services update` flags (cloud.google.com/sdk/gcloud/reference/run/services/update)
# that a hint may use, with the values the enumerated ones accept.
SERVICES_UPDATE_FLAGS: dict[str, set[str] | None] = {
    "--project": None,
    "--region": None,
    "--container": None,
    "--ingress": {"all", "internal", "internal-and-cloud-load-balancing"},
    "--invoker-iam-check": None,
    "--no-invoker-iam-check": None,
    "--timeout": None,
    "--session-affinity": None,
    "--no-session-affinity": None,
    "--use-http2": None,
    "--no-use-http2": None,
    "--port": None,
    "--concurrency": None,
    "--vpc-connector": None,
    "--clear-vpc-connector": None,
    "--vpc-egress": {"all", "all-traffic", "private-ranges-only"},
    "--update-env-vars": None,
    "--remove-env-vars": None,
    "--update-secrets": None,
    "--remove-secrets": None,
    "--service-account": None,
    "--image": None,
    "--min-instances": None,
    "--max-instances": None,
    "--update-labels": None,
    "--remove-labels": None,
}
# `gcloud run services add-iam-policy-binding` / `remove-iam-policy-binding`.
IAM_BINDING_FLAGS = {"--project", "--region", "--member", "--role"}
HOSTILE_LABEL = "$(touch pwned); `touch pwned2` 'q' \"d\" \\ x"


def _service(env: str, project_id: str, **template: Any) -> dict[str, Any]:
    body = service(f"api-{env}", project_id)
    body["ingress"] = "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
    body["labels"] = {"app": "api", "note": HOSTILE_LABEL}
    body["template"]["vpcAccess"]["connector"] = (
        f"projects/{project_id}/locations/{REGION}/connectors/egress-{env}"
    )
    container = body["template"]["containers"][0]
    container["image"] = f"us-docker.pkg.dev/{project_id}/apps/api-{env}:1.0.0"
    container["env"] = [
        {"name": "LOG_LEVEL", "value": "info"},
        {"name": "FEATURES", "value": "chat,agents"},
        {"name": "HEARTBEAT_SECONDS", "value": "25"},
        {"name": "UPSTREAM", "value": f"http://auth-{env}.internal"},
        {"name": "WS_KEY", "valueSource": {"secretKeyRef": {"secret": "ws-key", "version": "3"}}},
    ]
    body["template"].update(template)
    return body


def drifted_estate() -> Scenario:
    """Production as approved; staging drifted in every way a hint knows how to undo."""
    prod = _service("prod", PROD)
    staging = _service(
        "stg",
        STAGING,
        timeout="300s",
        sessionAffinity=False,
        maxInstanceRequestConcurrency=10,
        scaling={"minInstanceCount": 0, "maxInstanceCount": 10},
    )
    staging["ingress"] = "INGRESS_TRAFFIC_ALL"
    staging["invokerIamDisabled"] = True
    staging["labels"] = {"app": "api", "note": "staging", "temp": "yes"}
    staging["template"]["vpcAccess"] = {
        "connector": f"projects/{STAGING}/locations/{REGION}/connectors/legacy",
        "egress": "ALL_TRAFFIC",
    }
    container = staging["template"]["containers"][0]
    container["image"] = f"us-docker.pkg.dev/{STAGING}/apps/api-stg:1.1.0"
    container["ports"] = [{"name": "h2c", "containerPort": 8080}]
    container["env"] = [
        {"name": "LOG_LEVEL", "value": "debug"},
        {"name": "FEATURES", "value": "chat"},
        {"name": "UPSTREAM", "value": "http://auth-stg.internal"},
        {"name": "EXTRA", "value": "1"},
        {"name": "WS_KEY", "valueSource": {"secretKeyRef": {"secret": "ws-key", "version": "1"}}},
    ]
    versions = [
        {"version": 1, "state": "DISABLED", "payload": "k1"},
        {"version": 2, "state": "ENABLED", "payload": "k2"},
        {"version": 3, "state": "ENABLED", "payload": "k3"},
    ]
    return scenario(
        projects={
            PROD: project(
                [prod],
                "111111111111",
                iam={"api-prod": invoker_policy("group:ops@example.com")},
                secrets={"ws-key": {"versions": versions}},
            ),
            STAGING: project(
                [staging],
                "222222222222",
                iam={"api-stg": invoker_policy("group:ops@example.com", "allUsers")},
                secrets={"ws-key": {"versions": versions}},
            ),
        }
    )


@pytest.fixture
def checked(emulator: Start, run_cli: Run, tmp_path: Path) -> tuple[DriftReport, Path]:
    """staging checked against production's baseline: the report and its JSON path."""
    environments = {
        "production": {
            "project": PROD,
            "project_number": "111111111111",
            "regions": [REGION],
            "name_map": {"prod": "${env}"},
        },
        "staging": {
            "project": STAGING,
            "project_number": "222222222222",
            "regions": [REGION],
            "name_map": {"stg": "${env}"},
        },
    }
    config = write_config(tmp_path, environments=environments)
    emulator(drifted_estate())
    assert run_cli("--config", str(config), "baseline", "production").code == 0
    result = run_cli("--config", str(config), "check", "staging", "--against", "production")
    assert result.code == 1, result.stderr
    path = tmp_path / "reports" / "staging-vs-production.json"
    return DriftReport.model_validate_json(path.read_text(encoding="utf-8")), path


def by_path(report: DriftReport, path: str) -> Finding:
    (finding,) = [f for f in report.findings if f.path == path]
    return finding


GCLOUD = "gcloud run services update api-stg --project=acme-staging --region=us-central1"
EXPECTED = {
    "ingress": f"{GCLOUD} --ingress=internal-and-cloud-load-balancing",
    "invoker_iam_disabled": f"{GCLOUD} --invoker-iam-check",
    "iam.roles/run.invoker": "gcloud run services remove-iam-policy-binding api-stg "
    "--project=acme-staging --region=us-central1 --member=allUsers --role=roles/run.invoker",
    "template.timeout": f"{GCLOUD} --timeout=3600",
    "template.session_affinity": f"{GCLOUD} --session-affinity",
    "template.max_instance_request_concurrency": f"{GCLOUD} --concurrency=100",
    "template.containers.app.ports.8080.name": f"{GCLOUD} --container=app --no-use-http2",
    # The baseline's connector, spelled the way staging names its own (name_map undone).
    "template.vpc_access.connector": f"{GCLOUD} "
    "--vpc-connector=projects/acme-staging/locations/us-central1/connectors/egress-stg",
    "template.vpc_access.egress": f"{GCLOUD} --vpc-egress=private-ranges-only",
    "template.containers.app.image": f"{GCLOUD} --container=app "
    "--image=us-docker.pkg.dev/acme-staging/apps/api-stg:1.0.0",
    "template.containers.app.env.LOG_LEVEL.value": f"{GCLOUD} --container=app "
    "--update-env-vars=LOG_LEVEL=info",
    # A value with a comma uses gcloud's alternative delimiter, or gcloud would split it.
    "template.containers.app.env.FEATURES.value": f"{GCLOUD} --container=app "
    "'--update-env-vars=^@^FEATURES=chat,agents'",
    "template.containers.app.env.HEARTBEAT_SECONDS": f"{GCLOUD} --container=app "
    "--update-env-vars=HEARTBEAT_SECONDS=25",
    "template.containers.app.env.EXTRA": f"{GCLOUD} --container=app --remove-env-vars=EXTRA",
    "template.scaling.min_instance_count": f"{GCLOUD} --min-instances=1",
    "labels.temp": f"{GCLOUD} --remove-labels=temp",
    # A hostile value is one quoted argument, never shell syntax.
    "labels.note": f"{GCLOUD} " + shlex.quote(f"--update-labels=note={HOSTILE_LABEL}"),
    # Pinned to a disabled version: pin to staging's newest enabled one (3), not production's.
    "references.service/us-central1/api-${env}:containers.app.env.WS_KEY": f"{GCLOUD} "
    "--container=app --update-secrets=WS_KEY=ws-key:3",
}


def test_every_finding_says_why_and_the_command_that_undoes_it(
    checked: tuple[DriftReport, Path],
) -> None:
    report, _path = checked
    assert all(f.hint is not None and f.hint.why for f in report.findings)
    commands = {f.path: f.hint.commands for f in report.findings if f.hint}
    for path, command in EXPECTED.items():
        assert commands.get(path) == [command], (path, commands.get(path))
    # Both sides are named as they really are.
    assert (report.project, report.regions) == (STAGING, {REGION: REGION})
    assert (report.baseline.project, report.baseline.regions) == (PROD, {REGION: REGION})


def test_every_command_uses_only_documented_flags(checked: tuple[DriftReport, Path]) -> None:
    report, _path = checked
    seen = 0
    for finding in report.findings:
        for command in finding.hint.commands if finding.hint else []:
            argv = shlex.split(command)
            assert argv[:3] == ["gcloud", "run", "services"], command
            assert argv[4] == "api-stg" and not argv[4].startswith("-"), command
            assert "--project=acme-staging" in argv and "--region=us-central1" in argv
            flags = list(argv[5:])
            assert all(arg.startswith("--") for arg in flags), command
            if argv[3] == "update":
                for arg in flags:
                    name, _, value = arg.partition("=")
                    assert name in SERVICES_UPDATE_FLAGS, (name, command)
                    allowed = SERVICES_UPDATE_FLAGS[name]
                    assert allowed is None or value in allowed, (arg, command)
            else:
                assert argv[3] in {"add-iam-policy-binding", "remove-iam-policy-binding"}
                assert {arg.partition("=")[0] for arg in flags} <= IAM_BINDING_FLAGS
            seen += 1
    assert seen >= len(EXPECTED)


def test_violations_and_values_without_a_command_say_what_to_do(
    checked: tuple[DriftReport, Path],
) -> None:
    report, _path = checked
    unusable = by_path(
        report, "references.service/us-central1/api-${env}:containers.app.env.WS_KEY"
    )
    assert unusable.hint is not None and unusable.hint.how
    assert "enable the version again" in unusable.hint.how
    # A redacted value never reaches a command; the hint says what to do instead.
    for finding in report.findings:
        for command in finding.hint.commands if finding.hint else []:
            assert "redacted" not in command and "hmac-sha256" not in command


def test_hints_script_runs_each_command_with_exactly_its_arguments(
    checked: tuple[DriftReport, Path], run_cli: Run, tmp_path: Path
) -> None:
    report, json_path = checked
    result = run_cli("hints", str(json_path))
    assert result.code == 0, result.stderr
    script = result.stdout
    assert script.startswith("#!/bin/sh\n")
    assert "driftcheck never runs them" in script
    for finding in report.findings:
        if finding.active:
            assert f"# [{finding.severity.value}] {finding.id} " in script
    # Every line is a comment, a blank, `set -eu` or a gcloud command: no data escaped a comment.
    for line in script.splitlines()[1:]:
        assert line == "" or line.startswith(("# ", "gcloud ", "set -eu")), line

    # Run it with a stand-in gcloud that records its arguments, in an empty folder.
    bin_dir, work = tmp_path / "bin", tmp_path / "run"
    bin_dir.mkdir()
    work.mkdir()
    recorder = bin_dir / "gcloud"
    recorder.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"open({str(work / 'calls.jsonl')!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n",
        encoding="utf-8",
    )
    recorder.chmod(0o755)
    (work / "hints.sh").write_text(script, encoding="utf-8")
    done = subprocess.run(
        ["sh", "hints.sh"],
        cwd=work,
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    calls = [json.loads(line) for line in (work / "calls.jsonl").read_text().splitlines()]
    expected = [
        shlex.split(command)[1:]
        for finding in report.findings
        if finding.active and finding.hint
        for command in finding.hint.commands
    ]
    assert calls == expected
    assert sorted(p.name for p in work.iterdir()) == ["calls.jsonl", "hints.sh"]  # no `pwned`


def test_hints_of_something_that_is_not_a_report_is_one_line_exit_2(
    run_cli: Run, tmp_path: Path
) -> None:
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"findings": 3}', encoding="utf-8")
    result = run_cli("hints", str(bogus))
    assert result.code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert f"{bogus}: not a driftcheck JSON report" in result.stderr
    missing = run_cli("hints", str(tmp_path / "none.json"))
    assert missing.code == 2 and "report not found" in missing.stderr
