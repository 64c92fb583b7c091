"""Verdicts you can trust on estates shaped like real ones: coverage, identity across
environments, one fact one finding, reads that fail in part, evidence and suppressions.

Every test drives the real CLI and the real google-cloud clients against the loopback emulator.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from driftcheck.emulator import EmulatorServer
from driftcheck.emulator.probes import ProbeServer
from driftcheck.emulator.scenario import FaultSpec, Scenario
from driftcheck.model import DriftReport, Status
from driftcheck.yamlio import dump_yaml
from tests.conftest import CliResult
from tests.factories import scenario

Start = Callable[[Scenario], EmulatorServer]
Run = Callable[..., CliResult]

PROD, STAGING, SHARED = "acme-prod", "acme-staging", "shared-secrets"
PROD_NUMBER, STAGING_NUMBER = "111111111111", "222222222222"
REGION, SECOND_REGION = "us-central1", "europe-west1"
DIGEST = "sha256:" + "ab" * 32
# Both environments deploy production's image, from production's registry, by digest.
IMAGE = f"europe-docker.pkg.dev/{PROD}/apps/api@{DIGEST}"


def real_service(
    name: str, env: str, project_id: str, number: str, region: str = REGION, **template: Any
) -> Any:
    """A service as a real estate has it: env-suffixed names, a shared image, a secret in a
    central secrets project, the run-sources bucket, and the project's own service accounts."""
    body: dict[str, Any] = {
        "name": f"{name}-{env}",
        "ingress": "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER",
        "labels": {"app": name, "env": env},
        "template": {
            "serviceAccount": f"{name}-{env}@{project_id}.iam.gserviceaccount.com",
            "timeout": "3600s",
            "sessionAffinity": True,
            "maxInstanceRequestConcurrency": 100,
            "vpcAccess": {
                "connector": f"projects/{project_id}/locations/{region}/connectors/egress-{env}",
                "egress": "PRIVATE_RANGES_ONLY",
            },
            "containers": [
                {
                    "name": "app",
                    "image": IMAGE,
                    "ports": [{"name": "http1", "containerPort": 8080}],
                    "env": [
                        {"name": "DB_NAME", "value": "my-product-db"},
                        {"name": "UPSTREAM", "value": f"http://{name}-{env}.internal"},
                        {"name": "SOURCES", "value": f"gs://run-sources-{project_id}-{region}"},
                        {
                            "name": "GEOIP_KEY",
                            "valueSource": {
                                "secretKeyRef": {
                                    "secret": f"projects/{SHARED}/secrets/geoip",
                                    "version": "latest",
                                }
                            },
                        },
                    ],
                }
            ],
            **template,
        },
    }
    return body


def staging_with_timeout(timeout: str) -> dict[str, Any]:
    """Staging as production has it, but for the request timeout of its ``api`` service."""
    return environment(
        "stg",
        STAGING,
        STAGING_NUMBER,
        services=[
            real_service("api", "stg", STAGING, STAGING_NUMBER, timeout=timeout),
            real_service("ws-gateway", "stg", STAGING, STAGING_NUMBER),
        ],
    )


def real_iam(env: str, project_id: str, number: str) -> dict[str, Any]:
    return {
        "bindings": [
            {
                "role": "roles/run.invoker",
                "members": [
                    f"serviceAccount:service-{number}@gcp-sa-pubsub.iam.gserviceaccount.com",
                    f"serviceAccount:frontend-{env}@{project_id}.iam.gserviceaccount.com",
                ],
            },
            {"role": f"projects/{project_id}/roles/deployer", "members": ["group:ops@acme.com"]},
        ]
    }


