"""Connectors, Memorystore Redis and Cloud SQL: each collector through its real client (VPC
Access and Redis REST clients, the Cloud SQL Admin REST API) against the emulator, the
cross-resource violations, parity across environments, and no secret ever asked for."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from driftcheck.config import load_config
from driftcheck.emulator import EmulatorServer
from driftcheck.emulator.scenario import FaultSpec, Scenario
from driftcheck.errors import ConfigError
from driftcheck.model import Finding, Snapshot
from driftcheck.pipeline import collect_environment, collection_context
from driftcheck.violations import find_violations
from tests.conftest import CliResult
from tests.factories import (
    PROD,
    REGION,
    STAGING,
    config_data,
    project,
    scenario,
    service,
    write_config,
)

Start = Callable[[Scenario], EmulatorServer]
DEPENDENCY_RULES = ("connector-", "redis-", "cloud-sql-")


def backend(project_id: str, redis_host: str, pool: str, network_interface: bool = False) -> Any:
    body = service("backend", project_id)
    env = body["template"]["containers"][0]["env"]
    env[0]["value"] = redis_host
    env.append({"name": "DATABASE_URL", "value": "postgres://app@10.20.0.5:5432/app"})
    env.append({"name": "DB_POOL_SIZE", "value": pool})
    if network_interface:
        body["template"]["vpcAccess"] = {"networkInterfaces": [{"network": "other-vpc"}]}
    return body


def dependencies(
    project_id: str,
    *,
    connector_state: str = "READY",
    connector_network: str = "default",
    redis_count: int = 1,
    redis_state: str = "READY",
    tier: str = "STANDARD_HA",
    max_connections: str = "500",
    with_connector: bool = True,
) -> dict[str, Any]:
    network = f"projects/{project_id}/global/networks/default"
    redis = [
        {
            "name": "cache" if i == 0 else f"cache-{i}",
            "tier": tier,
            "redisVersion": "REDIS_7_0",
            "memorySizeGb": 5,
            "state": redis_state,
            "host": f"10.0.0.{3 + i}",
            "port": 6379,
            "authorizedNetwork": network,
            "authEnabled": True,
        }
        for i in range(redis_count)
    ]
    sql = [
        {
            "name": "main-db",
            "region": REGION,
            "databaseVersion": "POSTGRES_15",
            "state": "RUNNABLE",
            "ipAddresses": [{"type": "PRIVATE", "ipAddress": "10.20.0.5"}],
            "settings": {
                "tier": "db-custom-4-16384",
                "availabilityType": "REGIONAL",
                "databaseFlags": [{"name": "max_connections", "value": max_connections}],
                "ipConfiguration": {"ipv4Enabled": False, "privateNetwork": network},
            },
        },
        {
            "name": "reports-db",
            "region": REGION,
            "databaseVersion": "POSTGRES_15",
            "state": "RUNNABLE",
            "settings": {"tier": "db-f1-micro"},
        },
        {
            "name": "eu-db",
            "region": "europe-west1",
            "databaseVersion": "MYSQL_8_0",
            "state": "RUNNABLE",
            "settings": {"tier": "db-f1-micro"},
        },
    ]
    connectors = [
        {
            "name": "egress",
            "network": connector_network,
            "ipCidrRange": "10.8.0.0/28",
            "state": connector_state,
            "machineType": "e2-micro",
        },
        {"name": "spare", "network": "default", "ipCidrRange": "10.8.0.16/28", "state": "READY"},
    ]
    return {
        "connectors": {REGION: connectors if with_connector else connectors[1:]},
        "redis": {REGION: redis},
        "sql": sql,
    }


def estate(
    *,
    redis_host: str = "10.0.0.3",
    pool: str = "20",
    network_interface: bool = False,
    staging: dict[str, Any] | None = None,
    **prod: Any,
) -> dict[str, Any]:
    """Production (healthy unless told) and a staging equal to it unless told."""
    prod_project = {
        **project([backend(PROD, redis_host, pool, network_interface)]),
        **dependencies(PROD, **prod),
    }
    staging_project = {
        **project([backend(STAGING, "10.0.0.3", "20")], "222222222222"),
        **dependencies(STAGING, **(staging or {})),
    }
    return {"projects": {PROD: prod_project, STAGING: staging_project}}


def configure(workdir: Path, deps: dict[str, Any] | None = None) -> None:
    data = config_data()
    for env in data["environments"].values():
        env["dependencies"] = deps or {}
    write_config(workdir, **data)


def collect(workdir: Path, env: str = "production") -> Snapshot:
    config = load_config(workdir / "driftcheck.yaml")
    with collection_context(config) as context:
        return collect_environment(config, env, context)


def dependency_violations(snapshot: Snapshot) -> list[Finding]:
    return [f for f in find_violations(snapshot) if (f.rule or "").startswith(DEPENDENCY_RULES)]


def test_a_healthy_estate_is_read_and_breaks_no_rule(emulator: Start, workdir: Path) -> None:
    configure(workdir)
    server = emulator(scenario(**estate()))
    snapshot = collect(workdir)
    assert snapshot.errors == []
    assert {k for k in snapshot.resources if not k.startswith("service/")} == {
        "connector/us-central1/egress",
        "redis/us-central1/cache",
        "sql/us-central1/main-db",
        "sql/us-central1/reports-db",  # every instance of the read regions; eu-db is not
    }
    cache = snapshot.resources["redis/us-central1/cache"]
    where = "service/us-central1/backend:containers.app.env.REDIS_HOST"
    assert cache["used_by"] == [where]
    assert cache["tier"] == "standard_ha" and cache["authorized_network"].endswith("/default")
    assert "host" not in cache and "port" not in cache  # addresses are never compared raw
    db = snapshot.resources["sql/us-central1/main-db"]
    assert db["settings"]["database_flags"] == {"max_connections": "500"}
    assert db["connections"]["demand"] == {
        "service/us-central1/backend": {"max_instances": 10, "pool_size": 20}
    }
    assert snapshot.resources["connector/us-central1/egress"]["used_by"] == [
        "service/us-central1/backend"
    ]
    assert dependency_violations(snapshot) == []
    # What returns a secret is never asked for: the Redis AUTH string, Cloud SQL users.
    paths = [path for _method, path in server.calls]
    assert any(p.endswith("/instances") for p in paths)
    assert not [p for p in paths if p.endswith(("/authString", "/users"))]
    assert all(method == "GET" for method, _path in server.calls)


def test_dependency_listings_are_made_while_the_workloads_are_read(
    emulator: Start, workdir: Path
) -> None:
    # A listing of connectors, Redis or Cloud SQL instances needs nothing the workloads say
    # (only joining them does): it is made as the environment's reading starts, client library
    # import included, not after the last workload is read, on the run's critical path.
    data = config_data(api={"concurrency": 2})
    for env in data["environments"].values():
        env["dependencies"] = {}
    write_config(workdir, **data)
    fleet = estate()
    fleet["projects"][PROD]["services"][REGION] += [
        service(f"web-{i:02d}", PROD) for i in range(24)
    ]
    server = emulator(scenario(**fleet, latency_ms=100))
    snapshot = collect(workdir)
    assert snapshot.errors == []
    assert len(snapshot.resources["connector/us-central1/egress"]["used_by"]) == 25
    assert "redis/us-central1/cache" in snapshot.resources
    assert "sql/us-central1/main-db" in snapshot.resources
    paths = [path for _method, path in server.calls]
    listings = [i for i, p in enumerate(paths) if p.endswith(("/connectors", "/instances"))]
    policies = [i for i, p in enumerate(paths) if p.endswith(":getIamPolicy")]
    assert len(listings) == 3 and len(policies) == 25
    # 25 policies two at a time take over a second: the listings were all made well before
    assert max(listings) < policies[-5]


def test_without_a_dependencies_section_nothing_behind_the_vpc_is_read(
    emulator: Start, workdir: Path
) -> None:
    server = emulator(scenario(**estate()))
    snapshot = collect(workdir)
    assert all(key.startswith("service/") for key in snapshot.resources)
    assert not [p for _m, p in server.calls if "/instances" in p or "/connectors" in p]


def test_connectors_are_listed_only_where_a_workload_or_the_config_names_one(
    emulator: Start, workdir: Path
) -> None:
    # Listings start while the workloads are read, but only those the plan needs: a region
    # where nothing egresses through a connector costs no call, and no permission.
    configure(workdir)
    fleet = estate()
    for project_body in fleet["projects"].values():
        for body in project_body["services"][REGION]:
            body["template"].pop("vpcAccess")
    server = emulator(scenario(**fleet))
    snapshot = collect(workdir)
    assert snapshot.errors == []
    assert not [k for k in snapshot.resources if k.startswith("connector/")]
    assert "redis/us-central1/cache" in snapshot.resources
    paths = [p for _m, p in server.calls]
    assert not [p for p in paths if p.endswith("/connectors")]
    configure(workdir, {"connectors": ["spare"]})
    snapshot = collect(workdir)
    assert snapshot.errors == []
    assert "connector/us-central1/spare" in snapshot.resources
    assert len([p for _m, p in server.calls if p.endswith("/connectors")]) == 1


def test_connector_listings_of_many_regions_start_few_threads(
    emulator: Start, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A connector the config lists is looked for in every region read (``regions: all`` reads
    # dozens): each region is listed, on a few threads, not one each.
    from driftcheck.kinds.connector import collect as connectors

    regions = [REGION, *(f"europe-west{n}" for n in range(1, 10))]
    data = config_data()
    for env in data["environments"].values():
        env["regions"] = regions
        env["dependencies"] = {"connectors": ["spare"]}
    write_config(workdir, **data)
    server = emulator(scenario(**estate()))
    threads: list[str] = []
    list_one = connectors.ConnectorCollector.list_one

    def recorded(self: Any, project: str, region: str, env: Any) -> Any:
        threads.append(threading.current_thread().name)
        return list_one(self, project, region, env)

    monkeypatch.setattr(connectors.ConnectorCollector, "list_one", recorded)
    snapshot = collect(workdir)
    # (the regions without a Cloud Run service are reported so; no listing failed)
    assert not [e for e in snapshot.errors if e.source != "run.googleapis.com"]
    assert "connector/us-central1/spare" in snapshot.resources
    assert len([p for _m, p in server.calls if p.endswith("/connectors")]) == 10
    assert len(threads) == 10 and len(set(threads)) <= connectors.LISTING_THREADS


def test_every_page_of_every_listing_is_read(emulator: Start, workdir: Path) -> None:
    configure(workdir, {"connectors": ["spare"]})
    server = emulator(scenario(**estate(redis_count=3), max_page_size=1))
    snapshot = collect(workdir)
    assert snapshot.errors == []
    kinds = {k.rsplit("/", 1)[0] + "/" + k.rsplit("/", 1)[1] for k in snapshot.resources}
    assert {"redis/us-central1/cache-1", "redis/us-central1/cache-2"} <= kinds
    assert {"connector/us-central1/egress", "connector/us-central1/spare"} <= kinds
    assert {"sql/us-central1/main-db", "sql/us-central1/reports-db"} <= kinds
    calls = [p for _m, p in server.calls]
    assert sum(p.endswith("/locations/us-central1/instances") for p in calls) == 3
    assert sum(p.endswith("/connectors") for p in calls) == 2
    assert sum(p == f"/v1/projects/{PROD}/instances" for p in calls) == 3


@pytest.mark.parametrize(
    ("path", "resource", "role"),
    [
        ("/connectors$", "connector/us-central1/*", "roles/vpcaccess.viewer"),
        ("/locations/[^/]+/instances$", "redis/us-central1/*", "roles/redis.viewer"),
        (f"^/v1/projects/{PROD}/instances$", "sql/*", "roles/cloudsql.viewer"),
    ],
)
def test_a_refused_listing_names_the_role_and_judges_nothing(
    emulator: Start, workdir: Path, path: str, resource: str, role: str
) -> None:
    configure(workdir)
    emulator(scenario(**estate(), faults=[FaultSpec(path=path, status=403)]))
    snapshot = collect(workdir)
    (error,) = snapshot.errors
    assert error.resource == resource and role in error.message
    kind = resource.split("/", 1)[0]
    assert not [k for k in snapshot.resources if k.startswith(f"{kind}/")]
    assert dependency_violations(snapshot) == []  # nothing read is nothing judged


@pytest.mark.parametrize("status", [503, 429])
@pytest.mark.parametrize(
    "path", ["/connectors$", "/locations/[^/]+/instances$", "/v1/projects/[^/]+/instances$"]
)
def test_transient_failures_are_retried(
    emulator: Start, workdir: Path, status: int, path: str
) -> None:
    configure(workdir)
    emulator(scenario(**estate(), faults=[FaultSpec(path=path, status=status, times=2)]))
    snapshot = collect(workdir)
    assert snapshot.errors == []
    assert {
        "connector/us-central1/egress",
        "redis/us-central1/cache",
        "sql/us-central1/main-db",
    } <= set(snapshot.resources)


def test_a_missing_connector_is_critical(emulator: Start, workdir: Path) -> None:
    configure(workdir)
    emulator(scenario(**estate(with_connector=False)))
    snapshot = collect(workdir)
    assert snapshot.resources["connector/us-central1/egress"]["exists"] is False
    (finding,) = dependency_violations(snapshot)
    assert (finding.rule, finding.severity.value) == ("connector-missing", "critical")
    assert "egress, used by backend, does not exist in production" in finding.message


def test_a_connector_in_error_is_critical(emulator: Start, workdir: Path) -> None:
    configure(workdir)
    emulator(scenario(**estate(connector_state="ERROR")))
    (finding,) = dependency_violations(collect(workdir))
    assert (finding.resource, finding.path) == ("connector/us-central1/egress", "state")
    assert finding.severity.value == "critical"
    assert "egress, used by backend, is ERROR (not READY) in production" in finding.message


def test_a_redis_address_no_instance_holds_is_critical(emulator: Start, workdir: Path) -> None:
    configure(workdir)
    emulator(scenario(**estate(redis_host="10.166.204.83")))
    snapshot = collect(workdir)
    assert snapshot.resources["redis/us-central1/10.166.204.83"]["exists"] is False
    (finding,) = dependency_violations(snapshot)
    assert finding.resource == "service/us-central1/backend"
    assert finding.path == "template.containers.app.env.REDIS_HOST.value"
    assert finding.severity.value == "critical"
    assert finding.message == (
        "REDIS_HOST of backend points at 10.166.204.83, which is no Redis instance in production"
    )


def test_a_redis_instance_that_is_not_ready_is_critical(emulator: Start, workdir: Path) -> None:
    configure(workdir)
    emulator(scenario(**estate(redis_state="REPAIRING")))
    (finding,) = dependency_violations(collect(workdir))
    assert finding.rule == "redis-reference-not-ready" and finding.severity.value == "critical"
    assert (finding.resource, finding.path) == ("redis/us-central1/cache", "state")
    assert finding.message == (
        "Redis instance cache, which backend (REDIS_HOST) points at, is REPAIRING (not READY) "
        "in production"
    )


def test_a_connector_on_another_network_is_high(emulator: Start, workdir: Path) -> None:
    configure(workdir)
    emulator(scenario(**estate(connector_network="other-vpc")))
    findings = dependency_violations(collect(workdir))
    assert sorted((f.rule, f.severity.value) for f in findings) == [
        ("cloud-sql-network-mismatch", "high"),
        ("redis-network-mismatch", "high"),
    ]
    redis = next(f for f in findings if f.rule == "redis-network-mismatch")
    assert "egresses connector egress onto projects/${project}/global/networks/other-vpc" in (
        redis.message
    )


def test_direct_vpc_on_another_network_is_high(emulator: Start, workdir: Path) -> None:
    configure(workdir)
    emulator(scenario(**estate(network_interface=True)))
    rules = sorted(str(f.rule) for f in dependency_violations(collect(workdir)))
    assert rules == ["cloud-sql-network-mismatch", "redis-network-mismatch"]


def test_a_connection_budget_that_cannot_hold_is_high_with_its_arithmetic(
    emulator: Start, workdir: Path
) -> None:
    configure(workdir)
    emulator(scenario(**estate(pool="60")))
    (finding,) = dependency_violations(collect(workdir))
    assert (finding.rule, finding.severity.value) == ("cloud-sql-connection-budget", "high")
    assert finding.message == (
        "max_connections of main-db is 500 (flag) in production, but its users may open 600: "
        "backend 10 max instances × pool 60 = 600"
    )


def test_references_are_configurable(emulator: Start, workdir: Path) -> None:
    # REDIS_HOST is not a reference any more: the stale address is not judged.
    configure(workdir, {"references": {"DATABASE_URL": "sql"}})
    emulator(scenario(**estate(redis_host="10.9.9.9")))
    snapshot = collect(workdir)
    assert dependency_violations(snapshot) == []
    assert "used_by" not in snapshot.resources["redis/us-central1/cache"]


def test_tiers_and_flags_compare_across_environments(
    emulator: Start, workdir: Path, run_cli: Callable[..., CliResult]
) -> None:
    configure(workdir)
    emulator(scenario(**estate(staging={"tier": "BASIC", "max_connections": "100"})))
    assert run_cli("--config", str(workdir / "driftcheck.yaml"), "baseline", "production").code == 0
    out = workdir / "out"
    result = run_cli(
        "--config",
        str(workdir / "driftcheck.yaml"),
        "check",
        "staging",
        "--against",
        "production",
        "--format",
        "json",
        "--out-dir",
        str(out),
    )
    assert result.code == 1, result.stderr
    report = json.loads((out / "staging-vs-production.json").read_text())
    found = {(f["resource"], f["path"]): f for f in report["findings"]}
    assert found[("redis/us-central1/cache", "tier")]["severity"] == "high"
    # The lowered flag and the budget it no longer holds are one finding, with both as evidence.
    budget = found[("sql/us-central1/main-db", "connections.max_connections")]
    assert budget["severity"] == "high"
    assert "users may open 200: backend 10 max instances × pool 20 = 200" in budget["message"]
    evidence = {e["path"] for e in budget["evidence"]}
    assert "settings.database_flags.max_connections" in evidence
    # The same instance reached in both: addresses differ, nothing else is reported about them.
    assert not [k for k in found if k[0].startswith("redis/") and "used_by" in k[1]]
    # The APIs read are listed in one order, however their clients were built.
    endpoints = list(report["provenance"]["endpoints"])
    assert endpoints == sorted(endpoints) and {"redis", "sqladmin", "vpcaccess"} <= set(endpoints)


def _suffixed(fleet: dict[str, Any], project_id: str, token: str, moment: str) -> None:
    """One project of ``fleet`` with its names carrying ``token`` and volatile fields of its
    own, reached the same way."""
    body = fleet["projects"][project_id]
    (service_body,) = body["services"][REGION]
    service_body["name"] = f"backend-{token}"
    service_body["template"]["vpcAccess"]["connector"] = (
        f"projects/{project_id}/locations/{REGION}/connectors/egress-{token}"
    )
    body["connectors"][REGION][0]["name"] = f"egress-{token}"
    cache = body["redis"][REGION][0]
    cache.update(name=f"cache-{token}", createTime=moment, currentLocationId=f"{REGION}-{token}")
    body["sql"][0].update(name=f"main-db-{token}", etag=f"etag-{token}")


def test_estates_alike_but_for_projects_names_and_volatile_fields_check_clean(
    emulator: Start, workdir: Path, run_cli: Callable[..., CliResult]
) -> None:
    # Every dependency kind read (listed while the workloads are read, joined after), each
    # matched across environments by identity: nothing differs but what must not matter.
    data = config_data()
    data["environments"]["production"].update(name_map={"prod": "${env}"}, dependencies={})
    data["environments"]["staging"].update(name_map={"stg": "${env}"}, dependencies={})
    write_config(workdir, **data)
    fleet = estate()
    _suffixed(fleet, PROD, "prod", "2026-01-01T00:00:00Z")
    _suffixed(fleet, STAGING, "stg", "2026-11-01T00:00:00Z")
    emulator(scenario(**fleet))
    config = str(workdir / "driftcheck.yaml")
    assert run_cli("--config", config, "baseline", "production").code == 0
    out = workdir / "out"
    result = run_cli(
        "--config", config, "check", "staging", "--against", "production", "--out-dir", str(out)
    )
    assert result.code == 0, result.stderr
    report = json.loads((out / "staging-vs-production.json").read_text())
    assert report["status"] == "clean" and report["findings"] == []
    matched = {c["kind"]: c["matched"] for c in report["coverage"] if c["matched"]}
    assert matched["connector"] == 1 and matched["redis"] == 1 and matched["sql"] == 2
    assert matched["service"] == 1


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/connectors$", "connector"),
        ("/locations/[^/]+/instances$", "redis"),
        (f"^/v1/projects/{PROD}/instances$", "sql"),
    ],
)
def test_a_listing_refused_while_the_workloads_are_read_is_never_clean(
    emulator: Start, workdir: Path, run_cli: Callable[..., CliResult], path: str, kind: str
) -> None:
    # A listing started early fails as one made after the workloads did: the check is
    # incomplete (exit 3), says what was not read, and judges nothing of that kind.
    configure(workdir)
    server = emulator(scenario(**estate()))
    config = str(workdir / "driftcheck.yaml")
    assert run_cli("--config", config, "baseline", "production").code == 0
    server.add_fault(FaultSpec(path=path, status=403))
    out = workdir / "out"
    result = run_cli("--config", config, "check", "production", "--out-dir", str(out))
    assert result.code == 3, result.stderr
    report = json.loads((out / "production-vs-production.json").read_text())
    assert report["status"] == "incomplete"
    assert [f for f in report["findings"] if f["resource"].startswith(f"{kind}/")] == []
    assert any(e["resource"].startswith(f"{kind}/") for e in report["errors"])


def test_a_dependency_listing_refused_after_a_slow_page_is_never_clean(
    emulator: Start, workdir: Path, run_cli: Callable[..., CliResult]
) -> None:
    # The services page takes longer than the dependency listings wait for the run to wait on
    # the API: they start at their time limit, are refused, and the check is incomplete.
    configure(workdir)
    server = emulator(scenario(**estate()))
    config = str(workdir / "driftcheck.yaml")
    assert run_cli("--config", config, "baseline", "production").code == 0
    server.add_fault(FaultSpec(path="/services$", status=200, body="slow", delay_seconds=1.5))
    server.add_fault(FaultSpec(path="/locations/[^/]+/instances$", status=403))
    out = workdir / "out"
    result = run_cli("--config", config, "check", "production", "--out-dir", str(out))
    assert result.code == 3, result.stderr
    report = json.loads((out / "production-vs-production.json").read_text())
    assert report["status"] == "incomplete"
    assert not [f for f in report["findings"] if f["resource"].startswith("redis/")]
    assert any(e["resource"].startswith("redis/") for e in report["errors"])


def test_every_report_of_a_run_reading_dependencies_names_their_endpoints(
    emulator: Start, workdir: Path, run_cli: Callable[..., CliResult]
) -> None:
    # Production reads nothing behind the VPC; staging reads Redis and Cloud SQL, whose clients
    # are built once the run waits on the API: both reports name them.
    server = emulator(Scenario.model_validate(estate()))
    data = config_data()
    data["environments"]["staging"]["dependencies"] = {}
    write_config(workdir, **data)
    config = str(workdir / "driftcheck.yaml")
    for env in ("production", "staging"):
        assert run_cli("--config", config, "-q", "baseline", env).code == 0
    # Staging's services come late: production is judged before Redis or Cloud SQL is read.
    server.add_fault(
        FaultSpec(path=f"{STAGING}/.*/services$", status=200, body="slow", delay_seconds=1.0)
    )
    assert run_cli("--config", config, "-q", "check", "--all").code in (0, 1)
    for stem in ("production-vs-production", "staging-vs-staging"):
        report = json.loads((workdir / "reports" / f"{stem}.json").read_text())
        endpoints = report["provenance"]["endpoints"]
        assert endpoints["redis"] == endpoints["sqladmin"] == server.url, stem


def test_an_unknown_dependencies_key_is_a_config_error(workdir: Path) -> None:
    configure(workdir, {"redis_instances": ["cache"]})
    with pytest.raises(
        ConfigError, match="dependencies.redis_instances: unknown key 'redis_instances'"
    ):
        load_config(workdir / "driftcheck.yaml")
    configure(workdir, {"references": {"REDIS_HOST": "memcache"}})
    with pytest.raises(ConfigError, match="references.REDIS_HOST"):
        load_config(workdir / "driftcheck.yaml")


def test_every_field_of_the_client_types_has_a_treatment() -> None:
    from google.cloud import redis_v1, sqladmin_v1, vpcaccess_v1

    from driftcheck.kinds import kind_named

    types: dict[str, list[Any]] = {
        "connector": [vpcaccess_v1.Connector],
        "redis": [redis_v1.Instance],
        "sql": [sqladmin_v1.DatabaseInstance, sqladmin_v1.Settings],
    }
    for kind, messages in types.items():
        table = kind_named(kind).fields
        assert table is not None
        for message in messages:
            names = {f.name for f in message.pb().DESCRIPTOR.fields}
            assert names == set(table[message.__name__]), (kind, message.__name__)


def check_findings(
    workdir: Path, run_cli: Callable[..., CliResult], env: str = "staging"
) -> list[dict[str, Any]]:
    """Baseline production, check ``env`` against it; the JSON report's findings."""
    config = str(workdir / "driftcheck.yaml")
    assert run_cli("--config", config, "baseline", "production").code == 0
    out = workdir / "out"
    result = run_cli(
        "--config", config, "check", env, "--against", "production",
        "--format", "json", "--out-dir", str(out),
    )  # fmt: skip
    assert result.code in (0, 1, 3), result.stderr
    report = json.loads((out / f"{env}-vs-production.json").read_text())
    findings: list[dict[str, Any]] = report["findings"]
    return findings


