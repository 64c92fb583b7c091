"""Snapshot vs baseline -> findings.

Resources that are equal are skipped before deepdiff runs. deepdiff runs with
``threshold_to_diff_deeper=0`` so that a changed map is reported key by key, never dumped whole.
Lists without an identity (args, command, IAM members) are reported as one changed value, and a
redacted value is compared as a whole: by fingerprint where that is meaningful, never revealed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from driftcheck.fingerprint import fingerprint_key_id
from driftcheck.model import CollectionErrorRecord, Finding, FindingKind, Severity, Snapshot
from driftcheck.severity import classify

_MISSING = object()
_MESSAGE_VALUE_LIMIT = 120


# Judged by violations, not by comparison: what a consumer holds is not estate state.
# A reference's version state is judged by violations too (one finding, not two).
ALWAYS_SKIPPED = (
    ("secret/*", "consumers*"),
    ("secret/*", "references.*.state"),
    ("auth-policy/*", "tokens*"),
    # Probe latency is judged against its limit only; defects are violations.
    ("probe/*", "latency_ms"),
    ("probe/*", "fields.*latency*"),
    ("probe/*", "defects*"),
)
# Facts that legitimately differ between environments: version numbers, not whether pinned.
CROSS_ENVIRONMENT_SKIPPED = (
    ("secret/*", "versions*"),
    ("secret/*", "latest.version"),
    ("secret/*", "references.*.requested"),
    ("secret/*", "references.*.resolved"),
)

# Across environments a pinned version number is expected to differ; pinned-vs-latest is drift.
CROSS_ENVIRONMENT_PINNED = (
    ("service/*", "template.containers.*.env.*.version"),
    ("service/*", "template.volumes.*.secret.items.*.version"),
)


def _both_pinned(before: Any, after: Any) -> bool:
    return str(before).isdigit() and str(after).isdigit()


@dataclass(frozen=True)
class CompareOptions:
    """How to compare: within one environment, or across two (staging vs production)."""

    cross_environment: bool = False
    shared_secrets: frozenset[str] = field(default_factory=frozenset)

    def skips(self, resource: str, path: str, before: Any, after: Any) -> bool:
        """Whether a difference at ``path`` is not drift under these options."""
        if _matches(ALWAYS_SKIPPED, resource, path):
            return True
        if not self.cross_environment:
            return False
        if _matches(CROSS_ENVIRONMENT_PINNED, resource, path) and _both_pinned(before, after):
            return True
        return _matches(CROSS_ENVIRONMENT_SKIPPED, resource, path)

    def compares_fingerprints(self, resource: str) -> bool:
        """Fingerprints are compared within an environment, and across only for shared secrets."""
        if not self.cross_environment:
            return True
        return resource.startswith("secret/") and resource.split("/", 1)[1] in self.shared_secrets


def _matches(rules: tuple[tuple[str, str], ...], resource: str, path: str) -> bool:
    return any(fnmatchcase(resource, r) and fnmatchcase(path, p) for r, p in rules)


def finding_id(resource: str, path: str, kind: FindingKind) -> str:
    """Stable id of a finding, so suppressions survive reruns."""
    digest = hashlib.sha256(f"{resource}\x00{path}\x00{kind.value}".encode()).hexdigest()
    return digest[:16]


def is_redacted(value: Any) -> bool:
    """Whether ``value`` is the redacted form of a sensitive value."""
    return isinstance(value, dict) and value.get("redacted") is True


def make_finding(
    resource: str,
    path: str,
    kind: FindingKind,
    baseline: Any,
    actual: Any,
    message: str,
    severity: Severity | None = None,
    rule: str | None = None,
) -> Finding:
    """A finding with its stable id and, unless given, its catalogue severity."""
    baseline = None if baseline is _MISSING else baseline
    actual = None if actual is _MISSING else actual
    if severity is None:
        severity, rule = classify(resource, path, kind, baseline, actual)
    return Finding(
        id=finding_id(resource, path, kind),
        resource=resource,
        path=path,
        kind=kind,
        severity=severity,
        baseline=baseline,
        actual=actual,
        message=message,
        rule=rule,
    )


def _masked(value: Any) -> Any:
    if is_redacted(value):
        return "<redacted>"
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def _show(value: Any) -> str:
    """A short, deterministic rendering of a value for messages; redacted values stay hidden."""
    text = json.dumps(_masked(value), sort_keys=True, ensure_ascii=False)
    return text if len(text) <= _MESSAGE_VALUE_LIMIT else text[: _MESSAGE_VALUE_LIMIT - 1] + "…"


def _lookup(tree: Any, path: list[Any]) -> Any:
    node = tree
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return _MISSING
    return node


def _comparison_point(
    baseline: dict[str, Any], actual: dict[str, Any], path: list[Any]
) -> list[Any]:
    """Shorten a deepdiff path to the unit that is reported: a list, or a redacted value."""
    for end in range(len(path) + 1):
        prefix = path[:end]
        if end < len(path) and isinstance(path[end], int):
            return prefix
        if is_redacted(_lookup(baseline, prefix)) or is_redacted(_lookup(actual, prefix)):
            return prefix
    return path


def _dotted(path: list[Any]) -> str:
    return ".".join(str(part) for part in path)


def _diff_paths(baseline: dict[str, Any], actual: dict[str, Any]) -> list[list[Any]]:
    from deepdiff import DeepDiff

    diff = DeepDiff(baseline, actual, threshold_to_diff_deeper=0, view="tree", verbose_level=2)
    paths: dict[str, list[Any]] = {}
    for report_type in diff:
        for node in diff[report_type]:
            point = _comparison_point(baseline, actual, list(node.path(output_format="list")))
            paths.setdefault(_dotted(point), point)
    return [paths[key] for key in sorted(paths)]


def _fingerprint_finding(
    resource: str, path: str, before: Any, after: Any, options: CompareOptions
) -> Finding | None:
    """Compare two redacted values: incomparable keys, cross-env rules, or a real change."""
    if not options.compares_fingerprints(resource):
        return None
    before_key = fingerprint_key_id(str(before.get("fingerprint", "")))
    after_key = fingerprint_key_id(str(after.get("fingerprint", "")))
    if before_key != after_key:
        return make_finding(
            resource,
            path,
            FindingKind.CHANGED,
            before,
            after,
            f"{path} is incomparable: fingerprints were made under different keys "
            f"(k={before_key} vs k={after_key})",
            severity=Severity.INFO,
            rule="incomparable-fingerprint",
        )
    return make_finding(
        resource, path, FindingKind.CHANGED, before, after, f"{path}: secret value changed"
    )


def _resource_findings(
    resource: str, baseline: dict[str, Any], actual: dict[str, Any], options: CompareOptions
) -> Iterable[Finding]:
    for point in _diff_paths(baseline, actual):
        path = _dotted(point)
        before, after = _lookup(baseline, point), _lookup(actual, point)
        if options.skips(resource, path, before, after):
            continue
        sensitive = is_redacted(before) or is_redacted(after)
        if sensitive and not options.compares_fingerprints(resource):
            continue
        if before is _MISSING:
            yield make_finding(
                resource, path, FindingKind.ADDED, before, after, f"{path} added: {_show(after)}"
            )
        elif after is _MISSING:
            yield make_finding(
                resource,
                path,
                FindingKind.REMOVED,
                before,
                after,
                f"{path} removed (was {_show(before)})",
            )
        elif is_redacted(before) and is_redacted(after):
            found = _fingerprint_finding(resource, path, before, after, options)
            if found is not None:
                yield found
        else:
            yield make_finding(
                resource,
                path,
                FindingKind.CHANGED,
                before,
                after,
                f"{path} changed from {_show(before)} to {_show(after)}",
            )


def _unreadable(errors: Iterable[CollectionErrorRecord]) -> list[str]:
    return [error.resource for error in errors]


def compare(
    baseline: Snapshot, actual: Snapshot, options: CompareOptions | None = None
) -> list[Finding]:
    """Every difference between ``baseline`` and ``actual``, sorted by resource and path.

    Resources that could not be read on either side are not compared: their absence is a
    collection error, not drift.
    """
    options = options or CompareOptions()
    unreadable = _unreadable([*baseline.errors, *actual.errors])
    findings: list[Finding] = []
    for resource in sorted(set(baseline.resources) | set(actual.resources)):
        if any(fnmatchcase(resource, pattern) for pattern in unreadable):
            continue
        before = baseline.resources.get(resource)
        after = actual.resources.get(resource)
        if before == after:
            continue
        if before is None:
            findings.append(
                make_finding(
                    resource,
                    "",
                    FindingKind.ADDED,
                    None,
                    None,
                    f"{resource} exists only in {actual.environment}",
                )
            )
        elif after is None:
            findings.append(
                make_finding(
                    resource,
                    "",
                    FindingKind.REMOVED,
                    None,
                    None,
                    f"{resource} is missing from {actual.environment}",
                )
            )
        else:
            findings.extend(_resource_findings(resource, before, after, options))
    return findings
