"""Violations: rules broken inside one environment, found in its snapshot alone.

Unlike drift, a violation needs no baseline: a service pinned to a disabled secret version, a
referenced secret that does not exist, a key held by the E2E suite that no longer matches the live
secret. Because they are computed from the snapshot, ``diff`` on a stored snapshot reproduces them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from driftcheck.compare import make_finding
from driftcheck.errors import BaselineError
from driftcheck.model import CollectionErrorRecord, Finding, FindingKind, Severity, Snapshot


def violation(
    resource: str, path: str, severity: Severity, rule: str, message: str, actual: Any = None
) -> Finding:
    """A violation finding: a rule broken inside one environment, with the value that breaks it."""
    return make_finding(
        resource, path, FindingKind.VIOLATION, None, actual, message, severity=severity, rule=rule
    )


def defect_violations(
    resource: str, path: str, rule: str, defects: dict[str, Any] | None, actual: Any = None
) -> Iterable[Finding]:
    """One violation per defect that a collector recorded (token checks, probe checks)."""
    for check, defect in sorted((defects or {}).items()):
        yield violation(
            resource,
            f"{path}.{check}",
            Severity(defect["severity"]),
            f"{rule}-{check.split(':', 1)[0]}",
            str(defect["message"]),
            actual=actual if actual is not None else defect.get("value"),
        )


def find_violations(snapshot: Snapshot) -> list[Finding]:
    """Every violation visible in one snapshot; a resource whose body is not shaped as driftcheck
    writes it (a hand-edited snapshot) is an input error naming it, never a crash."""
    findings: list[Finding] = []
    for resource, body in sorted(snapshot.resources.items()):
        try:
            findings.extend(_resource_violations(snapshot, resource, body))
        except (AttributeError, TypeError, KeyError, ValueError) as exc:
            raise BaselineError(
                f"resources.{resource}: not shaped as driftcheck writes it ({type(exc).__name__})"
            ) from None
    return findings


def _resource_violations(snapshot: Snapshot, resource: str, body: Any) -> list[Finding]:
    if not isinstance(body, dict):
        raise TypeError(resource)
    from driftcheck.kinds import kind_of

    kind = kind_of(resource)
    if kind is None or kind.find_violations is None:
        return []
    return list(kind.find_violations(snapshot.environment, resource, body))


def unverifiable(snapshot: Snapshot) -> list[CollectionErrorRecord]:
    """Checks that matter but could not be made in this snapshot (a key a consumer holds that
    cannot be compared with the live secret): each makes the verdict incomplete."""
    from driftcheck.kinds import KINDS

    return [gap for kind in KINDS if kind.find_gaps is not None for gap in kind.find_gaps(snapshot)]
