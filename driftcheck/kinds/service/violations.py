"""Violations of a service in its own environment: secrets in clear, and a failed deploy (the
template is not what serves)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from driftcheck.kinds.cloud_run.violations import plain_secret_violations
from driftcheck.model import Finding, Severity
from driftcheck.violations import violation


def service_violations(environment: str, resource: str, body: dict[str, Any]) -> Iterable[Finding]:
    """Every violation of one service body."""
    yield from plain_secret_violations(environment, resource, body)
    deploy = body.get("deploy")
    if isinstance(deploy, dict) and deploy.get("latest_created"):
        ready = deploy.get("latest_ready")
        serving = f"traffic still goes to {ready}" if ready else "no revision is ready to serve"
        yield violation(
            resource,
            "deploy",
            Severity.HIGH,
            "failed-deploy",
            f"the latest revision {deploy['latest_created']} is not ready: {serving}; in "
            f"{environment} the service's template is not what serves",
            actual=deploy,
        )
