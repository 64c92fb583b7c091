"""Regions discovered: with ``regions: all`` (or no ``regions``) every Cloud Run region of the
project is listed and read, the report names the regions read, and a listing that fails makes
the run incomplete, never clean. Through the real CLI and clients against the emulator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from driftcheck.emulator import EmulatorServer
from driftcheck.emulator.scenario import FaultSpec, Scenario
from driftcheck.model import DriftReport, Status
from driftcheck.yamlio import dump_yaml
from tests.conftest import CliResult
from tests.factories import PROD, STAGING, invoker_policy, scenario, service

Start = Callable[[Scenario], EmulatorServer]
Run = Callable[..., CliResult]
REGIONS = ("europe-west1", "us-central1")


def project(project_id: str, number: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A service in each of two regions, and a job in a third that holds nothing else."""
    services = {region: [service(f"api-{region}", project_id)] for region in REGIONS}
    for region, listed in (extra or {}).items():
        services.setdefault(region, []).extend(listed)
    return {
        "number": number,
        "services": services,
        "jobs": {"asia-east1": [{"name": "nightly", "template": {"template": {}}}]},
        "iam": {f"api-{region}": invoker_policy("group:ops@acme.com") for region in REGIONS},
    }


def estate(staging_extra: dict[str, Any] | None = None, **fields: Any) -> Scenario:
    return scenario(
        projects={
            PROD: project(PROD, "111111111111"),
            STAGING: project(STAGING, "222222222222", staging_extra),
        },
        **fields,
    )


@pytest.fixture
def cli(run_cli: Run, tmp_path: Path) -> Run:
    config = {
        "version": 1,
        "environments": {
            # No regions: every Cloud Run region of the project.
            "production": {"project": PROD, "project_number": "111111111111"},
            "staging": {"project": STAGING, "project_number": "222222222222", "regions": "all"},
        },
        "api": {"timeout_seconds": 5, "retry_seconds": 1},
    }
    (tmp_path / "driftcheck.yaml").write_text(dump_yaml(config))
    return lambda *args: run_cli("--config", str(tmp_path / "driftcheck.yaml"), *args)


def report_of(directory: Path) -> DriftReport:
    return DriftReport.model_validate_json(
        (directory / "reports" / "staging-vs-production.json").read_text()
    )


def test_every_region_of_the_project_is_listed_and_read(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    server = emulator(estate())
    assert cli("baseline", "production").code == 0
    result = cli("check", "staging", "--against", "production")
    assert result.code == 0, result.stderr
    report = report_of(tmp_path)
    assert report.status is Status.CLEAN
    assert sorted(report.regions.values()) == ["asia-east1", *REGIONS]
    read = {(c.kind, c.region) for c in report.coverage if c.matched}
    assert read == {
        ("service", "europe-west1"),
        ("service", "us-central1"),
        ("job", "asia-east1"),
    }
    listed = [path for _method, path in server.calls if path.endswith("/locations")]
    # Once per run and project: production for the baseline, staging for the check.
    assert listed == [f"/v1/projects/{PROD}/locations", f"/v1/projects/{STAGING}/locations"]


def test_a_service_in_a_region_nobody_named_is_found(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    emulator(estate())
    assert cli("baseline", "production").code == 0
    emulator(estate({"southamerica-east1": [service("rogue", STAGING)]}))
    result = cli("check", "staging", "--against", "production")
    assert result.code == 1, result.stderr
    report = report_of(tmp_path)
    # A region only staging uses, found although no config names it: one finding.
    found = [(f.resource, f.kind.value, f.severity.value) for f in report.findings]
    assert found == [("region/southamerica-east1", "added", "high")]
    assert report.errors == []


def test_regions_that_cannot_be_listed_make_the_run_incomplete(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    emulator(estate())
    assert cli("baseline", "production").code == 0
    emulator(estate(faults=[FaultSpec(path=f"/v1/projects/{STAGING}/locations", status=403)]))
    result = cli("check", "staging", "--against", "production")
    assert result.code == 3, result.stderr
    report = report_of(tmp_path)
    assert report.status is Status.INCOMPLETE
    [error] = [e for e in report.errors if e.resource == "region/*"]
    assert "regions of acme-staging could not be listed" in error.message
    assert "run.locations.list" in error.message


@pytest.mark.parametrize("odd", ["europe-west1/../../x", "x y", "US-CENTRAL1"])
def test_a_listed_location_that_is_no_region_name_makes_the_run_incomplete(
    emulator: Start, cli: Run, odd: str
) -> None:
    listed = project(PROD, "111111111111")
    listed["locations"] = [*REGIONS, odd]
    emulator(scenario(projects={PROD: listed}))
    result = cli("baseline", "production")
    assert result.code == 3, result.stderr
    assert f"the Cloud Run regions of {PROD} could not be listed" in result.stderr
    assert f"the listing names {odd!r}, which is no region name" in result.stderr
