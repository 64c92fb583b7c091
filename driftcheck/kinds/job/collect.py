"""Cloud Run jobs: listed per region with ``run_v2.JobsClient``, one IAM read each."""

from __future__ import annotations

from driftcheck.collectors.interface import Permission
from driftcheck.kinds.cloud_run.collect import RunResourceSpec, collector_of
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


collect_jobs = collector_of(JOBS, lambda clients: clients.jobs)
