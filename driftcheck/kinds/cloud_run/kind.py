"""What every Cloud Run workload kind (services, jobs, worker pools) declares alike."""

from __future__ import annotations

from typing import Any

from driftcheck.kinds.cloud_run.fields import FIELDS
from driftcheck.kinds.cloud_run.violations import plain_secret_violations
from driftcheck.kinds.interface import ResourceKind

# Across environments a pinned secret version number is expected to differ; pinned-vs-latest is
# drift.
PINNED_VERSIONS = (
    "template.containers.*.env.*.version",
    "template.volumes.*.secret.items.*.version",
)


def workload_kind(name: str, **declared: Any) -> ResourceKind:
    """A Cloud Run workload kind: regional, read first, judged by the shared field table and
    the plain-secret violation unless ``declared`` says otherwise."""
    shared: dict[str, Any] = {
        "stage": 0,
        "regional": True,
        "fields": FIELDS,
        "find_violations": plain_secret_violations,
        "cross_environment_pinned": PINNED_VERSIONS,
    }
    return ResourceKind(name=name, **{**shared, **declared})
