"""Violations of an auth policy: private key material published, and tokens that fail it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from driftcheck.model import Finding, Severity
from driftcheck.violations import defect_violations, violation


def auth_violations(environment: str, resource: str, body: dict[str, Any]) -> Iterable[Finding]:
    if (body.get("oidc") or {}).get("private_key_material"):
        yield violation(
            resource,
            "oidc.private_key_material",
            Severity.CRITICAL,
            "jwks-private-material",
            f"{environment}'s JWKS publishes private or symmetric key material",
        )
    for token, result in sorted((body.get("tokens") or {}).items()):
        yield from defect_violations(
            resource,
            f"tokens.{token}",
            "token",
            result.get("defects"),
            actual={"claims": result.get("claims"), "signature": result.get("signature")},
        )
