"""A Cloud Run worker pool in canonical form: its revision template (see
``kinds.cloud_run.normalize``), manual scaling, and how its instances split between the latest
revision and pinned ones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driftcheck.fingerprint import Fingerprinter
from driftcheck.identity import Neutralizer
from driftcheck.kinds.cloud_run.normalize import nonzero, normalize_iam_policy, normalize_template
from driftcheck.normalize import Literals, canonical, prune
from driftcheck.sensitive import Redactor

WORKER_POOL_DEFAULTS: dict[str, Any] = {"launch_stage": "ga"}
DEFAULT_SPLITS = {"latest": {"percent": 100}}
# Outputs of running the pool, not its configuration.
VOLATILE = ("name", "instance_split_statuses", "expire_time", "satisfies_pzs")


def normalize_splits(splits: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Instance splits by what they mean: to the latest revision, or to pinned revisions (whose
    names differ in every environment), percentages summed."""
    result: dict[str, dict[str, Any]] = {}
    for split in splits:
        kind = str(split.get("type_") or split.get("type") or "").lower()
        key = "latest" if kind.endswith("latest") or not split.get("revision") else "pinned"
        entry = result.setdefault(key, {"percent": 0})
        entry["percent"] += int(split.get("percent") or 0)
    return result


def normalize_worker_pool(
    pool: Mapping[str, Any],
    iam_policy: Mapping[str, Any] | None,
    neutral: Neutralizer,
    fingerprints: Fingerprinter,
    literals: Literals = None,
) -> dict[str, Any]:
    """One Cloud Run worker pool (``WorkerPool.to_dict`` form) -> its canonical snapshot body."""
    body: dict[str, Any] = {**WORKER_POOL_DEFAULTS, **nonzero(dict(pool))}
    for field in VOLATILE:
        body.pop(field, None)
    body["template"] = normalize_template(
        dict(pool.get("template") or {}),
        fingerprints,
        neutral,
        literals,
        defaults={},
        scaling=None,
        serves=False,
    )
    splits = pool.get("instance_splits")
    if isinstance(splits, list) and splits:
        body["instance_splits"] = normalize_splits(splits)
    if iam_policy is not None:
        body["iam"] = normalize_iam_policy(iam_policy, neutral)
    result: dict[str, Any] = prune(canonical(body, neutral, redactor=Redactor(fingerprints)))
    for key, default in WORKER_POOL_DEFAULTS.items():
        result.setdefault(key, default)
    result.setdefault("instance_splits", dict(DEFAULT_SPLITS))
    return result