def test_an_address_reaching_nothing_is_one_finding_with_its_presence(
    emulator: Start, workdir: Path, run_cli: Callable[..., CliResult]
) -> None:
    # Staging's REDIS_HOST names an address no instance holds: the violation, the changed
    # value, the instance production's backend reaches and the address only staging names are
    # one fact.
    configure(workdir)
    data = estate()
    staging_backend = data["projects"][STAGING]["services"][REGION][0]
    staging_backend["template"]["containers"][0]["env"][0]["value"] = "10.128.0.7"
    emulator(scenario(**data))
    findings = check_findings(workdir, run_cli)
    redis = [f for f in findings if f["resource"].startswith("redis/") or "REDIS_HOST" in f["path"]]
    assert len(redis) == 1, [(f["resource"], f["path"]) for f in redis]
    (finding,) = redis
    assert finding["severity"] == "critical" and finding["rule"] == "redis-reference-unresolved"
    parts = {(e["resource"], e["path"]) for e in finding["evidence"]}
    assert ("redis/us-central1/10.128.0.7", "") in parts
    assert ("redis/us-central1/cache", "used_by") in parts


def test_a_basic_tier_and_the_replicas_it_cannot_have_are_one_finding(
    emulator: Start, workdir: Path, run_cli: Callable[..., CliResult]
) -> None:
    configure(workdir)
    data = estate(staging={"tier": "BASIC"})
    (prod_cache,) = data["projects"][PROD]["redis"][REGION]
    prod_cache.update(
        replicaCount=2,
        readReplicasMode="READ_REPLICAS_ENABLED",
        alternativeLocationId=REGION + "-b",
    )
    emulator(scenario(**data))
    redis = [f for f in check_findings(workdir, run_cli) if f["resource"].startswith("redis/")]
    assert [(f["path"], f["severity"]) for f in redis] == [("tier", "high")]
    assert {e["path"] for e in redis[0]["evidence"]} == {
        "tier",
        "replica_count",
        "read_replicas_mode",
        "alternative_location_id",
    }


