"""Violations of a Cloud SQL instance in its own environment: a reference to no instance or to
one that is not RUNNABLE (critical), a service reaching it over another network (high), and a
connection budget that cannot hold (high, with the arithmetic)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from driftcheck.kinds.reach import reference_violations
from driftcheck.model import Finding, Severity
from driftcheck.violations import violation


def sql_violations(environment: str, resource: str, body: dict[str, Any]) -> Iterable[Finding]:
    """The reference and network violations, then the connection budget."""
    ip = (body.get("settings") or {}).get("ip_configuration") or {}
    yield from reference_violations(
        environment, resource, body, "Cloud SQL", "runnable", ip.get("private_network")
    )
    yield from budget_violation(environment, resource, body)


def budget_violation(environment: str, resource: str, body: dict[str, Any]) -> Iterable[Finding]:
    """max_connections below the sum over its users of max instances × pool size."""
    budget = body.get("connections") or {}
    limit = budget.get("max_connections")
    if not isinstance(limit, int):
        return
    shares: list[str] = []
    unknown: list[str] = []
    total = 0
    for workload, share in sorted((budget.get("demand") or {}).items()):
        name = workload.rsplit("/", 1)[-1]
        instances, pool = share.get("max_instances"), share.get("pool_size")
        if not isinstance(instances, int) or not isinstance(pool, int):
            unknown.append(name)
            continue
        total += instances * pool
        shares.append(f"{name} {instances} max instances × pool {pool} = {instances * pool}")
    if total <= limit:
        return
    name = resource.split("/", 2)[2]
    arithmetic = " + ".join(shares)
    if len(shares) > 1:
        arithmetic += f" = {total}"
    tail = f" (pool size unknown for {', '.join(unknown)})" if unknown else ""
    yield violation(
        resource,
        "connections.max_connections",
        Severity.HIGH,
        "cloud-sql-connection-budget",
        f"max_connections of {name} is {limit} ({budget.get('from')}) in {environment}, but its "
        f"users may open {total}: {arithmetic}{tail}",
        actual={"max_connections": limit, "demand": total},
    )
