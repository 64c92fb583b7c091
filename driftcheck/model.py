"""The data model shared by every stage: snapshots, findings and drift reports.

All models are frozen once built. Their JSON Schemas are published in ``schemas/``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

SNAPSHOT_SCHEMA_VERSION = 2
REPORT_SCHEMA_VERSION = 2


ENVIRONMENT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"
# An environment's name reaches file names (baselines/<env>.yaml, <env>-vs-<base>.json): a plain
# token, never a path, a control character or an empty string.
EnvironmentName = Annotated[
    str,
    Field(
        pattern=ENVIRONMENT_NAME_PATTERN,
        description="Letters, digits, '-' and '_', starting with a letter or digit; at most 63",
    ),
]


class FrozenModel(BaseModel):
    """Base for every model: immutable, and unknown fields are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Severity(StrEnum):
    """How much a finding matters, from ``critical`` down to ``info``."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is more severe."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.INFO: 0,
}


class FindingKind(StrEnum):
    """What happened at a path: a difference from the baseline, or a broken rule."""

    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"
    VIOLATION = "violation"


class Status(StrEnum):
    """Overall result of a check."""

    CLEAN = "clean"
    DRIFT = "drift"
    INCOMPLETE = "incomplete"


class CollectionErrorRecord(FrozenModel):
    """Something that could not be read or compared; its presence makes a run incomplete."""

    source: str = Field(description="API or stage that failed, e.g. run.googleapis.com")
    resource: str = Field(description="Resource key or glob that is missing, e.g. service/*")
    path: str | None = Field(
        default=None,
        description="The part of the resource that is missing (e.g. iam); none = all of it",
    )
    message: str

    @field_validator("message")
    @classmethod
    def _no_secret_material(cls, value: str) -> str:
        # Messages quote APIs and servers, which may echo tokens: scrubbed wherever made.
        from driftcheck.sensitive import scrub

        return scrub(value)


class Snapshot(FrozenModel):
    """The environment-neutral state of one environment, as collected or approved."""

    schema_version: int = SNAPSHOT_SCHEMA_VERSION
    environment: EnvironmentName
    project: str
    project_number: str | None = None
    regions: dict[str, str] = Field(
        default_factory=dict, description="Region alias (as in resource keys) -> region read"
    )
    name_map: dict[str, str] = Field(
        default_factory=dict, description="The name_map the environment was neutralized with"
    )
    collected_at: str
    tool_version: str
    fingerprint_key_id: str | None = None
    resources: dict[str, dict[str, Any]] = Field(default_factory=dict)
    errors: list[CollectionErrorRecord] = Field(default_factory=list)
    context: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Per resource, who changed it last and when (lastModifier, updateTime): "
        "shown beside findings, never compared, never kept in a baseline",
    )


class Evidence(FrozenModel):
    """One observation behind a finding: a difference or a broken rule at one path."""

    resource: str
    path: str
    kind: FindingKind
    severity: Severity
    baseline: Any = None
    actual: Any = None
    message: str


class Hint(FrozenModel):
    """Why a finding matters and what brings the checked environment back to its baseline.

    Commands are text for people to review; driftcheck never runs them.
    """

    why: str
    commands: list[str] = Field(
        default_factory=list, description="Shell commands that undo the drift (never run)"
    )
    how: str | None = Field(default=None, description="What to do, in words")


class Finding(FrozenModel):
    """One fact: a difference or violation, with its evidence, severity and disposition."""

    id: str
    resource: str
    path: str
    kind: FindingKind
    severity: Severity
    baseline: Any = None
    actual: Any = None
    message: str
    rule: str | None = Field(default=None, description="Rule that set the severity")
    suppressed: bool = False
    ignored: bool = False
    reason: str | None = Field(default=None, description="Why it is suppressed or ignored")
    evidence: list[Evidence] = Field(
        default_factory=list,
        description="Every observation with the same cause (one fact, one finding)",
    )
    hint: Hint | None = Field(default=None, description="Why it matters and what to do")

    @property
    def active(self) -> bool:
        """True when the finding counts towards status and exit code."""
        return not (self.suppressed or self.ignored)


class BaselineRef(FrozenModel):
    """Which approved baseline a report was compared with."""

    environment: str
    path: str
    sha256: str
    collected_at: str
    project: str | None = Field(default=None, description="The baseline environment's project")
    regions: dict[str, str] = Field(
        default_factory=dict, description="Region alias -> region, as the baseline read them"
    )


class Summary(FrozenModel):
    """Counts of active findings by severity, and of suppressed and ignored ones."""

    critical: int = 0
    high: int = 0
    medium: int = 0
    low: int = 0
    info: int = 0
    suppressed: int = 0
    ignored: int = 0


class NotCompared(FrozenModel):
    """A resource that was not compared, and why."""

    resource: str
    why: str


class Coverage(FrozenModel):
    """What was compared for one resource kind in one region (alias, or ``global``)."""

    kind: str
    region: str
    baseline: int = Field(description="Resources in the baseline")
    actual: int = Field(description="Resources read in the checked environment")
    matched: int = Field(description="Resources on both sides, matched by identity, compared")
    only_in_baseline: int
    only_in_actual: int
    not_compared: list[NotCompared] = Field(default_factory=list)


class Reproduction(FrozenModel):
    """For a report made by ``diff``: the snapshot it re-judged and the report it reproduces."""

    snapshot: str
    snapshot_sha256: str
    report: str | None = None
    report_sha256: str | None = None
    report_generated_at: str | None = None
    principal: str | None = Field(default=None, description="Who collected the snapshot")


class Provenance(FrozenModel):
    """What an auditor needs to trust and reproduce a report."""

    tool_version: str
    config_sha256: str | None = None
    principal: str = "unknown"
    endpoints: dict[str, str] = Field(default_factory=dict)
    fingerprint_key_id: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    baseline_git_commit: str | None = None
    command: str = ""
    reproduction_of: Reproduction | None = None


class DriftReport(FrozenModel):
    """The result of comparing an environment with a baseline."""

    schema_version: int = REPORT_SCHEMA_VERSION
    tool_version: str
    generated_at: str
    environment: str
    project: str | None = Field(default=None, description="The checked environment's project")
    regions: dict[str, str] = Field(
        default_factory=dict, description="Region alias -> region, as the checked side read them"
    )
    baseline: BaselineRef
    status: Status
    summary: Summary
    coverage: list[Coverage] = Field(default_factory=list)
    findings: list[Finding]
    errors: list[CollectionErrorRecord]
    provenance: Provenance
    context: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Per resource with findings: who changed it last and when, in the checked "
        "environment (context, never compared)",
    )
