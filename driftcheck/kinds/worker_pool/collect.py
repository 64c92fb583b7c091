"""Cloud Run worker pools: listed per region with ``run_v2.WorkerPoolsClient``, one IAM read
each."""

from __future__ import annotations

from driftcheck.collectors.interface import CollectionContext, CollectorResult, Permission
from driftcheck.kinds.cloud_run.collect import CloudRunCollector, RunResourceSpec
from driftcheck.kinds.interface import CollectRequest
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


def collect_worker_pools(context: CollectionContext, request: CollectRequest) -> CollectorResult:
    """Every worker pool of the environment, in every region."""
    collector = CloudRunCollector(
        context.clients.worker_pools,
        WORKER_POOLS,
        context.settings,
        context.fingerprints,
        context.workers,
    )
    return collector.collect(request.env)
