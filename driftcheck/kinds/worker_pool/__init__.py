"""Cloud Run worker pools (``worker-pool/<region>/<name>``)."""

from __future__ import annotations

from driftcheck.kinds.cloud_run.kind import workload_kind
from driftcheck.kinds.worker_pool import catalogue
from driftcheck.kinds.worker_pool.collect import collect_worker_pools
from driftcheck.kinds.worker_pool.normalize import normalize_worker_pool

WORKER_POOL = workload_kind(
    "worker-pool",
    collect=collect_worker_pools,
    normalize=normalize_worker_pool,
    catalogue=catalogue.CATALOGUE,
    causes=catalogue.CAUSES,
)
