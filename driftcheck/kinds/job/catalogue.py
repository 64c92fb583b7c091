"""Severity rules of Cloud Run jobs: how long and how often tasks may run, how many at once,
and everything a workload shares with services."""

from __future__ import annotations

from driftcheck.catalogue import Advice, CatalogueRule, CauseRule
from driftcheck.kinds.cloud_run.catalogue import workload_causes, workload_rules
from driftcheck.model import Severity

_UPDATE = "gcloud run jobs update JOB"
TASK_TIMEOUT = Advice(
    "The task timeout stops a task that runs longer: a shorter one kills batches the baseline "
    "lets finish (a migration cut off half way).",
    f"{_UPDATE} --task-timeout=SECONDS",
)
RETRIES = Advice(
    "Retries decide whether a failed task runs again: without them a transient failure fails "
    "the execution; with more, a task that is not idempotent may run twice.",
    f"{_UPDATE} --max-retries=N",
)
TASKS = Advice(
    "Task count and parallelism split the work and decide how hard the job hits what it "
    "depends on: another split is another load on the database.",
    f"{_UPDATE} --tasks=N --parallelism=N",
)

CATALOGUE: tuple[CatalogueRule, ...] = (
    CatalogueRule("task-timeout", "job/*", "template.timeout", Severity.HIGH, advice=TASK_TIMEOUT),
    CatalogueRule("max-retries", "job/*", "template.max_retries", Severity.MEDIUM, advice=RETRIES),
    CatalogueRule("task-count", "job/*", "template.task_count", Severity.MEDIUM, advice=TASKS),
    CatalogueRule("task-count", "job/*", "template.parallelism", Severity.MEDIUM, advice=TASKS),
    *workload_rules("job/*", "jobs", "JOB"),
)
CAUSES: tuple[CauseRule, ...] = workload_causes("job/*")
