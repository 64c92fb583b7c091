"""The command line end to end: exit codes, files written, one-line errors."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from driftcheck.emulator import EmulatorServer
from driftcheck.emulator.scenario import FaultSpec, Scenario
from driftcheck.model import DriftReport
from tests.conftest import CliResult
from tests.factories import (
    PROD,
    STAGING,
    config_data,
    invoker_policy,
    large_estate,
    project,
    scenario,
    service,
    write_config,
)

Start = Callable[[Scenario], EmulatorServer]
Run = Callable[..., CliResult]


def incident() -> Scenario:
    """Production and a drifted staging, as in the motivating incident."""
    prod = service("backend", PROD)
    staging = service(
        "backend",
        STAGING,
        ingress="INGRESS_TRAFFIC_ALL",
        template={
            **service("backend", STAGING)["template"],
            "timeout": "300s",
            "sessionAffinity": False,
        },
    )
    staging["template"]["containers"][0]["ports"] = [{"name": "h2c", "containerPort": 8080}]
    staging["template"]["containers"][0]["env"].append(
        {"name": "SESSION_SECRET", "value": "canary-session-secret-5d1f"}
    )
    return scenario(
        projects={
            PROD: project([prod], "111111111111", iam={"backend": invoker_policy("user:a@x.com")}),
            STAGING: project(
                [staging], "222222222222", iam={"backend": invoker_policy("allUsers")}
            ),
        }
    )


def found_id(report: DriftReport, path_prefix: str) -> str:
    (finding,) = [f for f in report.findings if f.path.startswith(path_prefix)]
    return finding.id


def report_of(directory: Path, stem: str) -> DriftReport:
    return DriftReport.model_validate_json((directory / f"{stem}.json").read_text())


@pytest.fixture
def cli(run_cli: Run, workdir: Path) -> Run:
    """run_cli with --config pointing at the work folder's driftcheck.yaml."""
    return lambda *args: run_cli("--config", str(workdir / "driftcheck.yaml"), *args)


def test_environment_against_its_own_fresh_baseline_is_clean(
    emulator: Start, cli: Run, workdir: Path
) -> None:
    emulator(incident())
    made = cli("baseline", "production")
    assert made.code == 0, made.stderr
    assert (workdir / "baselines" / "production.yaml").is_file()
    result = cli("check", "production")
    assert result.code == 0, result.stderr
    report = report_of(workdir / "reports", "production-vs-production")
    assert report.status.value == "clean"
    assert report.findings == []
    for suffix in ("json", "html", "md", "snapshot.yaml"):
        assert (workdir / "reports" / f"production-vs-production.{suffix}").is_file()


def test_staging_against_production_reports_each_planted_drift(
    emulator: Start, cli: Run, workdir: Path
) -> None:
    emulator(incident())
    assert cli("baseline", "production").code == 0
    result = cli("check", "staging", "--against", "production")
    assert result.code == 1
    report = report_of(workdir / "reports", "staging-vs-production")
    assert report.status.value == "drift"
    found = {(f.path, f.severity.value) for f in report.findings}
    assert {
        ("ingress", "critical"),
        ("iam.roles/run.invoker", "critical"),
        ("template.timeout", "high"),
        ("template.session_affinity", "high"),
        ("template.containers.app.ports.8080.name", "high"),
        ("template.containers.app.env.SESSION_SECRET", "medium"),
    } <= found
    lines = result.stderr.splitlines()
    assert lines[0] == "driftcheck: staging (acme-staging) vs production (acme-prod): DRIFT"
    assert lines[1] == "  compared 1 service in us-central1"
    assert lines[2] == "  ~ service/us-central1/backend"
    ingress = next(f for f in report.findings if f.path == "ingress")
    ingress_line = "ingress: ingress_traffic_internal_only -> ingress_traffic_all"
    assert f"    ~ critical {ingress_line}  {ingress.id}" in lines
    invoker = f"+ allUsers, - user:a@x.com  {found_id(report, 'iam')}"
    assert f"    ~ critical iam.roles/run.invoker: {invoker}" in lines
    assert lines[-1].startswith("Drift: ") and "; exit 1. Next: run driftcheck hints " in lines[-1]
    assert lines[-1].endswith("staging-vs-production.html.")


