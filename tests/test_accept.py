"""``baseline ENV --accept ID``: one drift accepted into the environment's own baseline, and
nothing else in the file changes."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path

from driftcheck.emulator import EmulatorServer
from driftcheck.emulator.scenario import Scenario
from driftcheck.model import DriftReport
from tests.conftest import CliResult
from tests.factories import PROD, invoker_policy, project, scenario, service

Start = Callable[[Scenario], EmulatorServer]
Run = Callable[..., CliResult]


def estate(
    timeout: str = "3600s", ingress: str = "INGRESS_TRAFFIC_INTERNAL_ONLY", *members: str
) -> Scenario:
    backend = service("backend", PROD, ingress=ingress)
    backend["template"]["timeout"] = timeout
    policy = invoker_policy(*(members or ("group:ops@example.com",)))
    return scenario(projects={PROD: project([backend], "111111111111", iam={"backend": policy})})


def findings(workdir: Path) -> dict[str, str]:
    report = DriftReport.model_validate_json(
        (workdir / "reports" / "production-vs-production.json").read_text()
    )
    return {f.path: f.id for f in report.findings}


def test_accepting_one_drift_changes_only_its_lines(
    emulator: Start, run_cli: Run, workdir: Path
) -> None:
    cli = lambda *args: run_cli("--config", str(workdir / "driftcheck.yaml"), *args)  # noqa: E731
    first = emulator(estate())
    assert cli("baseline", "production").code == 0
    path = workdir / "baselines" / "production.yaml"
    before = path.read_text()
    first.stop()
    emulator(estate("300s", "INGRESS_TRAFFIC_ALL", "group:ops@example.com", "allUsers"))
    assert cli("check", "production").code == 1
    found = findings(workdir)
    assert set(found) == {"template.timeout", "ingress", "iam.roles/run.invoker"}

    result = cli("baseline", "production", "--accept", found["template.timeout"])
    assert result.code == 0, result.stderr
    assert (
        f"accepted {found['template.timeout']}: service/us-central1/backend template.timeout"
        in (result.stderr)
    )
    after = path.read_text()
    changed = [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))
    ]
    assert changed == ["-      timeout: 3600", "+      timeout: 300"]
    assert cli("baseline", "production", "--check").code == 0  # still canonical

    assert cli("check", "production").code == 1
    assert set(findings(workdir)) == {"ingress", "iam.roles/run.invoker"}
    # Several at once, comma-separated: the public invoker and the ingress.
    both = f"{found['ingress']},{found['iam.roles/run.invoker']}"
    assert cli("baseline", "production", "--accept", both).code == 0
    assert "allUsers" in path.read_text()
    assert cli("check", "production").code == 0


def test_accepting_an_unknown_id_is_exit_2_and_writes_nothing(
    emulator: Start, run_cli: Run, workdir: Path
) -> None:
    cli = lambda *args: run_cli("--config", str(workdir / "driftcheck.yaml"), *args)  # noqa: E731
    emulator(estate())
    assert cli("baseline", "production").code == 0
    path = workdir / "baselines" / "production.yaml"
    before = path.read_bytes()
    result = cli("baseline", "production", "--accept", "0123456789abcdef")
    assert result.code == 2
    assert "--accept 0123456789abcdef: no such finding" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert path.read_bytes() == before
