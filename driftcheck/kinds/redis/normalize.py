"""A Memorystore for Redis instance in canonical form, and what is done with each of its fields.

Addresses (host, port, read endpoint, reserved ranges) differ in every environment and change
when an instance is recreated: they are never compared. What is compared instead is *which*
instance each service reaches (``used_by``, added by the collector from the addresses).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from driftcheck.kinds.fields import Treatment, compared, normalized, volatile
from driftcheck.kinds.reach import network_path
from driftcheck.normalize import canonical, prune
from driftcheck.sensitive import Redactor

_ADDRESS = "an address: compared by which instance a service reaches (used_by), never raw"

FIELDS = {
    "Instance": {
        "name": volatile("the instance's name is its key"),
        "display_name": compared("redis-other"),
        "labels": compared("labels"),
        "location_id": normalized("region neutral", "redis-availability"),
        "alternative_location_id": normalized("region neutral", "redis-availability"),
        "redis_version": normalized("lower case", "redis-version"),
        "reserved_ip_range": volatile(_ADDRESS),
        "secondary_ip_range": volatile(_ADDRESS),
        "host": volatile(_ADDRESS),
        "port": volatile(_ADDRESS),
        "current_location_id": volatile("where the primary runs now: moves on failover"),
        "create_time": volatile("a moment, not configuration"),
        "state": normalized("lower case", "redis-state"),
        "status_message": volatile("free text describing the current state"),
        "redis_configs": compared("redis-config"),
        "tier": normalized("lower case", "redis-tier"),
        "memory_size_gb": compared("redis-capacity"),
        "authorized_network": normalized("projects/<p>/global/networks/<n>", "redis-network"),
        "persistence_iam_identity": volatile("a service account Google assigns per instance"),
        "connect_mode": normalized("lower case, default direct_peering", "redis-network"),
        "auth_enabled": normalized("default false", "redis-security"),
        "server_ca_certs": volatile("certificates are issued per instance and rotate"),
        "transit_encryption_mode": normalized("lower case, default disabled", "redis-security"),
        "maintenance_policy": compared("redis-other"),
        "maintenance_schedule": volatile("the next maintenance window: a moment"),
        "replica_count": normalized("default 0", "redis-capacity"),
        "nodes": volatile("node ids and zones Google assigns"),
        "read_endpoint": volatile(_ADDRESS),
        "read_endpoint_port": volatile(_ADDRESS),
        "read_replicas_mode": normalized("lower case", "redis-capacity"),
        "customer_managed_key": compared("redis-security"),
        "persistence_config": normalized("next snapshot time dropped", "redis-persistence"),
        "suspension_reasons": compared("redis-state"),
        "maintenance_version": compared("redis-version"),
        "available_maintenance_versions": volatile("what Google offers today"),
    },
}

DEFAULTS: dict[str, Any] = {
    "tier": "basic",
    "connect_mode": "direct_peering",
    "auth_enabled": False,
    "transit_encryption_mode": "disabled",
    "replica_count": 0,
    "read_replicas_mode": "read_replicas_disabled",
}
_LOWER = ("tier", "connect_mode", "transit_encryption_mode", "read_replicas_mode", "redis_version")


def normalize_redis(
    raw: Mapping[str, Any], neutral: Callable[[str], str], redactor: Redactor | None = None
) -> dict[str, Any]:
    """``Instance.to_dict`` -> canonical body (``exists: true``; users added by the collector).
    The AUTH string is never part of an instance: it is only returned by a method driftcheck
    does not call."""
    table = FIELDS["Instance"]
    kept = {k: v for k, v in raw.items() if k in table and table[k].treatment != Treatment.VOLATILE}
    persistence = dict(kept.get("persistence_config") or {})
    persistence.pop("rdb_next_snapshot_time", None)
    kept["persistence_config"] = persistence
    body: dict[str, Any] = canonical(kept, neutral, redactor=redactor)
    for key in _LOWER:
        value = str(body.get(key) or "").lower()
        body[key] = "" if value.endswith("_unspecified") else value
    if raw.get("authorized_network"):
        body["authorized_network"] = neutral(network_path(str(raw["authorized_network"])))
    result: dict[str, Any] = prune(body)
    for key, default in DEFAULTS.items():
        result.setdefault(key, default)
    result.setdefault("state", "state_unspecified")
    result.setdefault("authorized_network", network_path("default"))
    return {"exists": True, **result}