def test_fail_on_raises_the_threshold(emulator: Start, cli: Run) -> None:
    emulator(incident())
    cli("baseline", "production")
    assert cli("check", "staging", "--against", "production", "--fail-on", "critical").code == 1
    staging_only_medium = cli("check", "staging", "--against", "production", "--fail-on", "info")
    assert staging_only_medium.code == 1


def test_forbidden_service_yields_exit_3_and_an_incomplete_report_naming_it(
    emulator: Start, cli: Run, workdir: Path
) -> None:
    server = emulator(incident())
    assert cli("baseline", "staging").code == 0
    assert cli("baseline", "production").code == 0
    server.add_fault(FaultSpec(path="services/backend:getIamPolicy$", status=403))
    result = cli("check", "staging", "--format", "json,md")
    assert result.code == 3
    report = report_of(workdir / "reports", "staging-vs-staging")
    assert report.status.value == "incomplete"
    assert [(e.resource, e.source, e.path) for e in report.errors] == [
        ("service/us-central1/backend", "run.googleapis.com", "iam")
    ]
    # The 403 names the permission that is missing and the role that grants it.
    assert "run.services.getIamPolicy" in report.errors[0].message
    assert "roles/run.viewer" in report.errors[0].message
    assert "[incomplete] service/us-central1/backend (iam):" in result.stderr
    assert "403" in result.stderr
    # Only the IAM policy is lost: the service itself is still read and compared.
    (coverage,) = report.coverage
    assert (coverage.kind, coverage.matched) == ("service", 1)
    # Nothing differs from its own baseline; the secret set in clear is a violation in itself.
    assert [(f.kind.value, f.rule) for f in report.findings] == [("violation", "plain-secret")]
    markdown = (workdir / "reports" / "staging-vs-staging.md").read_text()
    assert "incomplete" in markdown and "service/us-central1/backend" in markdown

    # Against production, the rest of the service is judged; the unread IAM is not drift.
    against = cli("check", "staging", "--against", "production", "--format", "json")
    assert against.code == 3
    paths = {f.path for f in report_of(workdir / "reports", "staging-vs-production").findings}
    assert {"ingress", "template.timeout", "template.session_affinity"} <= paths
    assert not any(path.startswith("iam") for path in paths)


def test_baseline_refuses_to_write_an_incomplete_collection(
    emulator: Start, cli: Run, workdir: Path
) -> None:
    emulator(incident()).add_fault(FaultSpec(path="/services$", status=403))
    result = cli("baseline", "production")
    assert result.code == 3
    assert not (workdir / "baselines" / "production.yaml").exists()
    assert "baseline not written" in result.stderr


def test_baseline_is_unchanged_when_nothing_changed(
    emulator: Start, cli: Run, workdir: Path
) -> None:
    emulator(incident())
    cli("baseline", "production")
    path = workdir / "baselines" / "production.yaml"
    first = path.read_bytes()
    result = cli("baseline", "production")
    assert result.code == 0
    assert "unchanged" in result.stderr
    assert path.read_bytes() == first


def test_baseline_check_accepts_canonical_and_rejects_edited(
    emulator: Start, cli: Run, workdir: Path
) -> None:
    emulator(incident())
    cli("baseline", "production")
    assert cli("baseline", "production", "--check").code == 0
    path = workdir / "baselines" / "production.yaml"
    path.write_text(path.read_text().replace("resources:\n", "resources:  \n"), encoding="utf-8")
    result = cli("baseline", "production", "--check")
    assert result.code == 2
    assert "not in canonical form" in result.stderr


def test_missing_baseline_is_an_input_error(emulator: Start, cli: Run) -> None:
    server = emulator(incident())
    result = cli("check", "staging", "--against", "production")
    assert result.code == 2
    assert "baselines/production.yaml: baseline not found" in result.stderr
    assert server.calls == []  # the baseline is read before any API call


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        (lambda text: text.replace("schema_version: 2", "schema_version: 9"), "schema version 9"),
        (
            lambda text: text.replace("environment: production", "environment: staging"),
            "is of environment 'staging', expected 'production'",
        ),
        (lambda text: text + "resources: {}\n", "duplicate key 'resources'"),
        (lambda text: text.replace("project: acme-prod", "project: [1, 2]"), "project"),
        (lambda text: "\x00\x01garbage", "invalid YAML"),
    ],
)
def test_corrupt_baseline_is_exit_2_naming_file_and_place(
    emulator: Start, cli: Run, workdir: Path, mutation: Callable[[str], str], expected: str
) -> None:
    emulator(incident())
    cli("baseline", "production")
    path = workdir / "baselines" / "production.yaml"
    path.write_text(mutation(path.read_text()), encoding="utf-8")
    result = cli("check", "production")
    assert result.code == 2
    assert str(path) in result.stderr and expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (workdir / "reports").exists()


