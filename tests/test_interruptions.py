"""Ctrl-C and SIGTERM during collection leave no half-written file and exit non-zero."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from driftcheck.emulator import EmulatorServer
from driftcheck.emulator.scenario import Scenario
from driftcheck.yamlio import write_text_atomic
from tests.conftest import TEST_KEY
from tests.factories import PROD, project, scenario, service, write_config

Start = Callable[[Scenario], EmulatorServer]


def slow_estate() -> Scenario:
    services = [service(f"svc-{i:02d}") for i in range(40)]
    return scenario(projects={PROD: project(services)}, latency_ms=150, max_page_size=5)


@pytest.mark.parametrize(
    ("command", "sig", "code"),
    [
        ("baseline", signal.SIGTERM, 143),
        ("baseline", signal.SIGINT, 130),
        ("check", signal.SIGTERM, 143),
    ],
)
def test_signal_mid_collection_leaves_nothing_half_written(
    emulator: Start, tmp_path: Path, command: str, sig: signal.Signals, code: int
) -> None:
    server = emulator(slow_estate())
    config = write_config(
        tmp_path, environments={"production": {"project": PROD, "regions": ["us-central1"]}}
    )
    if command == "check":  # a baseline to check against, written before the slow run
        (tmp_path / "baselines").mkdir()
        (tmp_path / "baselines" / "production.yaml").write_text(
            "schema_version: 2\nenvironment: production\nproject: acme-prod\n"
            "regions:\n  us-central1: us-central1\n"
            "collected_at: t\ntool_version: x\nfingerprint_key_id: null\nresources: {}\n"
        )
    before = {p for p in tmp_path.rglob("*") if p.is_file()}
    env = {
        **os.environ,
        "DRIFTCHECK_FINGERPRINT_KEY": TEST_KEY,
        "DRIFTCHECK_RUN_ENDPOINT": server.url,
        "DRIFTCHECK_SECRETMANAGER_ENDPOINT": server.url,
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "driftcheck",
            "--config",
            str(config),
            "--concurrency",
            "2",
            command,
            "production",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while len(server.calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "the run finished before it could be interrupted"
    process.send_signal(sig)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert "half-written" in err
    assert "Traceback" not in err
    after = {p for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before  # no baseline, no report, no temporary file


def test_atomic_write_keeps_the_old_file_when_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "baseline.yaml"
    path.write_text("old\n")

    class Interrupted(Exception):
        pass

    from driftcheck.yamlio import atomic_writer

    with pytest.raises(Interrupted), atomic_writer(path) as handle:
        handle.write("new, half")
        raise Interrupted
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["baseline.yaml"]
    write_text_atomic(path, "new\n")
    assert path.read_text() == "new\n"
