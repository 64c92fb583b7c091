"""Cloud Run jobs (``job/<region>/<name>``)."""

from __future__ import annotations

from driftcheck.kinds.cloud_run.fields import FIELDS
from driftcheck.kinds.cloud_run.violations import plain_secret_violations
from driftcheck.kinds.interface import ResourceKind
from driftcheck.kinds.job import catalogue
from driftcheck.kinds.job.collect import collect_jobs
from driftcheck.kinds.job.normalize import normalize_job

JOB = ResourceKind(
    name="job",
    stage=0,
    regional=True,
    collect=collect_jobs,
    normalize=normalize_job,
    catalogue=catalogue.CATALOGUE,
    causes=catalogue.CAUSES,
    find_violations=plain_secret_violations,
    fields=FIELDS,
    cross_environment_pinned=(
        "template.containers.*.env.*.version",
        "template.volumes.*.secret.items.*.version",
    ),
)
