"""API faults: every failure is retried within bounded time or recorded; never a clean run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from driftcheck.emulator import EmulatorServer
from driftcheck.emulator.scenario import FaultSpec, Scenario
from driftcheck.model import DriftReport
from tests.conftest import CliResult
from tests.factories import PROD, invoker_policy, project, scenario, service, write_config

Start = Callable[[Scenario], EmulatorServer]
Run = Callable[..., CliResult]


def estate() -> Scenario:
    secret_env = {"name": "KEY", "valueSource": {"secretKeyRef": {"secret": "k", "version": "1"}}}
    backend = service("backend")
    backend["template"]["containers"][0]["env"].append(secret_env)
    secrets = {"k": {"versions": [{"version": 1, "payload": "canary-fault-payload"}]}}
    return scenario(
        projects={
            PROD: project(
                [backend, service("auth")],
                iam={
                    "backend": invoker_policy("user:a@x.com"),
                    "auth": invoker_policy("user:b@x.com"),
                },
                secrets=secrets,
            )
        }
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(
        tmp_path,
        environments={"production": {"project": PROD, "regions": ["us-central1"]}},
        api={"timeout_seconds": 0.5, "retry_seconds": 2},
    )


def baseline_then_fault(
    emulator: Start, run_cli: Run, config: Path, fault: FaultSpec
) -> tuple[CliResult, DriftReport]:
    server = emulator(estate())
    assert run_cli("--config", str(config), "baseline", "production").code == 0
    server.add_fault(fault)
    result = run_cli("--config", str(config), "check", "production", "--format", "json")
    report = DriftReport.model_validate_json(
        (config.parent / "reports" / "production-vs-production.json").read_text()
    )
    return result, report


FAULTS = {
    "503 storm": FaultSpec(path=":getIamPolicy$", status=503),
    "429 storm": FaultSpec(path=":getIamPolicy$", status=429),
    "403": FaultSpec(path="auth:getIamPolicy$", status=403),
    "404": FaultSpec(path="auth:getIamPolicy$", status=404),
    "500 with an HTML body": FaultSpec(path="auth:getIamPolicy$", status=500, body="html"),
    "malformed JSON": FaultSpec(path="auth:getIamPolicy$", status=200, body="malformed"),
    "truncated body": FaultSpec(path="auth:getIamPolicy$", status=200, body="truncated"),
    "slower than the call timeout": FaultSpec(
        path="auth:getIamPolicy$", body="slow", delay_seconds=1.5
    ),
    "connection reset": FaultSpec(path="auth:getIamPolicy$", body="reset"),
    "secret access 403": FaultSpec(path=":access$", status=403),
    "secret metadata 503 storm": FaultSpec(path="/secrets$", status=503),
    "secret listing malformed JSON": FaultSpec(path="/secrets$", status=200, body="malformed"),
    "secret listing truncated": FaultSpec(path="/secrets$", status=200, body="truncated"),
    "listing 500 HTML": FaultSpec(path="/services$", status=500, body="html"),
}


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_ends_incomplete_and_names_what_is_missing(
    emulator: Start, run_cli: Run, config: Path, name: str
) -> None:
    result, report = baseline_then_fault(emulator, run_cli, config, FAULTS[name])
    assert result.code == 3, result.stderr
    assert report.status.value == "incomplete"
    assert report.errors, "the report must say what could not be read"
    assert all(e.resource for e in report.errors)
    assert "Traceback" not in result.stderr
    assert "canary-fault-payload" not in result.stderr


def test_transient_fault_that_clears_is_retried_to_a_clean_run(
    emulator: Start, run_cli: Run, config: Path
) -> None:
    result, report = baseline_then_fault(
        emulator, run_cli, config, FaultSpec(path=":getIamPolicy$", status=503, times=3)
    )
    assert result.code == 0
    assert report.status.value == "clean"


def test_forbidden_auth_names_the_service_only(emulator: Start, run_cli: Run, config: Path) -> None:
    result, report = baseline_then_fault(emulator, run_cli, config, FAULTS["403"])
    assert [(e.resource, e.path) for e in report.errors] == [("service/us-central1/auth", "iam")]
    assert "[incomplete] service/us-central1/auth (iam):" in result.stderr
    assert "service/us-central1/backend" not in result.stderr
    # Only auth's IAM policy is missing: both services are still compared.
    assert [(c.kind, c.matched, c.not_compared) for c in report.coverage] == [
        ("secret", 1, []),
        ("service", 2, []),
    ]


def test_hostile_error_message_is_neutralised_on_the_terminal(
    emulator: Start, run_cli: Run, config: Path
) -> None:
    fault = FaultSpec(path="auth:getIamPolicy$", status=403, message="denied \x1b[2J\x1b]0;pwn\x07")
    result, report = baseline_then_fault(emulator, run_cli, config, fault)
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert "denied" in report.errors[0].message
