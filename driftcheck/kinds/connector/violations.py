"""Violations of a connector in its own environment: used by a service and not READY, or used
and missing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from driftcheck.model import Finding, Severity
from driftcheck.violations import violation


def connector_violations(
    environment: str, resource: str, body: dict[str, Any]
) -> Iterable[Finding]:
    """One critical finding for a connector that its users cannot egress through."""
    users = [user.rsplit("/", 1)[-1] for user in body.get("used_by") or []]
    if not users:
        return
    name = resource.split("/", 2)[2]
    by = ", ".join(users)
    if not body.get("exists", True):
        yield violation(
            resource,
            "exists",
            Severity.CRITICAL,
            "connector-missing",
            f"connector {name}, used by {by}, does not exist in {environment}",
            actual=False,
        )
        return
    state = str(body.get("state") or "")
    if state != "ready":
        yield violation(
            resource,
            "state",
            Severity.CRITICAL,
            "connector-not-ready",
            f"connector {name}, used by {by}, is {state.upper() or 'in an unknown state'} "
            f"(not READY) in {environment}: their traffic to private addresses cannot leave",
            actual=state,
        )
