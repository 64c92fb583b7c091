"""Violations of a Redis instance in its own environment: a service variable naming an address
no instance holds, or an instance that is not READY (critical); a service reaching it over a
network that is not its authorized network (high)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from driftcheck.kinds.reach import reference_violations
from driftcheck.model import Finding


def redis_violations(environment: str, resource: str, body: dict[str, Any]) -> Iterable[Finding]:
    """The violations of the references that reach (or miss) this instance."""
    return reference_violations(
        environment, resource, body, "Redis", "ready", body.get("authorized_network")
    )
