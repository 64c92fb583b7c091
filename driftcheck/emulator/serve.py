"""``driftcheck emulator SCENARIO``: serve a scenario file on loopback until Ctrl-C.

For trying driftcheck without Google and for teams' own rule tests. The ``export`` lines that
point driftcheck at the emulator go to stdout (so ``eval`` can take them), everything else to
stderr. SIGINT and SIGTERM end it cleanly with exit 0.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import TextIO

from driftcheck.clients import RUN_ENDPOINT_VAR, SECRETMANAGER_ENDPOINT_VAR
from driftcheck.emulator.scenario import load_scenario
from driftcheck.emulator.server import EmulatorServer
from driftcheck.errors import UsageError


def export_lines(url: str) -> list[str]:
    """The shell lines that point driftcheck's API clients at ``url``."""
    return [f"export {var}={url}" for var in (RUN_ENDPOINT_VAR, SECRETMANAGER_ENDPOINT_VAR)]


def serve(scenario_path: Path, port: int, out: TextIO, err: TextIO) -> int:
    """Serve until SIGINT or SIGTERM; return the exit code (0)."""
    scenario = load_scenario(scenario_path)
    try:
        server = EmulatorServer(scenario, port=port)
    except OSError as exc:
        raise UsageError(
            f"cannot listen on 127.0.0.1:{port}: {exc.strerror or type(exc).__name__}"
        ) from None
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with server:
            for line in export_lines(server.url):
                out.write(line + "\n")
            out.flush()
            projects = ", ".join(sorted(scenario.projects)) or "no projects"
            err.write(
                f"driftcheck: emulator serving {scenario_path} ({projects}) on {server.url}; "
                "Ctrl-C to stop\n"
            )
            err.flush()
            while not stop.wait(0.2):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    err.write("driftcheck: emulator stopped\n")
    return 0
