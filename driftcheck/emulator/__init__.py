"""A loopback fake of the Cloud Run Admin v2 and Secret Manager v1 REST APIs, for tests and demo."""

from driftcheck.emulator.scenario import Scenario, load_scenario
from driftcheck.emulator.server import EmulatorServer, Fault

__all__ = ["EmulatorServer", "Fault", "Scenario", "load_scenario"]
