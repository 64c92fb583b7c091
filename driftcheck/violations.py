"""Violations: rules broken inside one environment, found in its snapshot alone.

Unlike drift, a violation needs no baseline: a service pinned to a disabled secret version, a
referenced secret that does not exist, a key held by the E2E suite that no longer matches the live
secret. Because they are computed from the snapshot, ``diff`` on a stored snapshot reproduces them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from driftcheck.compare import is_redacted, make_finding
from driftcheck.errors import BaselineError
from driftcheck.model import CollectionErrorRecord, Finding, FindingKind, Severity, Snapshot
from driftcheck.sensitive import MARKER_PREFIX


def _violation(
    resource: str, path: str, severity: Severity, rule: str, message: str, actual: Any = None
) -> Finding:
    return make_finding(
        resource, path, FindingKind.VIOLATION, None, actual, message, severity=severity, rule=rule
    )


def _secret_violations(environment: str, resource: str, body: dict[str, Any]) -> Iterable[Finding]:
    name = resource.split("/", 1)[1]
    references: dict[str, Any] = body.get("references") or {}
    if not body.get("exists", False):
        users = ", ".join(sorted(references)) or "driftcheck.yaml"
        yield _violation(
            resource,
            "exists",
            Severity.CRITICAL if references else Severity.HIGH,
            "secret-missing",
            f"secret {name} does not exist in {environment} (used by {users})",
        )
        return
    latest = body.get("latest") or {}
    if latest.get("version") is None:
        yield _violation(
            resource,
            "latest",
            Severity.HIGH,
            "secret-no-enabled-version",
            f"secret {name} has no enabled version in {environment}",
        )
    for where, ref in sorted(references.items()):
        state = ref.get("state")
        if state == "enabled":
            continue
        version = ref.get("resolved") or ref.get("requested")
        severity = Severity.HIGH if state == "disabled" else Severity.CRITICAL
        yield _violation(
            resource,
            f"references.{where}",
            severity,
            "secret-version-unusable",
            f"{where} uses {name} version {version}, which is {state} in {environment}",
            actual={"requested": ref.get("requested"), "state": state},
        )
    yield from _consumer_violations(environment, resource, name, body)


def _consumer_violations(
    environment: str, resource: str, name: str, body: dict[str, Any]
) -> Iterable[Finding]:
    latest = body.get("latest") or {}
    live: dict[str, Any] = latest.get("fingerprint") or {}
    for variable, held in sorted((body.get("consumers") or {}).items()):
        path = f"consumers.{variable}"
        if not held.get("set"):
            yield _violation(
                resource,
                path,
                Severity.HIGH,
                "expected-value-unset",
                f"{variable} is named as holding {name} for {environment}, but it is not set",
            )
        elif not (is_redacted(live) and is_redacted(held.get("value"))):
            continue  # not verifiable: a gap (see unverifiable), not a finding
        elif live["fingerprint"] != held["value"]["fingerprint"]:
            yield _violation(
                resource,
                path,
                Severity.CRITICAL,
                "expected-value-mismatch",
                f"the key held in {variable} does not match {environment}'s live {name}, "
                f"version {latest.get('version')}",
                actual={"live_version": latest.get("version"), "held": held["value"]},
            )


def _auth_violations(environment: str, resource: str, body: dict[str, Any]) -> Iterable[Finding]:
    if (body.get("oidc") or {}).get("private_key_material"):
        yield _violation(
            resource,
            "oidc.private_key_material",
            Severity.CRITICAL,
            "jwks-private-material",
            f"{environment}'s JWKS publishes private or symmetric key material",
        )
    for token, result in sorted((body.get("tokens") or {}).items()):
        yield from _defect_violations(
            resource,
            f"tokens.{token}",
            "token",
            result.get("defects"),
            actual={"claims": result.get("claims"), "signature": result.get("signature")},
        )


def _defect_violations(
    resource: str, path: str, rule: str, defects: dict[str, Any] | None, actual: Any = None
) -> Iterable[Finding]:
    """One violation per defect that a collector recorded (token checks, probe checks)."""
    for check, defect in sorted((defects or {}).items()):
        yield _violation(
            resource,
            f"{path}.{check}",
            Severity(defect["severity"]),
            f"{rule}-{check.split(':', 1)[0]}",
            str(defect["message"]),
            actual=actual if actual is not None else defect.get("value"),
        )


def unverifiable(snapshot: Snapshot) -> list[CollectionErrorRecord]:
    """Values a consumer holds that cannot be checked against the live secret: each makes the
    verdict incomplete, since the check that matters most was not made."""
    gaps: list[CollectionErrorRecord] = []
    for resource, body in sorted(snapshot.resources.items()):
        if not resource.startswith("secret/") or not body.get("exists", False):
            continue
        live = (body.get("latest") or {}).get("fingerprint") or {}
        for variable, held in sorted((body.get("consumers") or {}).items()):
            # With no enabled version at all, the violation saying so is the finding.
            if held.get("set") and live.get("unavailable"):
                why = "payloads were not accessed (--no-secret-payloads)"
                gaps.append(
                    CollectionErrorRecord(
                        source="secretmanager.googleapis.com",
                        resource=resource,
                        path=f"consumers.{variable}",
                        message=f"cannot verify {variable} against {snapshot.environment}'s "
                        f"{resource.split('/', 1)[1]}: {why}",
                    )
                )
    return gaps


def _plain_secret_violations(resource: str, body: dict[str, Any]) -> Iterable[Finding]:
    """Secret-looking values set in clear as environment variables: they belong in Secret
    Manager, where access is audited and rotation does not need a deploy."""
    template = body.get("template") or {}
    for container, spec in sorted((template.get("containers") or {}).items()):
        for variable, setting in sorted((spec.get("env") or {}).items()):
            value = setting.get("value") if isinstance(setting, dict) else None
            if is_redacted(value) or (isinstance(value, str) and MARKER_PREFIX in value):
                yield _violation(
                    resource,
                    f"template.containers.{container}.env.{variable}.value",
                    Severity.MEDIUM,
                    "plain-secret",
                    f"{variable}: a secret-looking value is set as a plain environment "
                    "variable; use Secret Manager",
                    actual=value,
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
    if resource.startswith("service/"):
        return list(_plain_secret_violations(resource, body))
    if resource.startswith("secret/"):
        return list(_secret_violations(snapshot.environment, resource, body))
    if resource.startswith("auth-policy/"):
        return list(_auth_violations(snapshot.environment, resource, body))
    if resource.startswith("probe/"):
        return list(_defect_violations(resource, "defects", "probe", body.get("defects")))
    return []