def test_fewer_replicas_on_the_same_tier_is_a_finding_of_its_own(
    emulator: Start, workdir: Path, run_cli: Callable[..., CliResult]
) -> None:
    configure(workdir)
    data = estate()
    data["projects"][PROD]["redis"][REGION][0]["replicaCount"] = 2
    data["projects"][STAGING]["redis"][REGION][0]["replicaCount"] = 1
    emulator(scenario(**data))
    redis = [f for f in check_findings(workdir, run_cli) if f["resource"].startswith("redis/")]
    assert [(f["path"], f["severity"], f["evidence"]) for f in redis] == [
        ("replica_count", "medium", [])
    ]


@pytest.mark.parametrize(
    ("path", "resource"),
    [
        ("/connectors$", "connector/us-central1/*"),
        ("/locations/[^/]+/instances$", "redis/us-central1/*"),
        (f"^/v1/projects/{PROD}/instances$", "sql/*"),
    ],
)
def test_a_listing_of_empty_pages_that_never_ends_stops(
    emulator: Start, workdir: Path, path: str, resource: str
) -> None:
    configure(workdir)
    emulator(scenario(**estate(), faults=[FaultSpec(path=path, status=200, body="endless")]))
    done: list[Snapshot] = []
    reader = threading.Thread(target=lambda: done.append(collect(workdir)), daemon=True)
    reader.start()
    reader.join(timeout=60)  # a listing that never ends would page on for thousands of pages
    assert done, f"the {resource} listing did not stop"
    (error,) = done[0].errors
    assert error.resource == resource and "pagination did not end" in error.message