def test_a_baseline_of_another_version_is_refused_before_any_api_call(
    emulator: Start, cli: Run, workdir: Path
) -> None:
    server = emulator(incident())
    assert cli("baseline", "production").code == 0
    path = workdir / "baselines" / "production.yaml"
    path.write_text(path.read_text().replace("schema_version: 2", "schema_version: 9"))
    before = len(server.calls)
    result = cli("check", "production")
    assert result.code == 2 and "schema version 9" in result.stderr
    assert len(server.calls) == before


def test_a_corrupt_baseline_body_stops_the_reading_it_was_parsed_beside(
    emulator: Start, cli: Run, workdir: Path
) -> None:
    # The body is parsed while the API is read: when it turns out corrupt, the run ends (exit
    # 2, nothing written) and the calls not yet started are cancelled, never made.
    server = emulator(large_estate(300, latency_ms=100, max_page_size=100))
    assert cli("baseline", "production").code == 0
    full_run = len(server.calls)
    path = workdir / "baselines" / "production.yaml"
    path.write_text(path.read_text() + "resources: {}\n")
    before = len(server.calls)
    result = cli("check", "production")
    assert result.code == 2 and "duplicate key 'resources'" in result.stderr
    assert not (workdir / "reports").exists()
    at_exit = len(server.calls)
    time.sleep(1.0)  # what was on the wire, or paging, has ended meanwhile
    assert full_run > 300
    assert at_exit - before < full_run
    assert len(server.calls) - at_exit <= 16 + 8  # the calls in flight, listings' last pages


def test_a_corrupt_baseline_body_ends_a_run_whose_listing_keeps_failing_at_once(
    emulator: Start, cli: Run, workdir: Path
) -> None:
    # A small run never queues calls for the pool's slots: the body is parsed once the first
    # listing's answer is in (here an error, to be retried for 20 s), not after the retries.
    server = emulator(incident())
    write_config(workdir, **config_data(api={"timeout_seconds": 5, "retry_seconds": 20}))
    assert cli("baseline", "production").code == 0
    path = workdir / "baselines" / "production.yaml"
    path.write_text(path.read_text() + "resources: {}\n")
    server.add_fault(FaultSpec(path="/services$", status=503))
    before = len(server.calls)
    started = time.monotonic()
    result = cli("check", "production")
    assert result.code == 2 and "duplicate key 'resources'" in result.stderr
    assert time.monotonic() - started < 10
    assert len(server.calls) - before < 10
    assert not (workdir / "reports").exists()