def environment(
    env: str,
    project_id: str,
    number: str,
    regions: tuple[str, ...] = (REGION,),
    services: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    listed = services or [
        real_service("api", env, project_id, number),
        real_service("ws-gateway", env, project_id, number),
    ]
    return {
        "number": number,
        "services": {region: copy.deepcopy(listed) for region in regions},
        "iam": {s["name"]: real_iam(env, project_id, number) for s in listed},
    }


SHARED_PROJECT = {
    "number": "333333333333",
    "secrets": {"geoip": {"versions": [{"version": 1, "payload": "canary-geoip-licence"}]}},
}


def real_estate(
    prod: dict[str, Any] | None = None, staging: dict[str, Any] | None = None, **fields: Any
) -> Scenario:
    """Production and staging identical but for project ids, volatile fields and names."""
    return scenario(
        projects={
            PROD: prod or environment("prod", PROD, PROD_NUMBER),
            STAGING: staging or environment("stg", STAGING, STAGING_NUMBER),
            SHARED: SHARED_PROJECT,
        },
        **fields,
    )


def write_config(directory: Path, **environments: dict[str, Any]) -> Path:
    envs: dict[str, Any] = {
        "production": {
            "project": PROD,
            "project_number": PROD_NUMBER,
            "regions": [REGION],
            "name_map": {"prod": "${env}"},
        },
        "staging": {
            "project": STAGING,
            "project_number": STAGING_NUMBER,
            "regions": [REGION],
            "name_map": {"stg": "${env}"},
        },
    }
    for name, overrides in environments.items():
        envs[name] = {**envs[name], **overrides}
    data = {
        "version": 1,
        "environments": envs,
        "api": {"timeout_seconds": 5, "retry_seconds": 1},
    }
    path = directory / "driftcheck.yaml"
    path.write_text(dump_yaml(data), encoding="utf-8")
    return path


@pytest.fixture
def cli(run_cli: Run, tmp_path: Path) -> Run:
    return lambda *args: run_cli("--config", str(tmp_path / "driftcheck.yaml"), *args)


def report_of(directory: Path, stem: str = "staging-vs-production") -> DriftReport:
    return DriftReport.model_validate_json((directory / "reports" / f"{stem}.json").read_text())


def active(report: DriftReport) -> list[tuple[str, str]]:
    return sorted((f.resource, f.path) for f in report.findings if f.active)


def coverage(report: DriftReport, kind: str = "service") -> dict[str, tuple[int, int, int]]:
    return {
        c.region: (c.matched, c.only_in_baseline, c.only_in_actual)
        for c in report.coverage
        if c.kind == kind
    }


# Done when: identical estates compare clean ------------------------------------------------------
def test_estate_identical_but_for_names_and_projects_checks_clean(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    write_config(tmp_path)
    server = emulator(real_estate())
    assert cli("baseline", "production").code == 0
    own = cli("check", "production")
    assert own.code == 0, own.stderr
    result = cli("check", "staging", "--against", "production")
    assert result.code == 0, result.stderr
    report = report_of(tmp_path)
    assert report.status is Status.CLEAN
    assert report.findings == []
    assert coverage(report) == {REGION: (2, 0, 0)}
    assert {c.kind for c in report.coverage} == {"secret", "service"}
    # The shared secret was read where it lives, once per environment.
    reads = [path for _method, path in server.calls if "/secrets/geoip" in path]
    assert reads and all(f"/projects/{SHARED}/" in path for path in reads)
    baseline = (tmp_path / "baselines" / "production.yaml").read_text()
    assert "service/us-central1/api-${env}:" in baseline
    assert "secret/shared-secrets/geoip:" in baseline
    assert "my-product-db" in baseline  # never inside a word
    assert "service-${project}@gcp-sa-pubsub" in baseline
    assert "projects/${project}/roles/deployer" in baseline
    assert "run-sources-${project}-${region}" in baseline
    assert "canary-geoip-licence" not in baseline


def test_real_drift_is_found_when_names_carry_the_environment(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    write_config(tmp_path)
    staging = staging_with_timeout("60s")
    emulator(real_estate(staging=staging))
    assert cli("baseline", "production").code == 0
    result = cli("check", "staging", "--against", "production")
    assert result.code == 1, result.stderr
    report = report_of(tmp_path)
    assert active(report) == [("service/us-central1/api-${env}", "template.timeout")]
    assert coverage(report) == {REGION: (2, 0, 0)}


def test_another_registry_with_the_same_digest_is_equal_a_new_digest_is_not(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    write_config(tmp_path)
    mirrored = f"us-docker.pkg.dev/{STAGING}/mirror/api:1.2@{DIGEST}"
    rebuilt = f"europe-docker.pkg.dev/{PROD}/apps/api@sha256:{'cd' * 32}"
    services = [
        real_service("api", "stg", STAGING, STAGING_NUMBER),
        real_service("ws-gateway", "stg", STAGING, STAGING_NUMBER),
    ]
    services[0]["template"]["containers"][0]["image"] = mirrored
    services[1]["template"]["containers"][0]["image"] = rebuilt
    emulator(real_estate(staging=environment("stg", STAGING, STAGING_NUMBER, services=services)))
    assert cli("baseline", "production").code == 0
    cli("check", "staging", "--against", "production")
    report = report_of(tmp_path)
    assert active(report) == [
        ("service/us-central1/ws-gateway-${env}", "template.containers.app.image")
    ]


# CLEAN only when everything asked for was read and compared --------------------------------------
def test_configured_service_that_does_not_exist_is_incomplete_not_clean(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    write_config(
        tmp_path,
        production={"services": ["ws-gateway"], "name_map": {}},
        staging={"services": ["ws-gateway"], "name_map": {}},
    )
    emulator(real_estate())
    made = cli("baseline", "production")
    assert made.code == 3
    assert "configured service ws-gateway not found in acme-prod" in made.stderr
    assert "ws-gateway-prod" in made.stderr  # what is there, to fix the config
    assert not (tmp_path / "baselines" / "production.yaml").exists()


def test_misspelt_region_is_incomplete(emulator: Start, cli: Run, tmp_path: Path) -> None:
    write_config(tmp_path, production={"regions": ["europe-wset1"]})
    emulator(real_estate())
    made = cli("baseline", "production")
    assert made.code == 3
    assert "region europe-wset1 of acme-prod has no Cloud Run service" in made.stderr


def test_check_that_compared_nothing_never_exits_0(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    # Without name_map every name differs: nothing matches by identity.
    write_config(tmp_path, production={"name_map": {}}, staging={"name_map": {}})
    emulator(real_estate())
    assert cli("baseline", "production").code == 0
    result = cli("check", "staging", "--against", "production")
    assert result.code == 3
    report = report_of(tmp_path)
    assert report.status is Status.INCOMPLETE
    assert coverage(report) == {REGION: (0, 2, 2)}
    assert [e.resource for e in report.errors] == [f"service/{REGION}/*"]
    assert "no service in region us-central1 matched by identity" in report.errors[0].message
    # A reference from a service on one side only follows from that service: one finding each.
    assert len(report.findings) == 4
    assert all(f.path == "" for f in report.findings)
    assert "check names, name_map and regions" in result.stderr


def test_environment_that_yields_nothing_where_its_baseline_has_resources(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    write_config(tmp_path)
    server = emulator(real_estate())
    assert cli("baseline", "production").code == 0
    server.state.scenario.projects[PROD].services[REGION] = []
    server.state.services.clear()
    result = cli("check", "production")
    assert result.code == 3
    report = report_of(tmp_path, "production-vs-production")
    assert report.status is Status.INCOMPLETE
    # The missing services are not reported as removed: they could not be compared.
    assert not [f for f in report.findings if f.resource.startswith("service/")]


def test_fingerprints_under_another_key_are_incomplete_not_clean(
    emulator: Start, cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(tmp_path)
    emulator(real_estate())
    assert cli("baseline", "production").code == 0
    monkeypatch.setenv("DRIFTCHECK_FINGERPRINT_KEY", "another-fingerprint-key-456789")
    result = cli("check", "production")
    assert result.code == 3, result.stderr
    report = report_of(tmp_path, "production-vs-production")
    assert report.status is Status.INCOMPLETE
    assert report.findings == []
    assert any("different keys" in e.message for e in report.errors)


def test_secret_payloads_not_accessed_make_a_secret_comparison_incomplete(
    emulator: Start, run_cli: Run, cli: Run, tmp_path: Path
) -> None:
    write_config(tmp_path)
    emulator(real_estate())
    assert cli("baseline", "production").code == 0
    config = str(tmp_path / "driftcheck.yaml")
    result = run_cli("--config", config, "--no-secret-payloads", "check", "production")
    assert result.code == 3, result.stderr
    report = report_of(tmp_path, "production-vs-production")
    assert any(
        e.resource == "secret/shared-secrets/geoip" and "--no-secret-payloads" in e.message
        for e in report.errors
    )


# Regions -----------------------------------------------------------------------------------------
def test_a_region_on_one_side_only_is_one_finding_and_shared_regions_compare(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    write_config(tmp_path, production={"regions": [REGION, SECOND_REGION]})
    prod = environment("prod", PROD, PROD_NUMBER, regions=(REGION, SECOND_REGION))
    emulator(real_estate(prod=prod))
    assert cli("baseline", "production").code == 0
    result = cli("check", "staging", "--against", "production")
    assert result.code == 1
    report = report_of(tmp_path)
    assert active(report) == [(f"region/{SECOND_REGION}", "")]
    assert coverage(report) == {REGION: (2, 0, 0), SECOND_REGION: (0, 0, 0)}
    skipped = next(c for c in report.coverage if c.region == SECOND_REGION).not_compared
    assert len(skipped) == 2
    assert all("read only in production" in n.why for n in skipped)


def test_adding_a_region_never_rekeys_the_baseline(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    write_config(tmp_path)
    emulator(real_estate(prod=environment("prod", PROD, PROD_NUMBER, (REGION, SECOND_REGION))))
    assert cli("baseline", "production").code == 0
    before = (tmp_path / "baselines" / "production.yaml").read_text()
    write_config(tmp_path, production={"regions": [REGION, SECOND_REGION]})
    assert cli("baseline", "production").code == 0
    after = (tmp_path / "baselines" / "production.yaml").read_text()
    keys_before = {line for line in before.splitlines() if line.startswith("  service/")}
    keys_after = {line for line in after.splitlines() if line.startswith("  service/")}
    assert keys_before < keys_after
    assert keys_after - keys_before == {
        f"  service/{SECOND_REGION}/api-${{env}}:",
        f"  service/{SECOND_REGION}/ws-gateway-${{env}}:",
    }


def test_region_aliases_compare_environments_in_different_regions(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    write_config(
        tmp_path,
        production={"regions": {"primary": REGION}},
        staging={"regions": {"primary": SECOND_REGION}},
    )
    services = [
        real_service(name, "stg", STAGING, STAGING_NUMBER, region=SECOND_REGION)
        for name in ("api", "ws-gateway")
    ]
    staging = environment(
        "stg", STAGING, STAGING_NUMBER, regions=(SECOND_REGION,), services=services
    )
    emulator(real_estate(staging=staging))
    assert cli("baseline", "production").code == 0
    result = cli("check", "staging", "--against", "production")
    assert result.code == 0, result.stderr
    assert coverage(report_of(tmp_path)) == {"primary": (2, 0, 0)}


# Reads that fail in part -------------------------------------------------------------------------
def test_forbidden_iam_reads_keep_everything_else_judged(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    write_config(tmp_path)
    staging = staging_with_timeout("60s")
    faults = [FaultSpec(path=f"/projects/{STAGING}/.*:getIamPolicy", status=403)]
    emulator(real_estate(staging=staging, faults=faults))
    assert cli("baseline", "production").code == 0
    result = cli("check", "staging", "--against", "production")
    assert result.code == 3
    report = report_of(tmp_path)
    assert report.status is Status.INCOMPLETE
    assert active(report) == [("service/us-central1/api-${env}", "template.timeout")]
    assert report.summary.high == 1
    assert all(e.path == "iam" for e in report.errors)
    assert "run.services.getIamPolicy (grant roles/run.viewer)" in result.stderr
    assert "template.timeout" in result.stderr


# One fact, one finding ---------------------------------------------------------------------------
def test_one_fact_is_one_finding_with_its_evidence(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    with ProbeServer() as probes:
        base = f"http://127.0.0.1:{probes.port}"

        def probe_config(ws: str, health: str) -> dict[str, Any]:
            return {
                "probes": [
                    {"name": "ws", "websocket": f"ws{base[4:]}/{ws}/ws", "subprotocols": ["jwt"]},
                    {
                        "name": "health",
                        "http": f"{base}/health/{health}",
                        "fields": ["status", "dependencies.redis.status"],
                    },
                ]
            }

        write_config(
            tmp_path,
            production=probe_config("echo", "ok"),
            staging=probe_config("noecho", "degraded"),
        )
        emulator(real_estate())
        assert cli("baseline", "production").code == 0
        result = cli("check", "staging", "--against", "production")
    assert result.code == 1, result.stderr
    report = report_of(tmp_path)
    # Each degraded field is one fact (the field's change and its defect); fields that report
    # other dependencies stay their own facts, so that accepting one never hides another.
    assert active(report) == [
        ("probe/health", "defects.degraded:dependencies.redis.status"),
        ("probe/health", "defects.degraded:status"),
        ("probe/ws", "defects.subprotocol"),
    ]
    by_path = {f.path: f for f in report.findings}
    ws = by_path["defects.subprotocol"]
    assert ws.severity.value == "high"
    assert {e.path for e in ws.evidence} == {
        "subprotocol",
        "headers.sec-websocket-protocol",
        "defects.subprotocol",
    }
    redis = by_path["defects.degraded:dependencies.redis.status"]
    assert {e.path for e in redis.evidence} == {
        "fields.dependencies.redis.status",
        "defects.degraded:dependencies.redis.status",
    }
    assert redis.actual == "degraded"  # a value a suppression can accept
    assert report.summary.high == 3
    assert report.summary.medium == 0


# Deterministic baselines -------------------------------------------------------------------------
def test_baseline_with_probes_is_left_untouched_when_nothing_changed(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    with ProbeServer() as probes:
        write_config(
            tmp_path,
            production={
                "probes": [
                    {
                        "name": "health",
                        "http": f"http://127.0.0.1:{probes.port}/health/ok",
                        "fields": ["status", "dependencies.postgres.latency_ms"],
                        "max_latency_ms": 60000,
                    }
                ]
            },
        )
        emulator(real_estate())
        assert cli("baseline", "production").code == 0
        path = tmp_path / "baselines" / "production.yaml"
        first = path.read_bytes()
        stamp = path.stat().st_mtime_ns
        again = cli("baseline", "production")
    assert again.code == 0
    assert "unchanged" in again.stderr
    assert path.read_bytes() == first
    assert path.stat().st_mtime_ns == stamp
    assert b"latency" not in first


# Evidence ----------------------------------------------------------------------------------------
def test_diff_reproduces_without_overwriting_the_evidence(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    write_config(tmp_path)
    staging = staging_with_timeout("60s")
    emulator(real_estate(staging=staging))
    assert cli("baseline", "production").code == 0
    assert cli("check", "staging", "--against", "production").code == 1
    reports = tmp_path / "reports"
    original = {p.name: p.read_bytes() for p in reports.iterdir() if p.is_file()}
    snapshot = reports / "staging-vs-production.snapshot.yaml"
    baseline = tmp_path / "baselines" / "production.yaml"
    result = cli("diff", str(baseline), str(snapshot))
    assert result.code == 1, result.stderr
    assert {p.name: p.read_bytes() for p in reports.iterdir() if p.is_file()} == original
    reproduced = DriftReport.model_validate_json(
        (reports / "reproductions" / "staging-vs-production.json").read_text()
    )
    first = report_of(tmp_path)
    assert [f.id for f in reproduced.findings] == [f.id for f in first.findings]
    source = reproduced.provenance.reproduction_of
    assert source is not None
    assert source.report == str(reports / "staging-vs-production.json")
    assert source.report_generated_at == first.generated_at
    assert source.principal == first.provenance.principal
    refused = cli("diff", str(baseline), str(snapshot), "--out-dir", str(reports))
    assert refused.code == 2
    assert "made by `driftcheck check`" in refused.stderr
    assert {p.name: p.read_bytes() for p in reports.iterdir() if p.is_file()} == original


# Suppressions ------------------------------------------------------------------------------------
def _suppressing(tmp_path: Path, finding_id: str, accepted: Any) -> None:
    path = tmp_path / "driftcheck.yaml"
    text = path.read_text() + dump_yaml(
        {
            "rules": {
                "suppress": [
                    {
                        "id": finding_id,
                        "accepted": accepted,
                        "reason": "load test",
                        "owner": "platform",
                        "expires": "2099-01-01",
                    }
                ]
            }
        }
    )
    path.write_text(text)


def test_a_suppression_approves_a_value_not_a_path(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    write_config(tmp_path)

    server = emulator(real_estate(staging=staging_with_timeout("60s")))
    assert cli("baseline", "production").code == 0
    first = cli("check", "staging", "--against", "production")
    assert first.code == 1
    finding = report_of(tmp_path).findings[0]
    assert finding.id in first.stderr  # the terminal shows ids, to write the suppression
    _suppressing(tmp_path, finding.id, 60)
    assert cli("check", "staging", "--against", "production").code == 0
    assert report_of(tmp_path).summary.suppressed == 1
    server.stop()
    emulator(real_estate(staging=staging_with_timeout("1s")))
    again = cli("check", "staging", "--against", "production")
    assert again.code == 1
    reopened = report_of(tmp_path).findings[0]
    assert reopened.id == finding.id
    assert reopened.active
    assert "accepted 60" in reopened.message
    assert reopened.actual == 1


def test_suppression_without_an_accepted_value_is_a_config_error(cli: Run, tmp_path: Path) -> None:
    write_config(tmp_path)
    path = tmp_path / "driftcheck.yaml"
    path.write_text(
        path.read_text()
        + dump_yaml(
            {
                "rules": {
                    "suppress": [{"id": "x", "reason": "r", "owner": "o", "expires": "2099-01-01"}]
                }
            }
        )
    )
    result = cli("check", "staging")
    assert result.code == 2
    assert "rules.suppress.0.accepted: required key is missing" in result.stderr


def test_json_report_carries_coverage(emulator: Start, cli: Run, tmp_path: Path) -> None:
    write_config(tmp_path)
    emulator(real_estate())
    assert cli("baseline", "production").code == 0
    cli("check", "staging", "--against", "production")
    data = json.loads((tmp_path / "reports" / "staging-vs-production.json").read_text())
    service = next(c for c in data["coverage"] if c["kind"] == "service")
    assert service == {
        "kind": "service",
        "region": REGION,
        "baseline": 2,
        "actual": 2,
        "matched": 2,
        "only_in_baseline": 0,
        "only_in_actual": 0,
        "not_compared": [],
    }


def test_a_pin_moved_to_a_disabled_version_is_one_finding(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    write_config(tmp_path)

    def production(version: str) -> dict[str, Any]:
        services = [
            real_service("api", "prod", PROD, PROD_NUMBER),
            real_service("ws-gateway", "prod", PROD, PROD_NUMBER),
        ]
        services[0]["template"]["containers"][0]["env"].append(
            {
                "name": "SIGNING_KEY",
                "valueSource": {"secretKeyRef": {"secret": "signing", "version": version}},
            }
        )
        env = environment("prod", PROD, PROD_NUMBER, services=services)
        env["secrets"] = {
            "signing": {
                "versions": [
                    {"version": 1, "payload": "canary-signing-1"},
                    {"version": 2, "state": "DISABLED", "payload": "canary-signing-2"},
                ]
            }
        }
        return env

    server = emulator(real_estate(prod=production("1")))
    assert cli("baseline", "production").code == 0
    server.stop()
    emulator(real_estate(prod=production("2")))
    result = cli("check", "production")
    assert result.code == 1, result.stderr
    report = report_of(tmp_path, "production-vs-production")
    [finding] = [f for f in report.findings if f.active]
    assert finding.kind.value == "violation"
    assert finding.severity.value == "high"
    assert "which is disabled" in finding.message
    parts = {(e.resource, e.path) for e in finding.evidence}
    assert (
        "service/us-central1/api-${env}",
        "template.containers.app.env.SIGNING_KEY.version",
    ) in (parts)
    assert len(parts) >= 3
    assert report.summary.high == 1
    assert sum(1 for f in report.findings if f.active) == 1


def test_html_report_shows_coverage_gaps_and_evidence_in_a_browser(
    emulator: Start, cli: Run, tmp_path: Path, browser: Browser
) -> None:
    write_config(tmp_path, production={"regions": [REGION, SECOND_REGION]})
    prod = environment("prod", PROD, PROD_NUMBER, regions=(REGION, SECOND_REGION))
    staging = staging_with_timeout("60s")
    faults = [FaultSpec(path=f"/projects/{STAGING}/.*/ws-gateway-stg:getIamPolicy", status=403)]
    emulator(real_estate(prod=prod, staging=staging, faults=faults))
    assert cli("baseline", "production").code == 0
    assert cli("check", "staging", "--against", "production").code == 3
    page = browser.new_page()
    try:
        page.goto((tmp_path / "reports" / "staging-vs-production.html").as_uri())
        assert page.locator("#status").inner_text().lower() == "incomplete"
        row = page.locator(f"#coverage tr[data-kind='service'][data-region='{REGION}']")
        assert row.locator("td[data-matched]").inner_text() == "2"
        other = page.locator(f"#coverage tr[data-kind='service'][data-region='{SECOND_REGION}']")
        assert "read only in production" in other.inner_text()
        errors = page.locator("#errors").inner_text()
        assert "ws-gateway-${env}" in errors
        assert "roles/run.viewer" in errors
        findings = page.locator("#findings").inner_text()
        assert "template.timeout" in findings
        assert f"region/{SECOND_REGION}" in findings
    finally:
        page.close()


# Found by attacking the verdicts ---------------------------------------------------------------
def _with_secret_env(service: dict[str, Any], variable: str, secret: str) -> dict[str, Any]:
    service["template"]["containers"][0]["env"].append(
        {"name": variable, "valueSource": {"secretKeyRef": {"secret": secret, "version": "1"}}}
    )
    return service


def test_env_suffixed_secrets_are_read_by_their_real_names(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    write_config(tmp_path)

    def env_with_secret(env: str, project_id: str, number: str) -> dict[str, Any]:
        services = [
            _with_secret_env(
                real_service("api", env, project_id, number), "DB_PASSWORD", f"db-password-{env}"
            ),
            real_service("ws-gateway", env, project_id, number),
        ]
        result = environment(env, project_id, number, services=services)
        result["secrets"] = {
            f"db-password-{env}": {"versions": [{"version": 1, "payload": f"canary-{env}-db"}]}
        }
        return result

    server = emulator(
        real_estate(
            prod=env_with_secret("prod", PROD, PROD_NUMBER),
            staging=env_with_secret("stg", STAGING, STAGING_NUMBER),
        )
    )
    assert cli("baseline", "production").code == 0
    result = cli("check", "staging", "--against", "production")
    assert result.code == 0, result.stderr
    assert coverage(report_of(tmp_path), "secret") == {"global": (2, 0, 0)}
    read = {path for _method, path in server.calls if "db-password" in path}
    assert f"/v1/projects/{PROD}/secrets/db-password-prod/versions" in read
    assert f"/v1/projects/{STAGING}/secrets/db-password-stg/versions" in read
    assert not [path for path in read if "${" in path]


def test_two_services_with_one_neutral_name_are_a_gap_not_a_silent_drop(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    write_config(tmp_path, staging={"name_map": {"stg": "${env}", "staging": "${env}"}})
    staging = environment(
        "stg",
        STAGING,
        STAGING_NUMBER,
        services=[
            real_service("api", "staging", STAGING, STAGING_NUMBER, timeout="5s"),
            real_service("api", "stg", STAGING, STAGING_NUMBER),
            real_service("ws-gateway", "stg", STAGING, STAGING_NUMBER),
        ],
    )
    emulator(real_estate(staging=staging))
    assert cli("baseline", "production").code == 0
    result = cli("check", "staging", "--against", "production")
    assert result.code == 3, result.stderr
    assert "have the neutral name service/us-central1/api-${env}" in result.stderr


def test_container_and_volume_names_follow_the_name_map(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    write_config(tmp_path)

    def env_with_named_parts(env: str, project_id: str, number: str) -> dict[str, Any]:
        services = [
            real_service("api", env, project_id, number),
            real_service("ws-gateway", env, project_id, number),
        ]
        template = services[0]["template"]
        template["containers"][0]["name"] = f"api-{env}-1"
        template["containers"][0]["volumeMounts"] = [
            {"name": f"config-{env}", "mountPath": "/etc/app"}
        ]
        template["volumes"] = [{"name": f"config-{env}", "emptyDir": {"medium": "MEMORY"}}]
        return environment(env, project_id, number, services=services)

    emulator(
        real_estate(
            prod=env_with_named_parts("prod", PROD, PROD_NUMBER),
            staging=env_with_named_parts("stg", STAGING, STAGING_NUMBER),
        )
    )
    assert cli("baseline", "production").code == 0
    result = cli("check", "staging", "--against", "production")
    assert result.code == 0, result.stderr


def test_the_project_number_is_learnt_when_not_configured(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    write_config(tmp_path, production={"project_number": None}, staging={"project_number": None})

    def env_with_compute_sa(env: str, project_id: str, number: str) -> dict[str, Any]:
        services = [
            real_service("api", env, project_id, number),
            real_service("ws-gateway", env, project_id, number),
        ]
        services[0]["template"]["serviceAccount"] = (
            f"{number}-compute@developer.gserviceaccount.com"
        )
        return environment(env, project_id, number, services=services)

    emulator(
        real_estate(
            prod=env_with_compute_sa("prod", PROD, PROD_NUMBER),
            staging=env_with_compute_sa("stg", STAGING, STAGING_NUMBER),
        )
    )
    assert cli("baseline", "production").code == 0
    baseline = (tmp_path / "baselines" / "production.yaml").read_text()
    assert f"project_number: '{PROD_NUMBER}'" in baseline
    assert "${project}-compute@developer.gserviceaccount.com" in baseline
    result = cli("check", "staging", "--against", "production")
    assert result.code == 0, result.stderr


def test_a_value_literally_identical_on_both_sides_is_equal_whatever_its_tokens(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    """DESIGN: literally identical values are equal, whatever neutralization does to them, even
    when one holds a token that only the other side's name_map turns into ${env}."""
    write_config(tmp_path)

    def with_upstream(env: str, project_id: str, number: str) -> dict[str, Any]:
        services = [
            real_service("api", env, project_id, number),
            real_service("ws-gateway", env, project_id, number),
        ]
        services[0]["template"]["containers"][0]["env"][1]["value"] = "http://api-prod.internal"
        return environment(env, project_id, number, services=services)

    server = emulator(
        real_estate(
            prod=with_upstream("prod", PROD, PROD_NUMBER),
            staging=with_upstream("stg", STAGING, STAGING_NUMBER),
        )
    )
    assert cli("baseline", "production").code == 0
    result = cli("check", "staging", "--against", "production")
    assert result.code == 0, result.stderr
    # ...and a value that really differs is still drift.
    server.stop()
    staging = with_upstream("stg", STAGING, STAGING_NUMBER)
    staging["services"][REGION][0]["template"]["containers"][0]["env"][1]["value"] = (
        "http://api-canary.internal"
    )
    emulator(real_estate(staging=staging))
    assert cli("check", "staging", "--against", "production").code == 1
    assert active(report_of(tmp_path)) == [
        ("service/us-central1/api-${env}", "template.containers.app.env.UPSTREAM.value")
    ]


def test_a_service_on_one_side_and_its_secret_are_one_finding(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    write_config(tmp_path)
    extra = _with_secret_env(
        real_service("worker", "stg", STAGING, STAGING_NUMBER), "TOKEN", "worker-token"
    )
    staging = environment(
        "stg",
        STAGING,
        STAGING_NUMBER,
        services=[
            real_service("api", "stg", STAGING, STAGING_NUMBER),
            real_service("ws-gateway", "stg", STAGING, STAGING_NUMBER),
            extra,
        ],
    )
    staging["secrets"] = {"worker-token": {"versions": [{"version": 1, "payload": "canary-w"}]}}
    emulator(real_estate(staging=staging))
    assert cli("baseline", "production").code == 0
    assert cli("check", "staging", "--against", "production").code == 1
    report = report_of(tmp_path)
    [finding] = [f for f in report.findings if f.active]
    assert finding.resource == "service/us-central1/worker-${env}"
    # The service, the secret only it uses, and its reference to the shared secret.
    assert {e.resource for e in finding.evidence} == {
        "service/us-central1/worker-${env}",
        "secret/worker-token",
        "secret/shared-secrets/geoip",
    }


def test_a_secret_used_only_in_a_region_read_on_one_side_is_not_compared(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    write_config(tmp_path, production={"regions": [REGION, SECOND_REGION]})
    prod = environment("prod", PROD, PROD_NUMBER, regions=(REGION, SECOND_REGION))
    eu = _with_secret_env(
        real_service("eu-api", "prod", PROD, PROD_NUMBER, region=SECOND_REGION), "K", "eu-key"
    )
    prod["services"][SECOND_REGION].append(eu)
    prod["secrets"] = {"eu-key": {"versions": [{"version": 1, "payload": "canary-eu"}]}}
    emulator(real_estate(prod=prod))
    assert cli("baseline", "production").code == 0
    assert cli("check", "staging", "--against", "production").code == 1
    report = report_of(tmp_path)
    assert active(report) == [(f"region/{SECOND_REGION}", "")]
    [secrets] = [c for c in report.coverage if c.kind == "secret"]
    assert [n.resource for n in secrets.not_compared] == ["secret/eu-key"]


def test_a_suppression_must_say_what_it_suppresses(cli: Run, tmp_path: Path) -> None:
    write_config(tmp_path)
    path = tmp_path / "driftcheck.yaml"
    rule = {"accepted": None, "reason": "r", "owner": "o", "expires": "2099-01-01"}
    path.write_text(path.read_text() + dump_yaml({"rules": {"suppress": [rule]}}))
    result = cli("check", "staging")
    assert result.code == 2
    assert "a suppression needs an id, or a resource and path" in result.stderr


def test_no_secret_payloads_never_reads_a_policy_secret(
    emulator: Start, run_cli: Run, tmp_path: Path
) -> None:
    write_config(tmp_path, production={"auth": {"policy": {"secret": "claim-policy"}}})
    prod = environment("prod", PROD, PROD_NUMBER)
    prod["secrets"] = {"claim-policy": {"versions": [{"version": 1, "payload": "issuer: x"}]}}
    server = emulator(real_estate(prod=prod))
    config = str(tmp_path / "driftcheck.yaml")
    result = run_cli("--config", config, "--no-secret-payloads", "collect", "production")
    assert result.code == 3
    assert "payloads are not accessed (--no-secret-payloads)" in result.stderr
    assert not [p for _m, p in server.calls if p.endswith(":access")]


def test_what_the_runner_holds_is_never_written_into_a_baseline(
    emulator: Start, cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(
        tmp_path,
        production={
            "secrets": [{"name": "e2e-key", "expect_env": "E2E_HELD"}],
        },
    )
    prod = environment("prod", PROD, PROD_NUMBER)
    prod["secrets"] = {"e2e-key": {"versions": [{"version": 1, "payload": "canary-e2e"}]}}
    emulator(real_estate(prod=prod))
    monkeypatch.setenv("E2E_HELD", "canary-e2e")
    assert cli("baseline", "production").code == 0
    path = tmp_path / "baselines" / "production.yaml"
    first = path.read_bytes()
    assert b"consumers" not in first
    monkeypatch.setenv("E2E_HELD", "canary-e2e-rotated-by-ci")  # the runner's value changes
    again = cli("baseline", "production")
    assert again.code == 0
    assert "unchanged" in again.stderr
    assert path.read_bytes() == first
    # ...and is still judged where it is read: the held key no longer matches.
    result = cli("check", "production")
    assert result.code == 1
    [finding] = [f for f in report_of(tmp_path, "production-vs-production").findings if f.active]
    assert finding.path == "consumers.E2E_HELD"


def test_settings_with_secret_words_in_their_names_are_compared_in_clear(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    write_config(tmp_path)
    settings = {
        "AUTH_METHOD": "oidc",
        "AUTH_SCOPES": "openid email profile",
        "COOKIE_SAMESITE": "Lax",
        "SESSION_STORE": "redis",
        "SENTRY_RELEASE": "0123456789abcdef0123456789abcdef01234567",
        "JAVA_TOOL_OPTIONS": "-Dspring.profiles.active=${ENV}",
        "KEY_FILE": "/secrets/key.json",
        "AUTH_REQUIRED": "true",
        "WS_SESSION_TTL_SECONDS": "3600",
    }

    def env_with_settings(env: str, project_id: str, number: str, algorithm: str) -> Any:
        services = [
            real_service("api", env, project_id, number),
            real_service("ws-gateway", env, project_id, number),
        ]
        variables = {**settings, "TOKEN_ALGORITHM": algorithm}
        services[0]["template"]["containers"][0]["env"] += [
            {"name": name, "value": value.replace("${ENV}", env)}
            for name, value in variables.items()
        ]
        return environment(env, project_id, number, services=services)

    server = emulator(
        real_estate(
            prod=env_with_settings("prod", PROD, PROD_NUMBER, "RS256"),
            staging=env_with_settings("stg", STAGING, STAGING_NUMBER, "RS256"),
        )
    )
    assert cli("baseline", "production").code == 0
    assert cli("check", "production").code == 0
    result = cli("check", "staging", "--against", "production")
    assert result.code == 0, result.stderr
    server.stop()
    emulator(
        real_estate(
            prod=env_with_settings("prod", PROD, PROD_NUMBER, "RS256"),
            staging=env_with_settings("stg", STAGING, STAGING_NUMBER, "none"),
        )
    )
    assert cli("check", "staging", "--against", "production").code == 1
    [finding] = [f for f in report_of(tmp_path).findings if f.active]
    assert (finding.baseline, finding.actual) == ("RS256", "none")


def test_several_environments_are_checked_in_one_process(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    write_config(tmp_path)
    staging = staging_with_timeout("60s")
    server = emulator(real_estate(staging=staging))
    assert cli("baseline", "production").code == 0
    result = cli("check", "production", "staging", "--against", "production")
    assert result.code == 1, result.stderr  # the most severe of clean and drift
    assert report_of(tmp_path, "production-vs-production").status is Status.CLEAN
    assert report_of(tmp_path, "staging-vs-production").status is Status.DRIFT
    # Incomplete outranks drift: a 403 on production's IAM makes the whole run exit 3.
    server.add_fault(FaultSpec(path=f"/projects/{PROD}/.*:getIamPolicy", status=403))
    assert cli("check", "--all", "--against", "production").code == 3
    assert report_of(tmp_path).status is Status.DRIFT


def test_who_changed_a_service_last_is_shown_never_compared(
    emulator: Start, cli: Run, tmp_path: Path, browser: Browser
) -> None:
    write_config(tmp_path)

    def staging_by(who: str, timeout: str) -> dict[str, Any]:
        staging = staging_with_timeout(timeout)
        staging["services"][REGION][0]["lastModifier"] = who
        return staging

    server = emulator(real_estate(staging=staging_by("alice@acme.com", "3600s")))
    assert cli("baseline", "production").code == 0
    assert b"lastModifier" not in (tmp_path / "baselines" / "production.yaml").read_bytes()
    assert cli("check", "staging", "--against", "production").code == 0  # context only
    server.stop()
    emulator(real_estate(staging=staging_by("mallory@acme.com", "60s")))
    assert cli("check", "staging", "--against", "production").code == 1
    report = report_of(tmp_path)
    assert active(report) == [("service/us-central1/api-${env}", "template.timeout")]
    assert report.context["service/us-central1/api-${env}"]["last_modifier"] == "mallory@acme.com"
    page = browser.new_page()
    try:
        page.goto((tmp_path / "reports" / "staging-vs-production.html").as_uri())
        attribution = page.locator("[data-attribution]").first.inner_text()
        assert "mallory@acme.com" in attribution.replace("\u200b", "")
        assert "not compared" in attribution
    finally:
        page.close()
