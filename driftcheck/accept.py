"""Accepting single drifts into an environment's own baseline (``baseline ENV --accept ID``).

Instead of re-baselining everything, only the paths of the accepted findings are taken from the
fresh snapshot: the baseline's diff in the pull request is exactly the drift that was accepted.
A finding's id is the one ``check ENV`` reports; a merged finding brings every difference of its
evidence. Violations are not differences and cannot be accepted into a baseline (fix them, or
suppress them in driftcheck.yaml).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from driftcheck.compare import CompareOptions, compare
from driftcheck.errors import UsageError
from driftcheck.merge import merge_findings
from driftcheck.model import Evidence, Finding, FindingKind, Snapshot
from driftcheck.violations import find_violations

_MISSING = object()


@dataclass(frozen=True)
class Accepted:
    """What accepting one finding changed in the baseline: (resource, path) pairs."""

    finding: Finding
    paths: list[tuple[str, str]]


def findings_against_own_baseline(
    baseline: Snapshot, snapshot: Snapshot, shared_secrets: frozenset[str]
) -> list[Finding]:
    """The findings ``check ENV`` would report (before rules), with their ids."""
    options = CompareOptions(cross_environment=False, shared_secrets=shared_secrets)
    result = compare(baseline, snapshot, options)
    return merge_findings([*result.findings, *find_violations(snapshot)])


def _split(trees: list[Any], path: str) -> list[str] | None:
    """``path`` split into the keys of ``trees`` (keys may hold dots: ``roles/run.invoker``).

    At each level the longest key of either tree that the rest of the path starts with wins.
    """
    keys: list[str] = []
    nodes = list(trees)
    rest = path
    while rest:
        candidates = {
            key
            for node in nodes
            if isinstance(node, dict)
            for key in node
            if isinstance(key, str) and (rest == key or rest.startswith(key + "."))
        }
        if not candidates:
            return None
        key = max(candidates, key=len)
        keys.append(key)
        nodes = [node.get(key) if isinstance(node, dict) else None for node in nodes]
        rest = rest[len(key) + 1 :]
    return keys


def _get(tree: Any, keys: list[str]) -> Any:
    node = tree
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return _MISSING
        node = node[key]
    return node


def _set(tree: dict[str, Any], keys: list[str], value: Any) -> None:
    node = tree
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    if value is _MISSING:
        node.pop(keys[-1], None)
        while keys[:-1] and not node:  # an emptied map goes with its last key
            keys = keys[:-1]
            parent = _get(tree, keys[:-1]) if keys[:-1] else tree
            parent.pop(keys[-1], None)
            node = parent
    else:
        node[keys[-1]] = copy.deepcopy(value)


def _differences(finding: Finding) -> list[Finding | Evidence]:
    parts: list[Finding | Evidence] = list(finding.evidence) or [finding]
    return [part for part in parts if part.kind is not FindingKind.VIOLATION]


def accept(
    baseline: Snapshot, snapshot: Snapshot, findings: list[Finding], ids: list[str]
) -> tuple[Snapshot, list[Accepted]]:
    """The baseline with the paths of the findings named by ``ids`` taken from ``snapshot``."""
    by_id = {finding.id: finding for finding in findings}
    resources = copy.deepcopy(baseline.resources)
    accepted: list[Accepted] = []
    for finding_id in dict.fromkeys(ids):
        finding = by_id.get(finding_id)
        if finding is None:
            known = ", ".join(sorted(by_id)) or "none"
            raise UsageError(
                f"--accept {finding_id}: no such finding between the baseline and "
                f"{snapshot.environment} now (findings: {known})"
            )
        parts = _differences(finding)
        if not parts:
            raise UsageError(
                f"--accept {finding_id}: {finding.resource} {finding.path} is a violation, not a "
                "difference from the baseline; fix it, or suppress it in driftcheck.yaml"
            )
        paths = []
        for part in parts:
            _take(resources, snapshot.resources, part.resource, part.path)
            paths.append((part.resource, part.path))
        accepted.append(Accepted(finding, paths))
    return baseline.model_copy(update={"resources": dict(sorted(resources.items()))}), accepted


def _take(resources: dict[str, Any], fresh: dict[str, Any], resource: str, path: str) -> None:
    """Make ``resources[resource]`` at ``path`` what ``fresh`` has there (or nothing)."""
    if not path:
        if resource in fresh:
            resources[resource] = copy.deepcopy(fresh[resource])
        else:
            resources.pop(resource, None)
        return
    keys = _split([resources.get(resource), fresh.get(resource)], path)
    if keys is None:
        raise UsageError(f"cannot find {path} in {resource} on either side")
    if resource not in resources:
        resources[resource] = {}
    _set(resources[resource], keys, _get(fresh.get(resource), keys))