def test_missing_fingerprint_key_is_a_usage_error(
    emulator: Start, cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator(incident())
    monkeypatch.delenv("DRIFTCHECK_FINGERPRINT_KEY")
    result = cli("collect", "production")
    assert result.code == 2
    assert "DRIFTCHECK_FINGERPRINT_KEY is not set" in result.stderr


def test_bad_format_is_a_usage_error(emulator: Start, cli: Run) -> None:
    server = emulator(incident())
    result = cli("check", "production", "--format", "json,pdf")
    assert result.code == 2
    assert "unknown format 'pdf'" in result.stderr
    assert server.calls == []


def test_collect_writes_yaml_to_stdout_or_a_file(emulator: Start, cli: Run, workdir: Path) -> None:
    emulator(incident())
    result = cli("collect", "staging")
    assert result.code == 0
    assert result.stdout.startswith("schema_version: 2\nenvironment: staging\n")
    assert "\nregions:\n  us-central1: us-central1\n" in result.stdout
    assert "service/us-central1/backend:" in result.stdout
    out = workdir / "snap.yaml"
    assert cli("collect", "staging", "-o", str(out)).code == 0
    assert "service/us-central1/backend:" in out.read_text()


def test_diff_reproduces_the_findings_of_check(emulator: Start, cli: Run, workdir: Path) -> None:
    emulator(incident())
    cli("baseline", "production")
    cli("check", "staging", "--against", "production")
    checked = report_of(workdir / "reports", "staging-vs-production")
    out = workdir / "offline"
    result = cli(
        "diff",
        str(workdir / "baselines" / "production.yaml"),
        str(workdir / "reports" / "staging-vs-production.snapshot.yaml"),
        "--out-dir",
        str(out),
    )
    assert result.code == 1
    replayed = report_of(out, "staging-vs-production")
    assert [f.model_dump() for f in replayed.findings] == [f.model_dump() for f in checked.findings]


def test_secret_looking_value_never_appears_in_any_output(
    emulator: Start, cli: Run, workdir: Path
) -> None:
    emulator(incident())
    streams = [
        cli("baseline", "staging"),
        cli("collect", "staging"),
        cli("-v", "check", "staging"),
        cli("check", "staging", "--against", "production"),
        cli("-v", "check", "staging", "--against", "production"),
    ]
    assert "canary-session-secret" not in json.dumps([s.__dict__ for s in streams])
    for path in workdir.rglob("*"):
        if path.is_file():
            assert b"canary-session-secret" not in path.read_bytes(), path


def test_python_dash_m_runs_the_cli(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "driftcheck",
            "--config",
            str(tmp_path / "none.yaml"),
            "collect",
            "x",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip() == f"driftcheck: error: {tmp_path / 'none.yaml'}: config file not found"
    )


def test_the_console_script_exits_with_everything_it_printed_flushed() -> None:
    """The process ends without the interpreter's teardown (``cli.run``): what is still in the
    buffer of a piped stdout must be written first, and the status kept."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "driftcheck", "schema", "config"],
        capture_output=True,
        check=False,
        timeout=60,
    )
    published = (Path(__file__).parents[1] / "schemas" / "config.schema.json").read_bytes()
    assert len(published) > 16 * 1024  # more than one buffer's worth, and a partial last one
    assert (done.returncode, done.stdout, done.stderr) == (0, published, b"")


def test_the_console_script_ends_without_the_interpreters_teardown() -> None:
    """What runs at interpreter exit (here an atexit handler standing for the teardown) is
    skipped once the command is done; its output and status are kept."""
    import subprocess
    import sys

    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('teardown ran'))\n"
        "sys.argv = ['driftcheck', '--config', '/nonexistent/driftcheck.yaml', 'collect', 'x']\n"
        "from driftcheck.cli import run\n"
        "run()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 2
    assert "config file not found" in done.stderr
    assert "teardown ran" not in done.stdout


@pytest.mark.parametrize(
    ("closed", "args", "status"),
    [
        ("2>&-", ["--config", "/nonexistent/driftcheck.yaml", "collect", "x"], 2),
        ("2>&-", ["no-such-command"], 2),
        (">&-", ["schema", "config"], 0),
        (">&-", ["--config", "/nonexistent/driftcheck.yaml", "collect", "x"], 2),
    ],
)
def test_a_closed_stdout_or_stderr_leaves_the_exit_status_as_it_is(
    closed: str, args: list[str], status: int
) -> None:
    """Python leaves sys.stdout or sys.stderr None when the stream was closed at start: the exit
    (and the progress display's terminal test) must take that in stride, no traceback."""
    import shlex
    import subprocess
    import sys

    command = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "driftcheck", *args])
    done = subprocess.run(
        ["/bin/sh", "-c", f"exec {command} {closed}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == status
    assert "Traceback" not in done.stdout + done.stderr


def test_under_a_profiler_the_process_exits_as_usual_and_the_profile_is_written(
    tmp_path: Path,
) -> None:
    """Profilers, tracers and coverage write their results as the interpreter exits: the fast
    exit of the console script must not take that away from them."""
    import subprocess
    import sys

    profile = tmp_path / "run.prof"
    done = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "driftcheck", "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("driftcheck, version")
    assert profile.stat().st_size > 0


def test_unwritable_report_folder_is_one_line_exit_2(
    emulator: Start, cli: Run, workdir: Path
) -> None:
    emulator(incident())
    cli("baseline", "production")
    blocker = workdir / "not-a-folder"
    blocker.write_text("")
    result = cli("check", "production", "--out-dir", str(blocker / "reports"))
    assert result.code == 2
    assert result.stderr.strip().splitlines() == [
        f"driftcheck: error: {blocker / 'reports'}/production-vs-production.json: "
        "cannot write: Not a directory"
    ]


def test_verbose_logs_what_was_collected(emulator: Start, cli: Run) -> None:
    emulator(incident())
    result = cli("-v", "collect", "production")
    assert result.code == 0
    assert "production: collected 1 service in" in result.stderr


CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@pytest.mark.parametrize(
    "args",
    [
        ("check", "production", "--fail-on", "\x1b]0;pwned\x07"),  # click's own usage error
        ("check", "prod\x1b[2J\u202euction"),  # a driftcheck error naming the input
        ("-v", "check", "staging\x9b31m", "--against", "production"),  # with -v logging
        ("hints", "/nonexistent/\x1b[31mreport.json"),
    ],
)
def test_stderr_carries_no_control_character_from_any_source(
    emulator: Start, cli: Run, args: tuple[str, ...]
) -> None:
    emulator(incident())
    result = cli(*args)
    assert result.code == 2
    assert result.stderr and not CONTROL.search(result.stderr.replace("\n", "")), result.stderr


def test_summaries_are_printed_once_the_progress_display_is_gone(
    emulator: Start, cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Reports are written as each check is judged, while others are still read; a summary
    # printed under the live progress display would be erased by it.
    import click

    from driftcheck import progress
    from driftcheck.progress import NullProgress

    emulator(incident())
    assert cli("baseline", "production").code == 0
    assert cli("baseline", "staging").code == 0
    events: list[str] = []

    class Recording(NullProgress):
        def stop(self) -> None:
            events.append("progress stopped")

    echo = click.echo

    def recording_echo(message: object = None, *args: object, **kwargs: object) -> None:
        events.append(f"printed {str(message).splitlines()[0] if message else ''}")
        echo(message, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(progress, "progress_for", lambda _quiet: Recording())
    monkeypatch.setattr(click, "echo", recording_echo)
    result = cli("check", "production", "staging")
    assert result.code in (0, 1)
    summaries = [i for i, event in enumerate(events) if event.startswith("printed driftcheck:")]
    assert len(summaries) == 2
    assert events.index("progress stopped") < summaries[0]


def test_the_report_names_the_baseline_bytes_that_were_compared(
    emulator: Start, cli: Run, workdir: Path
) -> None:
    # Replaced, or gone, while the API is read: the report still names what was compared.
    import hashlib
    import threading

    emulator(large_estate(40, latency_ms=100, max_page_size=10))
    assert cli("baseline", "production").code == 0
    path = workdir / "baselines" / "production.yaml"
    compared = hashlib.sha256(path.read_bytes()).hexdigest()
    removal = threading.Timer(0.2, path.unlink)  # the check reads 4 pages, 100 ms each
    removal.start()
    result = cli("check", "production")
    removal.join()
    assert result.code == 0, result.stderr
    assert not path.exists()
    report = report_of(workdir / "reports", "production-vs-production")
    assert report.baseline.sha256 == compared


def test_of_several_checks_one_that_could_not_read_is_never_clean(
    emulator: Start, cli: Run, workdir: Path
) -> None:
    # Checks reported one by one as each is judged: the one whose listing failed is incomplete
    # (exit 3, the most severe), the other judged clean on its own; nothing read is compared.
    server = emulator(incident())
    assert cli("baseline", "production").code == 0
    assert cli("baseline", "staging").code == 0
    server.add_fault(FaultSpec(path=f"/{STAGING}/locations/us-central1/services$", status=403))
    result = cli("check", "production", "staging")
    assert result.code == 3
    reports = workdir / "reports"
    assert report_of(reports, "production-vs-production").status.value == "clean"
    staging = report_of(reports, "staging-vs-staging")
    assert staging.status.value == "incomplete"
    assert staging.findings == []  # what was not read is not reported as removed
