"""``driftcheck track``: one tracker issue per environment pair, against a loopback fake GitHub."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from driftcheck.emulator import EmulatorServer
from driftcheck.emulator.scenario import FaultSpec, Scenario
from driftcheck.track import marker
from tests.conftest import CliResult
from tests.factories import service, two_environments
from tests.fakegithub import TOKEN, FakeGitHub, fake_github

PAIR = "staging-vs-production"


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    """A fake GitHub, and the job's variables pointing at it."""
    with fake_github() as fake:
        for name, value in fake.environ().items():
            monkeypatch.setenv(name, value)
        yield fake


@pytest.fixture
def report_of(
    workdir: Path,
    emulator: Callable[[Scenario], EmulatorServer],
    run_cli: Callable[..., CliResult],
) -> Callable[[str], Path]:
    """The JSON report of `check staging --against production` in an estate that is clean,
    drifted or unreadable (then the check is incomplete)."""
    config = str(workdir / "driftcheck.yaml")
    emulator(two_environments())
    assert run_cli("--config", config, "baseline", "production").code == 0

    def make(kind: str) -> Path:
        staging = [service("backend", "acme-staging")]
        if kind == "drift":
            staging = [service("backend", "acme-staging", ingress="INGRESS_TRAFFIC_ALL")]
        scenario = two_environments(staging_services=staging)
        if kind == "incomplete":
            scenario.faults.append(FaultSpec(path="acme-staging", status=403))
        emulator(scenario)
        out = workdir / kind
        result = run_cli(
            "--config", config, "check", "staging", "--against", "production",
            "--format", "json", "--out-dir", str(out),
        )  # fmt: skip
        assert result.code == {"clean": 0, "drift": 1, "incomplete": 3}[kind], result.stderr
        return out / f"{PAIR}.json"

    return make


def test_drift_opens_one_issue_then_updates_it_and_a_clean_run_closes_it(
    github: FakeGitHub, report_of: Callable[[str], Path], run_cli: Callable[..., CliResult]
) -> None:
    github.state.add("Unrelated bug", "something else")
    github.state.add("A pull request", marker(PAIR), pull_request=True)  # never taken for it
    github.state.add("Another", "text")
    drift = report_of("drift")

    first = run_cli("track", str(drift), "--label", "drift")
    assert first.code == 0, first.stderr
    opened = [i for i in github.state.open_issues() if marker(PAIR) in i["body"]]
    assert len(opened) == 1
    number = opened[0]["number"]
    assert f"tracker {PAIR}: opened #{number}" in first.stderr
    assert opened[0]["title"].startswith("Drift: staging vs production (")
    assert "ingress" in opened[0]["body"] and opened[0]["labels"] == ["drift"]

    opened[0]["body"] = marker(PAIR) + "\nstale body"
    second = run_cli("track", str(drift))
    assert second.code == 0 and f"updated #{number}" in second.stderr
    tracked = [i for i in github.state.open_issues() if marker(PAIR) in i["body"]]
    assert [i["number"] for i in tracked] == [number]  # edited, not duplicated
    assert "stale body" not in tracked[0]["body"] and "ingress" in tracked[0]["body"]
    assert number not in github.state.comments

    clean = run_cli("track", str(report_of("clean")))
    assert clean.code == 0 and f"closed #{number}" in clean.stderr
    assert github.state.issues[number]["state"] == "closed"
    assert "**clean**" in github.state.comments[number][0]
    again = run_cli("track", str(report_of("clean")))
    assert again.code == 0 and "nothing (clean, no open issue)" in again.stderr


def test_an_incomplete_run_only_comments_and_never_opens_or_closes(
    github: FakeGitHub, report_of: Callable[[str], Path], run_cli: Callable[..., CliResult]
) -> None:
    incomplete = report_of("incomplete")
    nothing = run_cli("track", str(incomplete))
    assert nothing.code == 0 and "nothing (incomplete run" in nothing.stderr
    assert github.state.issues == {}

    number = github.state.add("Drift: staging vs production", marker(PAIR) + "\nold")
    result = run_cli("track", str(incomplete))
    assert result.code == 0 and f"commented (incomplete run) #{number}" in result.stderr
    assert github.state.issues[number]["state"] == "open"
    assert github.state.issues[number]["body"].endswith("old")
    assert "**incomplete**" in github.state.comments[number][0]
    assert [r.method for r in github.state.requests if r.method != "GET"] == ["POST"]


def test_the_token_is_sent_only_as_authorization_and_never_printed(
    github: FakeGitHub,
    report_of: Callable[[str], Path],
    run_cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drift = report_of("drift")
    ok = run_cli("-v", "track", str(drift))
    assert ok.code == 0
    assert {r.authorization for r in github.state.requests} == {f"Bearer {TOKEN}"}
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN + "-wrong")
    refused = run_cli("-v", "track", str(drift))
    assert refused.code == 2
    assert refused.stderr.strip().splitlines()[-1] == (
        "driftcheck: error: GitHub API GET issues: 401 Bad credentials"
    )
    for output in (ok.stdout, ok.stderr, refused.stdout, refused.stderr):
        assert TOKEN not in output


def test_missing_job_variables_are_one_line_usage_errors(
    github: FakeGitHub,
    report_of: Callable[[str], Path],
    run_cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drift = report_of("drift")
    monkeypatch.delenv("GITHUB_TOKEN")
    result = run_cli("track", str(drift))
    assert result.code == 2
    assert result.stderr == (
        "driftcheck: error: GITHUB_TOKEN is not set (the job's token, with issues: write)\n"
    )
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_REPOSITORY", "not a repository")
    assert run_cli("track", str(drift)).stderr == (
        "driftcheck: error: GITHUB_REPOSITORY must be OWNER/REPO\n"
    )
    assert github.state.requests == []


def test_a_github_failure_is_one_line_and_exit_2(
    github: FakeGitHub, report_of: Callable[[str], Path], run_cli: Callable[..., CliResult]
) -> None:
    drift = report_of("drift")
    github.state.fail_status = 422
    result = run_cli("track", str(drift))
    assert result.code == 2
    assert result.stderr == "driftcheck: error: GitHub API GET issues: 422 Validation Failed\n"
