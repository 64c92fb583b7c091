"""Cloud Run worker pools (``worker-pool/<region>/<name>``)."""

from __future__ import annotations

from driftcheck.kinds.cloud_run.fields import FIELDS
from driftcheck.kinds.cloud_run.violations import plain_secret_violations
from driftcheck.kinds.interface import ResourceKind
from driftcheck.kinds.worker_pool import catalogue
from driftcheck.kinds.worker_pool.collect import collect_worker_pools
from driftcheck.kinds.worker_pool.normalize import normalize_worker_pool

WORKER_POOL = ResourceKind(
    name="worker-pool",
    stage=0,
    regional=True,
    collect=collect_worker_pools,
    normalize=normalize_worker_pool,
    catalogue=catalogue.CATALOGUE,
    causes=catalogue.CAUSES,
    find_violations=plain_secret_violations,
    fields=FIELDS,
    cross_environment_pinned=(
        "template.containers.*.env.*.version",
        "template.volumes.*.secret.items.*.version",
    ),
)
