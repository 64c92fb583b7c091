"""``driftcheck init`` and the Cloud Run locations list on a multi-region emulator estate."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from driftcheck.clients import build_clients
from driftcheck.config import ApiSettings, load_config
from driftcheck.emulator import EmulatorServer
from driftcheck.emulator.scenario import FaultSpec, Scenario
from driftcheck.errors import CollectionError
from driftcheck.locations import list_run_regions
from driftcheck.schemas import SCHEMAS_DIR
from tests.conftest import CliResult
from tests.factories import scenario, service

FAST = ApiSettings(timeout_seconds=5, retry_seconds=2)


def estate() -> Scenario:
    """Production in two regions (and offered three more), staging in one; names differ by an
    environment token except for one shared name."""
    prod, stg = "acme-prod", "acme-staging"
    return scenario(
        max_page_size=2,
        projects={
            prod: {
                "number": "111111111111",
                "locations": ["asia-east1", "europe-west1", "us-central1", "us-east1", "us-west1"],
                "services": {
                    "us-central1": [
                        service("api-prod", prod),
                        service("worker-prod", prod),
                        service("web", prod),
                    ],
                    "europe-west1": [service("api-prod", prod)],
                },
            },
            stg: {
                "number": "222222222222",
                "services": {
                    "us-central1": [
                        service("api-stg", stg),
                        service("worker-stg", stg),
                        service("web", stg),
                    ]
                },
            },
        },
    )


def test_regions_are_listed_across_pages_and_default_to_those_holding_services(
    emulator: Callable[[Scenario], EmulatorServer],
) -> None:
    server = emulator(estate())
    run = build_clients().run
    assert list_run_regions(run, "acme-prod", FAST) == [
        "asia-east1", "europe-west1", "us-central1", "us-east1", "us-west1",
    ]  # fmt: skip
    assert list_run_regions(run, "acme-staging", FAST) == ["us-central1"]
    listed = [path for _m, path in server.calls if path.endswith("/locations")]
    assert listed.count("/v1/projects/acme-prod/locations") == 3  # 5 regions, pages of 2


def test_a_transient_failure_is_retried_and_a_denial_names_the_permission(
    emulator: Callable[[Scenario], EmulatorServer],
) -> None:
    server = emulator(estate())
    run = build_clients().run
    server.add_fault(FaultSpec(path="^/v1/projects/acme-staging/locations$", status=503, times=1))
    assert list_run_regions(run, "acme-staging", FAST) == ["us-central1"]
    server.add_fault(FaultSpec(path="^/v1/projects/acme-prod/locations$", status=403))
    with pytest.raises(CollectionError) as caught:
        list_run_regions(run, "acme-prod", FAST)
    assert caught.value.resource == "projects/acme-prod/locations"
    assert str(caught.value).startswith("the principal lacks run.locations.list")
    server.add_fault(
        FaultSpec(path="^/v1/projects/acme-staging/locations$", status=200, body="endless")
    )
    with pytest.raises(CollectionError, match="pagination did not end"):
        list_run_regions(run, "acme-staging", FAST)


def test_init_writes_a_config_that_baselines_and_compares_the_estate(
    tmp_path: Path,
    emulator: Callable[[Scenario], EmulatorServer],
    run_cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator(estate())
    monkeypatch.chdir(tmp_path)
    result = run_cli("init", "--env", "production=acme-prod", "--env", "staging=acme-staging")
    assert result.code == 0, result.stderr
    assert result.stderr == (
        "driftcheck: wrote driftcheck.yaml (production: 3 services in 2 regions, "
        "staging: 3 services in 1 regions)\n"
    )
    text = (tmp_path / "driftcheck.yaml").read_text(encoding="utf-8")
    assert (tmp_path / "driftcheck.yaml").stat().st_mode & 0o044  # readable by the team
    assert text.splitlines()[0] == (
        "# yaml-language-server: $schema=.driftcheck/config.schema.json"
    )
    schema = (tmp_path / ".driftcheck" / "config.schema.json").read_text(encoding="utf-8")
    assert schema == (SCHEMAS_DIR / "config.schema.json").read_text(encoding="utf-8")
    assert "# 2 of 5 Cloud Run regions hold services" in text
    assert "#   us-central1: api-prod, web, worker-prod" in text
    config = load_config(tmp_path / "driftcheck.yaml").model
    production, staging = config.environments["production"], config.environments["staging"]
    assert production.regions == ["europe-west1", "us-central1"]
    assert staging.regions == ["us-central1"]
    assert production.name_map == {"prod": "${env}"}
    assert staging.name_map == {"stg": "${env}"}
    assert production.services is None  # every service is read

    assert run_cli("baseline", "production").code == 0
    check = run_cli("check", "staging", "--against", "production", "--format", "json")
    # The proposed name_map matches api-prod with api-stg: the only difference is the region
    # that staging lacks, one finding, not one per service.
    assert check.code == 1, check.stderr
    report = json.loads((tmp_path / "reports" / "staging-vs-production.json").read_text())
    assert [(f["resource"], f["kind"]) for f in report["findings"]] == [
        ("region/europe-west1", "removed")
    ]
    shared = next(c for c in report["coverage"] if c["region"] == "us-central1")
    assert (shared["baseline"], shared["actual"], shared["matched"]) == (3, 3, 3)


def test_init_never_overwrites_and_rejects_malformed_environments(
    tmp_path: Path,
    emulator: Callable[[Scenario], EmulatorServer],
    run_cli: Callable[..., CliResult],
) -> None:
    server = emulator(estate())
    existing = tmp_path / "mine.yaml"
    existing.write_text("version: 1\n", encoding="utf-8")
    refused = run_cli("init", "--env", "production=acme-prod", "--output", str(existing))
    assert refused.code == 2
    assert refused.stderr == (
        f"driftcheck: error: {existing} already exists; not overwritten (choose --output)\n"
    )
    assert existing.read_text(encoding="utf-8") == "version: 1\n"
    bad = run_cli("init", "--env", "production", "--output", str(tmp_path / "new.yaml"))
    assert bad.code == 2 and len(bad.stderr.splitlines()) == 1
    assert "expected NAME=PROJECT" in bad.stderr
    assert server.calls == []  # refused before any API call
    server.add_fault(FaultSpec(path="acme-prod/locations/europe-west1", status=403))
    denied = run_cli("init", "--env", "production=acme-prod", "--output", str(tmp_path / "n.yaml"))
    assert denied.code == 3
    assert denied.stderr.startswith(
        "driftcheck: error: the principal lacks run.services.list (grant roles/run.viewer)"
    )
    assert len(denied.stderr.splitlines()) == 1
    assert not (tmp_path / "n.yaml").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["mine.yaml"]  # no temporary file left
