"""The GitHub Action's shell steps, run as the composite action runs them, on the emulator.

The steps' ``env`` mappings are read from action.yml and their ``${{ inputs.* }}`` expressions
filled with the inputs a workflow passes (or the action's defaults), so this exercises the same
script with the same variables as a job would.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftcheck.emulator import EmulatorServer
from driftcheck.emulator.scenario import Scenario
from driftcheck.track import marker
from tests.conftest import TEST_KEY, CliResult
from tests.factories import service, two_environments
from tests.fakegithub import TOKEN, fake_github

ROOT = Path(__file__).resolve().parent.parent
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
BIN = Path(sys.executable).parent


def step(step_id: str | None = None, name: str | None = None) -> dict[str, Any]:
    for candidate in ACTION["runs"]["steps"]:
        if (step_id and candidate.get("id") == step_id) or (name and candidate.get("name") == name):
            return dict(candidate)
    raise AssertionError(f"no step {step_id or name} in action.yml")


def expand(value: str, inputs: dict[str, str], context: dict[str, str]) -> str:
    """``${{ inputs.x }}`` and ``${{ steps.check.outputs.y }}`` as GitHub fills them in."""

    def one(match: re.Match[str]) -> str:
        expression = match.group(1).strip()
        if expression.startswith("inputs."):
            key = expression.removeprefix("inputs.")
            default = str(ACTION["inputs"][key].get("default", ""))
            return inputs.get(key, expand(default, inputs, context))
        return context[expression]

    return re.sub(r"\$\{\{(.*?)\}\}", one, value)


@dataclass
class StepRun:
    """A step's exit code, its log, and what it wrote to GITHUB_OUTPUT and the summary."""

    code: int
    log: str
    outputs: dict[str, str]
    summary: str


def run_step(
    definition: dict[str, Any],
    cwd: Path,
    inputs: dict[str, str],
    extra_env: dict[str, str],
    context: dict[str, str] | None = None,
) -> StepRun:
    context = {"github.token": TOKEN, **(context or {})}
    output, summary = cwd / "github_output", cwd / "step_summary"
    output.write_text("", encoding="utf-8")
    summary.write_text("", encoding="utf-8")
    env = {
        **{k: v for k, v in os.environ.items() if k != "DRIFTCHECK_FINGERPRINT_KEY"},
        **extra_env,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_ACTION_PATH": str(ROOT),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    for key, value in (definition.get("env") or {}).items():
        env[key] = expand(str(value), inputs, context)
    assert definition["shell"] == "bash"
    done = subprocess.run(
        ["bash", "-e", "-c", definition["run"]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    outputs = dict(
        line.split("=", 1) for line in output.read_text(encoding="utf-8").splitlines() if line
    )
    return StepRun(
        done.returncode, done.stdout + done.stderr, outputs, summary.read_text(encoding="utf-8")
    )


@pytest.fixture
def estate(
    workdir: Path,
    emulator: Callable[[Scenario], EmulatorServer],
    run_cli: Callable[..., CliResult],
) -> Path:
    """Production baselined; staging has drifted (public ingress)."""
    emulator(two_environments())
    assert run_cli("--config", str(workdir / "driftcheck.yaml"), "baseline", "production").code == 0
    drifted = [service("backend", "acme-staging", ingress="INGRESS_TRAFFIC_ALL")]
    emulator(two_environments(staging_services=drifted))
    return workdir


def test_drift_fails_after_reports_summary_sarif_and_tracker_issue(estate: Path) -> None:
    inputs = {
        "environment": "staging",
        "against": "production",
        "fail-on": "high",
        "sarif": "true",
        "tracker": "true",
        "tracker-labels": "drift, nightly",
        "fingerprint-key": TEST_KEY,
    }
    with fake_github() as github:
        check = run_step(step("check"), estate, inputs, github.environ() | {"GITHUB_TOKEN": ""})
        issues = github.state.open_issues()
    assert check.code == 0, check.log  # the step itself never fails: the verdict step does
    out_dir = estate / "reports" / "driftcheck"
    pair = "staging-vs-production"
    assert check.outputs == {
        "pair": pair,
        "artifact-name": f"driftcheck-{pair}",
        "report-files": f"reports/driftcheck/{pair}.*",
        "report": f"reports/driftcheck/{pair}.json",
        "status": "drift",
        "sarif": f"reports/driftcheck/{pair}.sarif",
        "exit-code": "1",
    }
    assert sorted(p.name for p in out_dir.glob(f"{pair}.*")) == [
        f"{pair}.{ext}" for ext in ("html", "json", "md", "sarif", "snapshot.yaml")
    ]
    assert check.summary == (out_dir / f"{pair}.md").read_text(encoding="utf-8")
    assert len(issues) == 1 and marker(pair) in issues[0]["body"]
    assert issues[0]["labels"] == ["drift", "nightly"]
    assert TOKEN not in check.log and TEST_KEY not in check.log
    verdict = run_step(
        step(name="Verdict"), estate, inputs, {}, {"steps.check.outputs.exit-code": "1"}
    )
    assert verdict.code == 1
    assert "::error::driftcheck: drift at or above fail-on (exit 1)" in verdict.log


def test_a_clean_check_against_its_own_baseline_passes(estate: Path) -> None:
    inputs = {"environment": "production", "formats": "md", "fingerprint-key": TEST_KEY}
    check = run_step(step("check"), estate, inputs, {})
    assert check.code == 0, check.log
    assert check.outputs["exit-code"] == "0" and check.outputs["status"] == "clean"
    assert "sarif" not in check.outputs  # not asked for
    assert "driftcheck: production vs production" in check.summary
    verdict = run_step(
        step(name="Verdict"), estate, inputs, {}, {"steps.check.outputs.exit-code": "0"}
    )
    assert verdict.code == 0


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"environment": "staging; touch pwned"}, "environment must be an environment name"),
        ({"environment": "staging", "fail-on": "sometimes"}, "fail-on must be one of"),
        ({"environment": "staging", "version": "9.9.9"}, "version 9.9.9 was asked for"),
    ],
)
def test_bad_inputs_run_nothing_and_fail_the_verdict(
    estate: Path, inputs: dict[str, str], message: str
) -> None:
    check = run_step(step("check"), estate, inputs, {})
    assert check.outputs == {"exit-code": "2"}
    assert message in check.log
    assert not (estate / "pwned").exists() and not (estate / "reports").exists()
    verdict = run_step(
        step(name="Verdict"), estate, inputs, {}, {"steps.check.outputs.exit-code": "2"}
    )
    assert verdict.code == 2


def test_the_install_step_uses_the_hashed_locks_and_the_action_checkout() -> None:
    install = step(name="Install driftcheck from the action's checkout (hashed lock)")
    assert install["run"] == (
        'bash "$GITHUB_ACTION_PATH/action/install.sh" "$RUNNER_TEMP/driftcheck-venv"'
    )
    script = (ROOT / "action" / "install.sh").read_text(encoding="utf-8")
    assert "--require-hashes" in script and "requirements/runtime.lock" in script
    assert '--no-deps --no-build-isolation "$root"' in script
    assert set(ACTION["inputs"]) >= {
        "config", "environment", "against", "fail-on", "formats", "version", "sarif", "tracker",
    }  # fmt: skip
