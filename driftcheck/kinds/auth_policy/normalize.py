"""An auth policy in canonical form: the claim policy, what OIDC discovery publishes, the
audiences services accept, and the conformance of each token the runner holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from driftcheck.fingerprint import Fingerprinter
from driftcheck.normalize import canonical
from driftcheck.sensitive import Redactor


def normalize_auth_policy(
    source: str,
    policy: dict[str, Any],
    oidc: dict[str, Any],
    service_audiences: dict[str, list[str]],
    tokens: dict[str, Any],
    neutral: Callable[[str], str],
    fingerprints: Fingerprinter,
) -> dict[str, Any]:
    """The ``auth-policy/<name>`` body; empty parts are left out."""
    redactor = Redactor(fingerprints)
    body = {
        "source": source,
        **canonical(policy, neutral, redactor=redactor),
        "service_audiences": service_audiences,
        "oidc": canonical(oidc, neutral, redactor=redactor),
        "tokens": tokens,
    }
    return {k: v for k, v in body.items() if v not in ({}, [], None)}
