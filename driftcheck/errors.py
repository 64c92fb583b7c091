"""The project's error types: one root, one base per pipeline stage.

The CLI maps these to exit codes in one place (``cli.py``). Messages are single lines meant for
people and must never carry secret material: callers pass names and places, never values.
"""

from __future__ import annotations


class DriftcheckError(Exception):
    """Root of every error driftcheck raises on purpose."""

    exit_code = 2


class InputError(DriftcheckError):
    """A file given to driftcheck (config, baseline, snapshot, scenario) is unusable."""


class ConfigError(InputError):
    """The configuration file is missing, malformed or inconsistent."""


class BaselineError(InputError):
    """A baseline or snapshot file is missing, corrupt or of the wrong kind."""


class UsageError(DriftcheckError):
    """The command line or the process environment asks for something impossible."""


class CollectionError(DriftcheckError):
    """Something could not be read from an API. Usually recorded, not raised to the user."""

    exit_code = 3

    def __init__(self, message: str, *, source: str, resource: str) -> None:
        super().__init__(message)
        self.source = source
        self.resource = resource


class ReportError(DriftcheckError):
    """A report or output file could not be written."""
