"""The GitHub workflows: linted by actionlint and zizmor, pinned, keyless, least privilege."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parent.parent / ".github" / "workflows"
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
        [tool("zizmor"), "--offline", "--no-progress", str(WORKFLOWS)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings" in done.stdout + done.stderr


@pytest.mark.parametrize("name", ["ci.yml", "nightly.yml", "pre-release.yml"])
def test_actions_are_pinned_by_commit_and_permissions_are_minimal(name: str) -> None:
    text = (WORKFLOWS / name).read_text(encoding="utf-8")
    for use in re.findall(r"uses:\s*(\S+)", text):
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", use), use
    workflow = load(name)
    assert workflow["permissions"] == {}
    for job in workflow["jobs"].values():
        assert set(job["permissions"]) <= {"contents", "id-token"}
        assert job["permissions"]["contents"] == "read"
    assert "credentials_json" not in text


def test_nightly_runs_on_schedule_once_at_a_time_and_fails_on_drift_or_incomplete() -> None:
    workflow = load("nightly.yml")
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert "schedule" in triggers and "workflow_dispatch" in triggers
    assert workflow["concurrency"]["cancel-in-progress"] is False
    text = (WORKFLOWS / "nightly.yml").read_text(encoding="utf-8")
    assert "driftcheck check production" in text
    assert "driftcheck check staging --against production" in text
    assert "GITHUB_STEP_SUMMARY" in text and "upload-artifact" in text
    assert "google-github-actions/auth" in text and "workload_identity_provider" in text


def test_pre_release_gate_is_reusable_and_runs_on_release_pull_requests() -> None:
    triggers = load("pre-release.yml")[True]
    assert "workflow_call" in triggers
    assert triggers["pull_request"]["branches"] == ["release/**"]
