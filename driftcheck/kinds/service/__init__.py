"""Cloud Run services (``service/<region>/<name>``)."""

from __future__ import annotations

from driftcheck.kinds.cloud_run.fields import FIELDS
from driftcheck.kinds.cloud_run.violations import plain_secret_violations
from driftcheck.kinds.interface import ResourceKind
from driftcheck.kinds.service import catalogue
from driftcheck.kinds.service.collect import collect_services
from driftcheck.kinds.service.normalize import normalize_service

SERVICE = ResourceKind(
    name="service",
    stage=0,
    collect=collect_services,
    normalize=normalize_service,
    catalogue=catalogue.CATALOGUE,
    violation_advice=catalogue.VIOLATIONS,
    causes=catalogue.CAUSES,
    find_violations=plain_secret_violations,
    fields=FIELDS,
    # Across environments a pinned version number is expected to differ; pinned-vs-latest is
    # drift.
    cross_environment_pinned=(
        "template.containers.*.env.*.version",
        "template.volumes.*.secret.items.*.version",
    ),
)
