"""Cloud Run worker pools: listed per region with ``run_v2.WorkerPoolsClient``, one IAM read
each."""

from __future__ import annotations

from driftcheck.collectors.interface import Permission
from driftcheck.kinds.cloud_run.collect import RunResourceSpec, collector_of
from driftcheck.kinds.worker_pool.normalize import normalize_worker_pool

WORKER_POOLS = RunResourceSpec(
    kind="worker-pool",
    noun="worker pools",
    list_method="list_worker_pools",
    list_field="worker_pools",
    list_permission=Permission("run.workerPools.list", "roles/run.viewer"),
    iam_permission=Permission("run.workerPools.getIamPolicy", "roles/run.viewer"),
    normalize=normalize_worker_pool,
)


collect_worker_pools = collector_of(WORKER_POOLS, lambda clients: clients.worker_pools)