@pytest.mark.parametrize(
    "url", ["postgres://app@10.20.0.5:5432/app", f"/cloudsql/{PROD}:europe-west1:main-db"]
)
def test_an_instance_in_a_region_not_read_is_no_missing_instance(
    emulator: Start, workdir: Path, url: str
) -> None:
    # One primary database for services in every region: it lives in a region the environment
    # does not read (regions: all lists only Cloud Run's). It exists, whatever it is not judged.
    configure(workdir)
    data = estate()
    prod = data["projects"][PROD]
    prod["sql"][0]["region"] = "europe-west1"
    prod["services"][REGION][0]["template"]["containers"][0]["env"][2]["value"] = url
    emulator(scenario(**data))
    snapshot = collect(workdir)
    assert snapshot.errors == []
    assert [f.message for f in dependency_violations(snapshot)] == []
    assert not [key for key in snapshot.resources if key.startswith("sql/") and "main-db" in key]


def test_an_instance_that_is_not_ready_is_one_finding_with_its_state(
    emulator: Start, workdir: Path, run_cli: Callable[..., CliResult]
) -> None:
    # Staging's Redis is REPAIRING: the state that differs from production's and the service
    # that reaches it are one fact.
    configure(workdir)
    emulator(scenario(**estate(staging={"redis_state": "REPAIRING"})))
    findings = check_findings(workdir, run_cli)
    redis = [f for f in findings if f["resource"].startswith("redis/") or "REDIS" in f["path"]]
    assert [(f["rule"], f["severity"]) for f in redis] == [
        ("redis-reference-not-ready", "critical")
    ]
    assert ("redis/us-central1/cache", "state") in {
        (e["resource"], e["path"]) for e in redis[0]["evidence"]
    }


