"""Severity rules of Cloud Run worker pools: how many instances pull work, which revision they
run, and everything a workload shares with services."""

from __future__ import annotations

from driftcheck.catalogue import Advice, CatalogueRule, CauseRule
from driftcheck.kinds.cloud_run.catalogue import workload_causes, workload_rules
from driftcheck.model import Severity

_UPDATE = "gcloud run worker-pools update WORKER_POOL"
INSTANCES = Advice(
    "A worker pool runs exactly the instances it is given: fewer drain the queue slower than "
    "the baseline, more put another load on what the workers call.",
    f"{_UPDATE} --instances=N",
)
SPLITS = Advice(
    "The instance split decides which revision the workers run: part of them on a pinned, older "
    "revision runs other code than the baseline.",
    f"{_UPDATE} --to-latest (or --to-revisions=REVISION=PERCENT)",
)

CATALOGUE: tuple[CatalogueRule, ...] = (
    CatalogueRule(
        "instances",
        "worker-pool/*",
        "scaling.manual_instance_count",
        Severity.MEDIUM,
        advice=INSTANCES,
    ),
    CatalogueRule(
        "instance-split", "worker-pool/*", "instance_splits*", Severity.MEDIUM, advice=SPLITS
    ),
    *workload_rules("worker-pool/*", "worker-pools", "WORKER_POOL"),
)
CAUSES: tuple[CauseRule, ...] = workload_causes("worker-pool/*")
