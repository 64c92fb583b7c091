"""A Cloud Run job in canonical form.

A job nests two templates: the execution's (task count, parallelism, labels) and the task's
(containers, volumes, retries, timeout). They share no field name, so they are folded into one
``template``: a job's containers sit at ``template.containers`` like a service's, and every rule
and reference that reads a workload's containers reads a job's too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driftcheck.fingerprint import Fingerprinter
from driftcheck.identity import Neutralizer
from driftcheck.kinds.cloud_run.normalize import nonzero, normalize_iam_policy, normalize_template
from driftcheck.normalize import Literals, canonical, prune
from driftcheck.sensitive import Redactor

JOB_DEFAULTS: dict[str, Any] = {"launch_stage": "ga"}
# What Cloud Run applies when a job does not say: one task, ten minutes, three retries.
TASK_DEFAULTS: dict[str, Any] = {"task_count": 1, "timeout": 600, "max_retries": 3}
# Outputs of running the job, not its configuration.
VOLATILE = (
    "name",
    "execution_count",
    "latest_created_execution",
    "start_execution_token",
    "run_execution_token",
    "expire_time",
    "satisfies_pzs",
)


def normalize_job(
    job: Mapping[str, Any],
    iam_policy: Mapping[str, Any] | None,
    neutral: Neutralizer,
    fingerprints: Fingerprinter,
    literals: Literals = None,
) -> dict[str, Any]:
    """One Cloud Run job (``Job.to_dict`` form) -> its canonical snapshot body."""
    body: dict[str, Any] = {**JOB_DEFAULTS, **nonzero(dict(job))}
    for field in VOLATILE:
        body.pop(field, None)
    execution = dict(job.get("template") or {})
    task = dict(execution.pop("template", None) or {})
    template = normalize_template(
        {**task, **execution},
        fingerprints,
        neutral,
        literals,
        defaults=TASK_DEFAULTS,
        scaling=None,
        serves=False,
    )
    if "max_retries" in task:
        # A oneof: present means set, and zero retries is a real setting.
        template["max_retries"] = task["max_retries"]
    body["template"] = template
    if iam_policy is not None:
        body["iam"] = normalize_iam_policy(iam_policy, neutral)
    result: dict[str, Any] = prune(canonical(body, neutral, redactor=Redactor(fingerprints)))
    for key, default in JOB_DEFAULTS.items():
        result.setdefault(key, default)
    return result
