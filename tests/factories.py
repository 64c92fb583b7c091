"""Test data factories: REST-shaped services, scenarios and configs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from driftcheck.emulator.scenario import Scenario
from driftcheck.yamlio import dump_yaml

PROD = "acme-prod"
STAGING = "acme-staging"
REGION = "us-central1"


def service(name: str, project: str = PROD, **overrides: Any) -> dict[str, Any]:
    """A Cloud Run v2 service in REST JSON shape; ``overrides`` merge at the top level."""
    body: dict[str, Any] = {
        "name": name,
        "ingress": "INGRESS_TRAFFIC_INTERNAL_ONLY",
        "launchStage": "GA",
        "labels": {"app": name},
        "template": {
            "serviceAccount": f"{name}@{project}.iam.gserviceaccount.com",
            "timeout": "3600s",
            "sessionAffinity": True,
            "maxInstanceRequestConcurrency": 100,
            "scaling": {"minInstanceCount": 1, "maxInstanceCount": 10},
            "vpcAccess": {
                "connector": f"projects/{project}/locations/{REGION}/connectors/egress",
                "egress": "PRIVATE_RANGES_ONLY",
            },
            "containers": [
                {
                    "name": "app",
                    "image": f"us-docker.pkg.dev/{project}/apps/{name}:1.0.0",
                    "ports": [{"name": "http1", "containerPort": 8080}],
                    "env": [
                        {"name": "REDIS_HOST", "value": "10.0.0.3"},
                        {"name": "LOG_LEVEL", "value": "info"},
                    ],
                }
            ],
        },
        "traffic": [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}],
    }
    body.update(copy.deepcopy(overrides))
    return body


def invoker_policy(*members: str) -> dict[str, Any]:
    """An IAM policy granting roles/run.invoker to ``members``."""
    return {"bindings": [{"role": "roles/run.invoker", "members": list(members)}]}


def project(
    services: list[dict[str, Any]],
    number: str = "111111111111",
    iam: dict[str, Any] | None = None,
    region: str = REGION,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A scenario project serving ``services`` in one region."""
    return {
        "number": number,
        "services": {region: services},
        "iam": iam or {},
        "secrets": secrets or {},
    }


def scenario(**fields: Any) -> Scenario:
    """A scenario from plain data."""
    return Scenario.model_validate(fields)


def two_environments(
    prod_services: list[dict[str, Any]] | None = None,
    staging_services: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> Scenario:
    """Production and staging, by default with identical estates."""
    prod = prod_services if prod_services is not None else [service("backend", PROD)]
    staging = staging_services if staging_services is not None else [service("backend", STAGING)]
    return scenario(
        projects={
            PROD: project(prod, "111111111111"),
            STAGING: project(staging, "222222222222"),
        },
        **fields,
    )


def config_data(**overrides: Any) -> dict[str, Any]:
    """A driftcheck.yaml body for production and staging."""
    data: dict[str, Any] = {
        "version": 1,
        "baselines_dir": "baselines",
        "reports_dir": "reports",
        "environments": {
            "production": {
                "project": PROD,
                "project_number": "111111111111",
                "regions": [REGION],
            },
            "staging": {
                "project": STAGING,
                "project_number": "222222222222",
                "regions": [REGION],
            },
        },
        "api": {"timeout_seconds": 5, "retry_seconds": 3},
    }
    data.update(overrides)
    return data


def write_config(directory: Path, **overrides: Any) -> Path:
    """Write a driftcheck.yaml into ``directory`` and return its path."""
    path = directory / "driftcheck.yaml"
    path.write_text(dump_yaml(config_data(**overrides)), encoding="utf-8")
    return path


def large_estate(count: int, latency_ms: float = 0, max_page_size: int = 50) -> Scenario:
    """Production and staging with ``count`` identical services each, every one with IAM."""

    def environment(project_id: str, number: str) -> dict[str, Any]:
        names = [f"svc-{i:04d}" for i in range(count)]
        iam = {name: invoker_policy("group:ops@example.com") for name in names}
        return project([service(name, project_id) for name in names], number, iam=iam)

    return scenario(
        projects={PROD: environment(PROD, "111111111111"), STAGING: environment(STAGING, "2222")},
        latency_ms=latency_ms,
        max_page_size=max_page_size,
    )
