"""A hostile world, round two: APIs that never finish answering, bodies that crash parsers,
and secrets where real services keep them.

Each hang is a real driftcheck process against the emulator; the harness bounds its wall-clock
time (a hang fails the test), and the test asserts the outcome, not the timing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from driftcheck.emulator import EmulatorServer
from driftcheck.emulator.scenario import FaultSpec, Scenario
from driftcheck.model import DriftReport
from tests.conftest import TEST_KEY
from tests.factories import PROD, project, scenario, service, write_config

Start = Callable[[Scenario], EmulatorServer]
HARNESS_BOUND = 90  # seconds: far above any bounded run, far below a hang


def estate(*faults: FaultSpec, secrets: dict[str, Any] | None = None) -> Scenario:
    backend = service("backend")
    if secrets:
        backend["template"]["containers"][0]["env"].append(
            {"name": "KEY", "valueSource": {"secretKeyRef": {"secret": "key", "version": "1"}}}
        )
    return scenario(projects={PROD: project([backend], secrets=secrets)}, faults=list(faults))


def configure(directory: Path, timeout: float = 2, retry: float = 1) -> Path:
    return write_config(
        directory,
        environments={"production": {"project": PROD, "regions": ["us-central1"]}},
        api={"timeout_seconds": timeout, "retry_seconds": retry},
    )


def start(server: EmulatorServer, config: Path, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "DRIFTCHECK_FINGERPRINT_KEY": TEST_KEY,
        "DRIFTCHECK_RUN_ENDPOINT": server.url,
        "DRIFTCHECK_SECRETMANAGER_ENDPOINT": server.url,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "driftcheck", "--config", str(config), "-q", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        _out, err = process.communicate(timeout=HARNESS_BOUND)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("driftcheck hung")
    return process.returncode, err


@pytest.mark.parametrize(
    ("path", "secrets"),
    [
        (r"/services$", None),
        (r"/secrets/key/versions$", {"key": {"versions": [{"version": 1, "payload": "p"}]}}),
    ],
)
def test_a_page_token_that_repeats_forever_ends_the_listing(
    emulator: Start, tmp_path: Path, path: str, secrets: dict[str, Any] | None
) -> None:
    server = emulator(estate(FaultSpec(path=path, body="repeat-token"), secrets=secrets))
    code, err = finish(start(server, configure(tmp_path), "collect", "production"))
    assert code == 3, err
    assert "pagination did not end: the API repeated a page token" in err
    listed = [p for _m, p in server.calls if p.endswith(path.strip("$").replace("\\", ""))]
    assert len(listed) <= 3  # the loop was noticed at once, not after hammering the API
    assert "Traceback" not in err


def test_an_answer_that_trickles_is_bounded_in_total(emulator: Start, tmp_path: Path) -> None:
    fault = FaultSpec(path=r"/services$", body="trickle", delay_seconds=0.3)
    server = emulator(estate(fault))
    code, err = finish(start(server, configure(tmp_path), "collect", "production"))
    assert code == 3, err
    assert "timed out" in err or "gave up" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stuck_call_never_blocks_an_interruption(
    emulator: Start, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    # Each read succeeds within its timeout, and the call would last ~20 minutes.
    fault = FaultSpec(path=r"/services$", body="trickle", delay_seconds=1.0)
    server = emulator(estate(fault))
    config = configure(tmp_path, timeout=600, retry=600)
    process = start(server, config, "baseline", "production")
    deadline = time.monotonic() + 30
    while not server.calls and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    assert process.poll() is None
    process.send_signal(sig)
    try:
        _out, err = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("an interruption did not stop driftcheck while a call was stuck")
    assert process.returncode == code, err
    assert "half-written" in err
    assert not (tmp_path / "baselines").exists()


def test_a_pathologically_nested_error_body_is_unreadable_not_a_crash(
    emulator: Start, tmp_path: Path
) -> None:
    server = emulator(estate(FaultSpec(path=r"/services$", status=500, body="deep")))
    code, err = finish(start(server, configure(tmp_path), "collect", "production"))
    assert code == 3, err
    assert "internal error" not in err
    assert "Traceback" not in err


def test_a_malformed_snapshot_body_is_an_input_error_naming_the_file(tmp_path: Path) -> None:
    header = (
        "schema_version: 2\nenvironment: {env}\nproject: acme-prod\n"
        "regions: {{us-central1: us-central1}}\ncollected_at: t\ntool_version: x\n"
    )
    good = tmp_path / "a.yaml"
    good.write_text(header.format(env="production") + "resources: {}\n")
    bad = tmp_path / "b.yaml"
    bad.write_text(
        header.format(env="staging")
        + "resources:\n  secret/x:\n    exists: true\n    latest: '1'\n"
    )
    env = {**os.environ, "DRIFTCHECK_FINGERPRINT_KEY": TEST_KEY}
    done = subprocess.run(
        [sys.executable, "-m", "driftcheck", "diff", str(good), str(bad), "--out-dir", "out"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=HARNESS_BOUND,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert f"{bad}: resources.secret/x: not shaped as driftcheck writes it" in done.stderr
    assert not (tmp_path / "out").exists()


def test_reports_of_a_bounded_failure_are_still_written(emulator: Start, tmp_path: Path) -> None:
    """A trickling IAM read loses the IAM policy only; the check still reports what was read."""
    fault = FaultSpec(path=r":getIamPolicy$", body="trickle", delay_seconds=0.3)
    server = emulator(estate())
    config = configure(tmp_path)
    assert finish(start(server, config, "baseline", "production"))[0] == 0
    server.add_fault(fault)
    code, err = finish(start(server, config, "check", "production"))
    assert code == 3, err
    report = DriftReport.model_validate_json(
        (tmp_path / "reports" / "production-vs-production.json").read_text()
    )
    assert [(e.resource, e.path) for e in report.errors] == [("service/us-central1/backend", "iam")]
    assert report.coverage[0].matched == 1


def test_the_console_scripts_exit_status_is_the_checks_verdict(
    emulator: Start, tmp_path: Path
) -> None:
    """The console script ends its process itself (``cli.run``): the status it exits with is the
    check's, clean only when everything asked for was read, never clean when a listing was
    refused."""
    server = emulator(estate())
    config = configure(tmp_path)
    report_path = tmp_path / "reports" / "production-vs-production.json"
    assert finish(start(server, config, "baseline", "production"))[0] == 0
    code, err = finish(start(server, config, "check", "production"))
    report = DriftReport.model_validate_json(report_path.read_text())
    assert (code, report.status, report.findings, report.errors) == (0, "clean", [], []), err
    assert [(c.kind, c.matched) for c in report.coverage] == [("service", 1)]
    server.add_fault(FaultSpec(path=r"/services$", status=403))
    code, err = finish(start(server, config, "check", "production"))
    report = DriftReport.model_validate_json(report_path.read_text())
    assert (code, report.status, report.findings) == (3, "incomplete", []), err
    assert "Traceback" not in err


@pytest.mark.parametrize("name", ["../escape", "/abs", "a b", "", "x" * 64, "café"])
def test_an_environment_name_is_a_plain_token(
    run_cli: Callable[..., Any], tmp_path: Path, name: str
) -> None:
    config = write_config(
        tmp_path, environments={name: {"project": PROD, "regions": ["us-central1"]}}
    )
    result = run_cli("--config", str(config), "baseline", name or "x")
    assert result.code == 2, result.stderr
    assert "environments" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["driftcheck.yaml"]


def test_a_snapshot_naming_a_path_as_its_environment_is_refused(
    run_cli: Callable[..., Any], tmp_path: Path
) -> None:
    body = (
        "schema_version: 2\nenvironment: {env}\nproject: acme-prod\nregions: {{}}\n"
        "collected_at: t\ntool_version: x\nresources: {{}}\n"
    )
    (tmp_path / "a.yaml").write_text(body.format(env="production"))
    (tmp_path / "b.yaml").write_text(body.format(env="'../../escaped'"))
    out = tmp_path / "out"
    result = run_cli(
        "diff", str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml"), "--out-dir", str(out)
    )
    assert result.code == 2
    assert f"{tmp_path / 'b.yaml'}:2: environment:" in result.stderr
    assert not out.exists()
    assert not (tmp_path.parent / "escaped-vs-production.json").exists()


def test_what_baseline_writes_check_reads(
    emulator: Start,
    run_cli: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The read limit and the write limit are one: a baseline too large to read is not written."""
    import driftcheck.baseline

    emulator(estate())
    config = configure(tmp_path)
    assert run_cli("--config", str(config), "baseline", "production").code == 0
    written = (tmp_path / "baselines" / "production.yaml").stat().st_size
    monkeypatch.setattr(driftcheck.baseline, "MAX_SNAPSHOT_BYTES", written)
    assert run_cli("--config", str(config), "check", "production").code == 0
    monkeypatch.setattr(driftcheck.baseline, "MAX_SNAPSHOT_BYTES", written - 1)
    (tmp_path / "baselines" / "production.yaml").unlink()
    refused = run_cli("--config", str(config), "baseline", "production")
    assert refused.code == 2
    assert "larger than the" in refused.stderr
    assert not (tmp_path / "baselines" / "production.yaml").exists()


