"""``driftcheck emulator`` / ``python -m driftcheck.emulator``: a scenario served on loopback."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
import yaml

from driftcheck.emulator.scenario import SCENARIOS_DIR
from driftcheck.schemas import SCHEMAS_DIR
from tests.conftest import CliResult
from tests.factories import write_config


def test_python_m_serves_a_scenario_prints_exports_and_stops_cleanly_on_ctrl_c(
    tmp_path: Path, run_cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "driftcheck.emulator", str(SCENARIOS_DIR / "demo.yaml")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(2)]
        url = lines[0].split("=", 1)[1]
        assert lines == [
            f"export DRIFTCHECK_RUN_ENDPOINT={url}",
            f"export DRIFTCHECK_SECRETMANAGER_ENDPOINT={url}",
        ]
        assert url.startswith("http://127.0.0.1:")
        for line in lines:
            name, value = line.removeprefix("export ").split("=", 1)
            monkeypatch.setenv(name, value)
        config = write_config(tmp_path)
        collected = run_cli("--config", str(config), "collect", "production")
        assert collected.code == 0, collected.stderr
        assert "service/us-central1/backend:" in collected.stdout
    finally:
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=10)
    assert process.returncode == 0
    assert err.splitlines()[-1] == "driftcheck: emulator stopped"
    assert "Ctrl-C to stop" in err.splitlines()[0]


def test_a_busy_port_and_an_invalid_scenario_are_one_line_errors(
    tmp_path: Path, run_cli: Callable[..., CliResult]
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("emulator", str(SCENARIOS_DIR / "demo.yaml"), "--port", str(port))
    assert result.code == 2
    assert result.stderr.startswith(f"driftcheck: error: cannot listen on 127.0.0.1:{port}: ")
    assert len(result.stderr.splitlines()) == 1
    bad = tmp_path / "scenario.yaml"
    bad.write_text("projects:\n  acme-prod:\n    servces: {}\n", encoding="utf-8")
    invalid = run_cli("emulator", str(bad))
    assert invalid.code == 2
    assert invalid.stderr.startswith(f"driftcheck: error: {bad}:3")
    assert "servces" in invalid.stderr and len(invalid.stderr.splitlines()) == 1


def test_the_scenario_schema_accepts_the_bundled_scenario_and_is_printed_by_schema(
    run_cli: Callable[..., CliResult],
) -> None:
    printed = run_cli("schema", "scenario")
    assert printed.code == 0
    assert printed.stdout == (SCHEMAS_DIR / "scenario.schema.json").read_text(encoding="utf-8")
    schema = json.loads(printed.stdout)
    demo = yaml.safe_load((SCENARIOS_DIR / "demo.yaml").read_text(encoding="utf-8"))
    jsonschema.validate(demo, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"projects": {"p": {"locations": "us-central1"}}}, schema)
    for name in ("config", "snapshot", "report", "claim-policy"):
        one = run_cli("schema", name)
        assert one.stdout == (SCHEMAS_DIR / f"{name}.schema.json").read_text(encoding="utf-8")
    unknown = run_cli("schema", "nope")
    assert unknown.code == 2
    assert unknown.stderr == (
        "driftcheck: error: unknown schema 'nope'; one of: claim-policy, config, report, "
        "scenario, snapshot\n"
    )
