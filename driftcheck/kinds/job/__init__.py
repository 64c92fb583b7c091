"""Cloud Run jobs (``job/<region>/<name>``)."""

from __future__ import annotations

from driftcheck.kinds.cloud_run.kind import workload_kind
from driftcheck.kinds.job import catalogue
from driftcheck.kinds.job.collect import collect_jobs
from driftcheck.kinds.job.normalize import normalize_job

JOB = workload_kind(
    "job",
    collect=collect_jobs,
    normalize=normalize_job,
    catalogue=catalogue.CATALOGUE,
    causes=catalogue.CAUSES,
)