class _TrickleHandler(BaseHTTPRequestHandler):
    """Answers 200 with a JSON body, one byte every 0.3 s: each read is quick, the answer
    never ends in time."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        data = b'{"status": "ok", "issuer": "https://x"}' * 20
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            for index in range(len(data)):
                self.wfile.write(data[index : index + 1])
                self.wfile.flush()
                time.sleep(0.3)
        except OSError:
            return


@pytest.mark.parametrize("where", ["probe", "policy"])
def test_http_sources_that_trickle_are_bounded_in_total(
    emulator: Start, tmp_path: Path, where: str
) -> None:
    trickler = ThreadingHTTPServer(("127.0.0.1", 0), _TrickleHandler)
    trickler.daemon_threads = True
    threading.Thread(target=trickler.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{trickler.server_address[1]}/doc"
    extra: dict[str, Any] = (
        {"probes": [{"name": "health", "http": url, "timeout_seconds": 1}]}
        if where == "probe"
        else {"auth": {"policy": {"url": url}}}
    )
    config = write_config(
        tmp_path,
        environments={"production": {"project": PROD, "regions": ["us-central1"], **extra}},
        api={"timeout_seconds": 2, "retry_seconds": 1},
    )
    server = emulator(estate())
    try:
        code, err = finish(start(server, config, "collect", "production"))
    finally:
        trickler.shutdown()
        trickler.server_close()
    assert code == 3, err
    assert "no complete answer" in err or "timed out" in err


def test_a_listing_of_empty_pages_that_never_ends_stops(emulator: Start, tmp_path: Path) -> None:
    server = emulator(estate(FaultSpec(path=r"/services$", body="endless")))
    code, err = finish(start(server, configure(tmp_path), "collect", "production"))
    assert code == 3, err
    assert "empty pages in a row" in err
    assert len([p for _m, p in server.calls if p.endswith("/services")]) <= 4


def test_an_output_path_that_is_a_link_is_replaced_never_followed(
    emulator: Start, tmp_path: Path
) -> None:
    server = emulator(estate())
    outside = tmp_path / "outside.txt"
    outside.write_text("untouched\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "snapshot.yaml").symlink_to(outside)
    code, err = finish(
        start(
            server, configure(tmp_path), "collect", "production", "-o", str(out / "snapshot.yaml")
        )
    )
    assert code == 0, err
    assert outside.read_text() == "untouched\n"
    written = out / "snapshot.yaml"
    assert not written.is_symlink()
    assert "environment: production" in written.read_text()


def written_to(stdout: int, *args: str) -> subprocess.CompletedProcess[str]:
    """``driftcheck ARGS`` with its stdout on the file descriptor ``stdout``."""
    return subprocess.run(
        [sys.executable, "-m", "driftcheck", *args],
        env={**os.environ, "DRIFTCHECK_FINGERPRINT_KEY": TEST_KEY},
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=HARNESS_BOUND,
        check=False,
    )


def test_stdout_that_cannot_be_written_is_a_usage_error() -> None:
    with open("/dev/full", "w") as full:
        done = written_to(full.fileno(), "--help")
    assert done.returncode == 2, done.stderr
    assert "cannot write to stdout" in done.stderr
    assert "internal error" not in done.stderr


@pytest.mark.parametrize("command", [["--help"], ["schema", "config"]])
def test_stdout_whose_reader_is_gone_is_one_line_and_exit_2(command: list[str]) -> None:
    """A closed pipe (the reader exited first) fails like a full disk: one line, exit 2, not
    click's own silent exit 1, which here would mean drift."""
    read, write = os.pipe()
    os.close(read)  # no reader: the first write fails with EPIPE
    try:
        done = written_to(write, *command)
    finally:
        os.close(write)
    assert done.returncode == 2, done.stderr
    assert done.stderr.lower().strip() == "driftcheck: error: cannot write to stdout: broken pipe"


