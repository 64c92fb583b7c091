"""The GitHub workflows and the action: linted by actionlint and zizmor, pinned, keyless, least
privilege; the workflows are thin callers of the action, as the README shows them."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
ACTION = ROOT / "action.yml"
SELF = (
    "./ # zizmor: ignore[self-repository] the action at this ref; "
    "copies use OWNER/driftcheck@<commit>"
)
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert found, f"{name} is not installed (it is a dev dependency)"
    return found


def load(name: str) -> dict[Any, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_actionlint_is_clean() -> None:
    # A workflow step `uses: ./` makes actionlint read and check action.yml's inputs too.
    done = subprocess.run(
        [tool("actionlint"), *sorted(str(p) for p in WORKFLOWS.glob("*.yml"))],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_zizmor_is_clean() -> None:
    done = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", str(WORKFLOWS), str(ACTION)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings" in done.stdout + done.stderr


def _pinned(text: str) -> None:
    for use in re.findall(r"^\s*(?:-\s+)?uses:\s*(\S+)", text, flags=re.MULTILINE):
        assert use == "./" or re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", use), use


@pytest.mark.parametrize("name", ["ci.yml", "nightly.yml", "pre-release.yml"])
def test_actions_are_pinned_by_commit_and_permissions_are_minimal(name: str) -> None:
    text = (WORKFLOWS / name).read_text(encoding="utf-8")
    _pinned(text)
    workflow = load(name)
    assert workflow["permissions"] == {}
    for job in workflow["jobs"].values():
        assert set(job["permissions"]) <= {"contents", "id-token", "issues"}
        assert job["permissions"]["contents"] == "read"
    assert "credentials_json" not in text


def test_the_action_pins_its_actions_and_never_interpolates_inputs_into_shell() -> None:
    text = ACTION.read_text(encoding="utf-8")
    _pinned(text)
    action = yaml.safe_load(text)
    assert action["runs"]["using"] == "composite"
    for step in action["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step  # inputs reach scripts as env only


def _action_steps(name: str) -> list[dict[str, Any]]:
    steps = next(iter(load(name)["jobs"].values()))["steps"]
    return [s for s in steps if s.get("uses", "").startswith("./")]


def test_nightly_checks_both_pairs_with_the_tracker_once_at_a_time() -> None:
    workflow = load("nightly.yml")
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert "schedule" in triggers and "workflow_dispatch" in triggers
    assert workflow["concurrency"]["cancel-in-progress"] is False
    assert workflow["jobs"]["drift"]["permissions"]["issues"] == "write"
    checks = _action_steps("nightly.yml")
    assert [(s["with"]["environment"], s["with"].get("against")) for s in checks] == [
        ("production", None),
        ("staging", "production"),
    ]
    assert all(s["with"]["tracker"] == "true" for s in checks)
    assert checks[1]["if"] == "${{ !cancelled() }}"  # staging is checked when production drifts
    text = (WORKFLOWS / "nightly.yml").read_text(encoding="utf-8")
    assert "google-github-actions/auth" in text and "workload_identity_provider" in text
    assert "pip install" not in text  # the action installs itself


def test_pre_release_gate_runs_on_release_pull_requests_through_the_action() -> None:
    workflow = load("pre-release.yml")
    assert workflow[True]["pull_request"]["branches"] == ["release/**"]
    assert "workflow_call" not in workflow[True]  # copied, not called across repositories
    [gate] = _action_steps("pre-release.yml")
    assert gate["with"]["fail-on"] == "high" and gate["with"]["against"] == "production"
    assert "issues" not in workflow["jobs"]["parity"]["permissions"]


@pytest.mark.parametrize("name", ["nightly.yml", "pre-release.yml"])
def test_the_readme_shows_each_caller_workflow_as_it_is_but_for_uses(name: str) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ours = (WORKFLOWS / name).read_text(encoding="utf-8")
    marker = f"# .github/workflows/{name}\n"
    assert marker in readme, f"README lacks the {name} caller"
    start = readme.index(marker) + len(marker)
    shown = readme[start : readme.index("```", start)]
    copy = re.sub(r"OWNER/driftcheck@\S+ # v\S+", SELF, shown)
    assert copy == ours