def test_secret_material_in_a_dependency_is_never_written(
    workdir: Path, emulator: Start, run_cli: Callable[..., CliResult]
) -> None:
    # Labels are free text: a token kept there is redacted like a service's would be.
    token = "3f9a1c0b7d2e4f6a8b9c0d1e2f3a4b5c6d7e8f90"
    configure(workdir)
    data = estate()
    prod = data["projects"][PROD]
    prod["redis"][REGION][0]["labels"] = {"ci-token": token, "team": "core"}
    prod["sql"][0]["settings"]["userLabels"] = {"build": token}
    emulator(scenario(**data))
    assert run_cli("--config", str(workdir / "driftcheck.yaml"), "baseline", "production").code == 0
    written = (workdir / "baselines" / "production.yaml").read_text()
    assert token not in written
    assert "team: core" in written  # what is plainly no secret is kept in clear


def test_a_redis_instance_in_a_region_not_read_is_no_missing_instance(
    emulator: Start, workdir: Path
) -> None:
    # The service reaches a Redis instance of a region the environment does not read (VPC
    # networks are global): it exists, though it is not judged. One listing of every region
    # (locations/-) tells, made only when an address matched nothing.
    configure(workdir)
    data = estate()
    prod = data["projects"][PROD]
    prod["redis"] = {"europe-west1": prod["redis"][REGION]}
    server = emulator(scenario(**data))
    snapshot = collect(workdir)
    assert snapshot.errors == []
    assert [f.message for f in dependency_violations(snapshot) if "Redis" in f.message] == []
    assert not [key for key in snapshot.resources if key.startswith("redis/")]
    assert [p for _m, p in server.calls if p.endswith("/locations/-/instances")] == [
        f"/v1/projects/{PROD}/locations/-/instances"
    ]
    # An address that no instance of any region holds is still no instance.
    prod["services"][REGION][0]["template"]["containers"][0]["env"][0]["value"] = "10.9.9.9"
    emulator(scenario(**data))
    (finding,) = [f for f in dependency_violations(collect(workdir)) if "Redis" in f.message]
    assert finding.rule == "redis-reference-unresolved"


