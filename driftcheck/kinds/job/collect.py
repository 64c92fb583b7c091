"""Cloud Run jobs: listed per region with ``run_v2.JobsClient``, one IAM read each."""

from __future__ import annotations

from driftcheck.collectors.interface import CollectionContext, CollectorResult, Permission
from driftcheck.kinds.cloud_run.collect import CloudRunCollector, RunResourceSpec
from driftcheck.kinds.interface import CollectRequest
from driftcheck.kinds.job.normalize import normalize_job

JOBS = RunResourceSpec(
    kind="job",
    noun="jobs",
    list_method="list_jobs",
    list_field="jobs",
    list_permission=Permission("run.jobs.list", "roles/run.viewer"),
    iam_permission=Permission("run.jobs.getIamPolicy", "roles/run.viewer"),
    normalize=normalize_job,
)


def collect_jobs(context: CollectionContext, request: CollectRequest) -> CollectorResult:
    """Every job of the environment, in every region."""
    collector = CloudRunCollector(
        context.clients.jobs, JOBS, context.settings, context.fingerprints, context.workers
    )
    return collector.collect(request.env)
