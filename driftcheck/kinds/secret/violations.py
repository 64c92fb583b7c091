"""Violations of a secret in its own environment: missing, no enabled version, a reference to a
version that cannot be used, and a consumer's key that no longer matches the live value."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from driftcheck.compare import is_redacted
from driftcheck.model import CollectionErrorRecord, Finding, Severity, Snapshot
from driftcheck.violations import violation


def secret_violations(environment: str, resource: str, body: dict[str, Any]) -> Iterable[Finding]:
    name = resource.split("/", 1)[1]
    references: dict[str, Any] = body.get("references") or {}
    if not body.get("exists", False):
        users = ", ".join(sorted(references)) or "driftcheck.yaml"
        yield violation(
            resource,
            "exists",
            Severity.CRITICAL if references else Severity.HIGH,
            "secret-missing",
            f"secret {name} does not exist in {environment} (used by {users})",
        )
        return
    latest = body.get("latest") or {}
    if latest.get("version") is None:
        yield violation(
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
        yield violation(
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
            yield violation(
                resource,
                path,
                Severity.HIGH,
                "expected-value-unset",
                f"{variable} is named as holding {name} for {environment}, but it is not set",
            )
        elif not (is_redacted(live) and is_redacted(held.get("value"))):
            continue  # not verifiable: a gap (see unverifiable), not a finding
        elif live["fingerprint"] != held["value"]["fingerprint"]:
            yield violation(
                resource,
                path,
                Severity.CRITICAL,
                "expected-value-mismatch",
                f"the key held in {variable} does not match {environment}'s live {name}, "
                f"version {latest.get('version')}",
                actual={"live_version": latest.get("version"), "held": held["value"]},
            )


def unverifiable_consumers(snapshot: Snapshot) -> list[CollectionErrorRecord]:
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