def test_an_address_that_cannot_be_told_is_not_judged_and_the_run_is_incomplete(
    emulator: Start, workdir: Path
) -> None:
    configure(workdir)
    fault = FaultSpec(path="/locations/-/instances$", status=403)
    emulator(scenario(**estate(redis_host="10.9.9.9"), faults=[fault]))
    snapshot = collect(workdir)
    (error,) = snapshot.errors
    assert error.resource == "redis/us-central1/10.9.9.9"
    assert "roles/redis.viewer" in error.message
    assert not [f for f in dependency_violations(snapshot) if "Redis" in f.message]


def test_an_address_matched_nowhere_while_a_region_is_unreachable_is_not_judged(
    emulator: Start, workdir: Path
) -> None:
    # Memorystore answers locations/- with the regions it could not reach: the address may be
    # an instance there, so nothing is said about it, and the run is incomplete.
    configure(workdir)
    data = estate(redis_host="10.9.9.9")
    data["projects"][PROD]["redis_unreachable"] = ["asia-east1"]
    emulator(scenario(**data))
    snapshot = collect(workdir)
    (error,) = snapshot.errors
    assert error.resource == "redis/us-central1/10.9.9.9"
    assert "asia-east1" in error.message
    assert not [f for f in dependency_violations(snapshot) if "Redis" in f.message]


def test_instances_of_one_name_in_two_regions_not_read_are_both_looked_at(
    emulator: Start, workdir: Path
) -> None:
    # "cache" in europe-west1 and in asia-east1: the address is the second one's.
    configure(workdir)
    data = estate(redis_host="10.7.7.7")
    prod = data["projects"][PROD]
    (cache,) = prod["redis"].pop(REGION)
    prod["redis"]["asia-east1"] = [{**cache, "host": "10.7.7.7"}]
    prod["redis"]["europe-west1"] = [cache]
    emulator(scenario(**data))
    snapshot = collect(workdir)
    assert snapshot.errors == []
    assert not [f for f in dependency_violations(snapshot) if "Redis" in f.message]
