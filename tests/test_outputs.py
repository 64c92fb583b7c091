"""Writing outputs: a report set is replaced whole or not at all, every output is checked before
anything is replaced, and a device or special file is written to, never replaced."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from driftcheck.emulator import EmulatorServer
from driftcheck.emulator.scenario import Scenario
from driftcheck.errors import ReportError
from driftcheck.model import DriftReport
from driftcheck.render import interface
from driftcheck.render.interface import write_outputs
from tests.conftest import CliResult
from tests.factories import PROD, STAGING, project, scenario, service

Start = Callable[[Scenario], EmulatorServer]
Run = Callable[..., CliResult]
STEM = "staging-vs-production"


def estate() -> Scenario:
    staging = service("backend", STAGING, template={**service("backend")["template"]})
    staging["template"]["timeout"] = "300s"
    return scenario(
        projects={
            PROD: project([service("backend", PROD)], "111111111111"),
            STAGING: project([staging], "222222222222"),
        }
    )


@pytest.fixture
def cli(run_cli: Run, workdir: Path, emulator: Start) -> Run:
    emulator(estate())
    run = lambda *args: run_cli("--config", str(workdir / "driftcheck.yaml"), *args)  # noqa: E731
    assert run("baseline", "production").code == 0
    return run


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_report_that_cannot_be_written_leaves_the_whole_previous_set(
    cli: Run, workdir: Path
) -> None:
    reports = workdir / "reports"
    assert cli("check", "staging", "--against", "production").code == 1
    before = {p.name: p.read_bytes() for p in reports.iterdir()}
    assert set(before) == {f"{STEM}.{s}" for s in ("json", "html", "md", "snapshot.yaml")}
    # The Markdown report's place is taken by a folder: nothing of the set may be replaced.
    (reports / f"{STEM}.md").unlink()
    (reports / f"{STEM}.md").mkdir()
    del before[f"{STEM}.md"]
    result = cli("check", "staging", "--against", "production", "--fail-on", "critical")
    assert result.code == 2
    assert result.stderr.strip().splitlines() == [
        f"driftcheck: error: {reports / STEM}.md: cannot write: Is a directory"
    ]
    after = {p.name: p.read_bytes() for p in reports.iterdir() if p.is_file()}
    assert after == before
    assert leftovers(reports) == []


def test_a_failure_while_replacing_puts_back_what_was_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, third = tmp_path / "a.json", tmp_path / "b.html", tmp_path / "c.md"
    first.write_text("old a", encoding="utf-8")
    second.write_text("old b", encoding="utf-8")
    real_replace = os.replace
    calls: list[str] = []

    def failing_replace(source: str, target: str | Path) -> None:
        calls.append(str(target))
        if Path(target) == third:
            raise OSError(28, "No space left on device")
        real_replace(source, target)

    monkeypatch.setattr(interface.os, "replace", failing_replace)
    with pytest.raises(ReportError, match=r"c\.md: cannot write: No space left on device"):
        write_outputs([(first, "new a"), (second, "new b"), (third, "new c")])
    monkeypatch.undo()
    assert calls[:3] == [str(first), str(second), str(third)]  # a and b had been replaced
    assert first.read_text() == "old a" and second.read_text() == "old b"
    assert not third.exists()
    assert leftovers(tmp_path) == []


def test_an_interruption_while_replacing_puts_back_what_was_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.html"
    first.write_text("old a", encoding="utf-8")
    real_replace = os.replace

    def interrupted(source: str, target: str | Path) -> None:
        if Path(target) == second:
            raise KeyboardInterrupt
        real_replace(source, target)

    monkeypatch.setattr(interface.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_outputs([(first, "new a"), (second, "new b")])
    monkeypatch.undo()
    assert first.read_text() == "old a" and not second.exists()
    assert leftovers(tmp_path) == []


def test_a_symlink_to_a_file_is_replaced_never_followed(tmp_path: Path) -> None:
    """A link planted where a report goes must not carry the write anywhere else."""
    target = tmp_path / "elsewhere.yaml"
    target.write_text("old", encoding="utf-8")
    link = tmp_path / "link.yaml"
    link.symlink_to(target)
    write_outputs([(link, "new")])
    assert not link.is_symlink() and link.read_text() == "new"
    assert target.read_text() == "old"


def test_collect_to_dev_stdout_writes_to_it_and_keeps_the_device(
    emulator: Start, workdir: Path
) -> None:
    emulator(estate())
    before = os.lstat("/dev/stdout")
    done = subprocess.run(
        [sys.executable, "-m", "driftcheck", "--config", str(workdir / "driftcheck.yaml")]
        + ["collect", "staging", "-o", "/dev/stdout"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("schema_version: 2\nenvironment: staging\n")
    assert "service/us-central1/backend:" in done.stdout
    after = os.lstat("/dev/stdout")
    assert stat.S_ISLNK(after.st_mode) and (after.st_ino, after.st_mode) == (
        before.st_ino,
        before.st_mode,
    )
    assert not [p for p in Path("/dev").iterdir() if p.name.startswith(".stdout.")]


def test_collect_to_a_fifo_writes_into_it(emulator: Start, run_cli: Run, workdir: Path) -> None:
    emulator(estate())
    fifo = workdir / "snapshot.fifo"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text(encoding="utf-8")))
    reader.start()
    result = run_cli(
        "--config", str(workdir / "driftcheck.yaml"), "collect", "staging", "-o", str(fifo)
    )
    reader.join(timeout=60)
    assert result.code == 0, result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still the FIFO, not a regular file
    assert received and received[0].startswith("schema_version: 2\n")


def test_output_json_prints_the_report_and_writes_nothing_without_out_dir(
    cli: Run, workdir: Path
) -> None:
    result = cli("check", "staging", "--against", "production", "--output", "json")
    assert result.code == 1
    report = DriftReport.model_validate_json(result.stdout)
    assert [f.path for f in report.findings] == ["template.timeout"]
    assert not (workdir / "reports").exists()
    assert "Drift:" in result.stderr  # the summary still goes to stderr

    out = workdir / "out"
    again = cli(
        "check", "staging", "--against", "production", "--output", "json", "--out-dir", str(out)
    )
    assert json.loads(again.stdout)["status"] == "drift"
    assert (out / f"{STEM}.json").is_file() and (out / f"{STEM}.snapshot.yaml").is_file()
