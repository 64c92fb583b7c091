"""Scenario files: the estate an emulator serves (projects, services, IAM, secrets, faults)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from driftcheck.errors import InputError
from driftcheck.yamlio import load_yaml

SCENARIOS_DIR = Path(__file__).parent / "scenarios"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SecretVersionSpec(_Strict):
    """One version of a secret; ``payload`` is what ``:access`` returns."""

    version: int
    state: str = "ENABLED"
    payload: str | None = None


class SecretSpec(_Strict):
    """One secret: its metadata as the REST API shows it, and its versions."""

    metadata: dict[str, Any] = Field(default_factory=dict)
    versions: list[SecretVersionSpec] = Field(default_factory=list)


class ProjectSpec(_Strict):
    """One project: services per location (REST JSON shape), IAM policies, secrets."""

    number: str = "000000000000"
    services: dict[str, list[dict[str, Any]]] = Field(
        default_factory=dict, description="location -> services (REST JSON; name may be short)"
    )
    jobs: dict[str, list[dict[str, Any]]] = Field(
        default_factory=dict, description="location -> Cloud Run jobs (REST JSON)"
    )
    worker_pools: dict[str, list[dict[str, Any]]] = Field(
        default_factory=dict, description="location -> Cloud Run worker pools (REST JSON)"
    )
    revisions: dict[str, list[dict[str, Any]]] = Field(
        default_factory=dict,
        description="location -> service revisions (REST JSON; name is the revision's short name)",
    )
    iam: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="service name (or jobs/<name>, workerPools/<name>) -> IAM policy (REST JSON)",
    )
    secrets: dict[str, SecretSpec] = Field(default_factory=dict)
    connectors: dict[str, list[dict[str, Any]]] = Field(
        default_factory=dict, description="location -> VPC Access connectors (REST JSON)"
    )
    redis: dict[str, list[dict[str, Any]]] = Field(
        default_factory=dict, description="location -> Memorystore Redis instances (REST JSON)"
    )
    redis_unreachable: list[str] = Field(
        default_factory=list,
        description="Regions a Memorystore listing of every region (locations/-) reports as "
        "unreachable",
    )
    sql: list[dict[str, Any]] = Field(
        default_factory=list, description="Cloud SQL instances (sqladmin v1 REST JSON)"
    )
    locations: list[str] | None = Field(
        default=None,
        description="Regions the Cloud Run v1 locations list answers (default: the regions "
        "that hold services, jobs or worker pools in this project)",
    )

    def location_ids(self) -> list[str]:
        """The regions ``GET v1/projects/{project}/locations`` lists, sorted."""
        if self.locations is not None:
            return sorted(set(self.locations))
        return sorted({*self.services, *self.jobs, *self.worker_pools})


class FaultSpec(_Strict):
    """A fault to inject: which requests, what answer, how many times (None = always)."""

    path: str = Field(description="Regular expression searched in the request path")
    method: str = "GET"
    status: int = 503
    body: str = Field(
        default="json",
        pattern="^(json|html|malformed|truncated|reset|slow|trickle|repeat-token|endless|deep)$",
        description="json: an error; slow: the normal answer after delay_seconds; trickle: the "
        "normal answer one byte every delay_seconds; repeat-token: the normal answer with a "
        "nextPageToken that never changes; endless: an empty page with a new nextPageToken "
        "every time; deep: an error body nested 200,000 levels deep",
    )
    times: int | None = None
    delay_seconds: float = 0.0
    message: str | None = Field(default=None, description="Error message of a json fault")


class Scenario(_Strict):
    """Everything an emulator serves."""

    projects: dict[str, ProjectSpec] = Field(default_factory=dict)
    faults: list[FaultSpec] = Field(default_factory=list)
    latency_ms: float = 0.0
    max_page_size: int = 50


def load_scenario(path: Path) -> Scenario:
    """Read a scenario file with the same strict YAML loader as everything else; an invalid one
    is an InputError naming the file, line and key."""
    from driftcheck.config import describe_validation_error

    document = load_yaml(path, "scenario")
    try:
        return Scenario.model_validate(document.data)
    except ValidationError as exc:
        raise InputError(describe_validation_error(exc, document, Scenario)) from None
