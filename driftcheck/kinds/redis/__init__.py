"""Memorystore for Redis instances (``redis/<region>/<name>``): all of the environment's regions
(or those the config lists), and whatever a workload's variable names."""

from __future__ import annotations

from driftcheck.kinds.interface import ResourceKind
from driftcheck.kinds.redis import catalogue
from driftcheck.kinds.redis.collect import collect_redis, early_redis
from driftcheck.kinds.redis.normalize import FIELDS, normalize_redis
from driftcheck.kinds.redis.violations import redis_violations

REDIS = ResourceKind(
    name="redis",
    stage=2,  # after connectors: which network a service reaches it over is its connector's
    regional=True,
    collect=collect_redis,
    early=early_redis,
    normalize=normalize_redis,
    catalogue=catalogue.CATALOGUE,
    violation_advice=catalogue.VIOLATIONS,
    causes=catalogue.CAUSES,
    find_violations=redis_violations,
    # How each reference egresses is judged by the network violation, not compared.
    judged_elsewhere=("reach*",),
    fields=FIELDS,
)
