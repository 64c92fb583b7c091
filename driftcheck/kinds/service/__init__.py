"""Cloud Run services (``service/<region>/<name>``)."""

from __future__ import annotations

from driftcheck.kinds.cloud_run.kind import workload_kind
from driftcheck.kinds.service import catalogue
from driftcheck.kinds.service.collect import collect_services
from driftcheck.kinds.service.normalize import normalize_service
from driftcheck.kinds.service.violations import service_violations

SERVICE = workload_kind(
    "service",
    collect=collect_services,
    normalize=normalize_service,
    catalogue=catalogue.CATALOGUE,
    violation_advice=catalogue.VIOLATIONS,
    causes=catalogue.CAUSES,
    find_violations=service_violations,
    # Revision names of a failed deploy: judged by its violation, never kept in a baseline.
    runner_observations=("deploy",),
    judged_elsewhere=("deploy*",),
)
