"""Violations of a Cloud Run workload in its own environment."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from driftcheck.compare import is_redacted
from driftcheck.model import Finding, Severity
from driftcheck.sensitive import MARKER_PREFIX
from driftcheck.violations import violation


def plain_secret_violations(
    environment: str, resource: str, body: dict[str, Any]
) -> Iterable[Finding]:
    """Secret-looking values set in clear as environment variables: they belong in Secret
    Manager, where access is audited and rotation does not need a deploy."""
    template = body.get("template") or {}
    for container, spec in sorted((template.get("containers") or {}).items()):
        for variable, setting in sorted((spec.get("env") or {}).items()):
            value = setting.get("value") if isinstance(setting, dict) else None
            if is_redacted(value) or (isinstance(value, str) and MARKER_PREFIX in value):
                yield violation(
                    resource,
                    f"template.containers.{container}.env.{variable}.value",
                    Severity.MEDIUM,
                    "plain-secret",
                    f"{variable}: a secret-looking value is set as a plain environment "
                    "variable; use Secret Manager",
                    actual=value,
                )