def test_a_hand_edited_iam_policy_is_an_input_error(tmp_path: Path) -> None:
    header = (
        "schema_version: 2\nenvironment: {env}\nproject: acme-prod\n"
        "regions: {{us-central1: us-central1}}\ncollected_at: t\ntool_version: x\nresources:\n"
        "  service/us-central1/a:\n    iam:\n      roles/run.invoker: {members}\n"
    )
    (tmp_path / "a.yaml").write_text(header.format(env="production", members="[user:a]"))
    (tmp_path / "b.yaml").write_text(header.format(env="staging", members="[{a: 1}]"))
    env = {**os.environ, "DRIFTCHECK_FINGERPRINT_KEY": TEST_KEY}
    done = subprocess.run(
        [sys.executable, "-m", "driftcheck", "diff", "a.yaml", "b.yaml", "--out-dir", "out"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=HARNESS_BOUND,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "resources.service/us-central1/a: not shaped as driftcheck writes it" in done.stderr


def test_what_a_probed_server_answers_is_redacted_like_any_data(
    emulator: Start, run_cli: Callable[..., Any], tmp_path: Path
) -> None:
    from tests.httpserver import serving

    canary = "pw-probe-canary-31"
    with serving() as health:
        health.routes["/health"] = (
            200,
            {"status": f"degraded: password={canary}", "db": f"postgres://app:{canary}@db/app"},
        )
        probe = {"name": "health", "http": f"{health.url}/health", "fields": ["status", "db"]}
        config = write_config(
            tmp_path,
            environments={
                "production": {"project": PROD, "regions": ["us-central1"], "probes": [probe]}
            },
        )
        emulator(estate())
        result = run_cli("--config", str(config), "collect", "production")
        checked = run_cli("--config", str(config), "-v", "check", "production")
    assert result.code == 0, result.stderr
    assert "postgres://app:<redacted:" in result.stdout
    assert canary not in result.stdout + result.stderr + checked.stdout + checked.stderr
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert canary.encode() not in path.read_bytes(), path


def test_pathological_values_do_not_stall_the_redactor(emulator: Start, tmp_path: Path) -> None:
    """Values of Cloud Run's maximum size built to make regular expressions backtrack."""
    backend = service("backend")
    backend["template"]["containers"][0]["env"] += [
        {"name": f"V{i}", "value": (piece * 40000)[:32768]}
        for i, piece in enumerate(["-token", "a=b", "a://", "token: ", '"a": "', "Bearer "])
    ]
    server = emulator(scenario(projects={PROD: project([backend])}))
    code, err = finish(start(server, configure(tmp_path), "collect", "production"))
    assert code == 0, err


def test_an_answer_past_the_byte_budget_is_not_read_to_the_end(
    emulator: Start,
    run_cli: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An endless body would fill memory; every exchange reads within a byte budget."""
    import driftcheck.deadlines

    emulator(estate())
    monkeypatch.setattr(driftcheck.deadlines, "MAX_EXCHANGE_BYTES", 512)
    result = run_cli("--config", str(configure(tmp_path)), "collect", "production")
    assert result.code == 3, result.stderr
    assert "service/us-central1/*" in result.stderr
