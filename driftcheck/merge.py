"""One fact, one finding: findings that share a cause become one finding with their evidence.

A proxy that stops echoing ``Sec-WebSocket-Protocol`` shows as a changed subprotocol, a missing
response header and a probe defect; a service pinned to a disabled secret version shows in the
service and in the secret. Counting those separately inflates every report and trains readers to
stop reading. The catalogue (``severity.CAUSES``) says which findings share a cause; findings
that share any cause, directly or through another finding, are merged. The merged finding keeps
the id, path and message of its most telling part (the most severe; a violation before a
difference), takes the highest severity of its parts, and lists every part as evidence.
"""

from __future__ import annotations

from driftcheck.model import Evidence, Finding, FindingKind
from driftcheck.severity import causes_of


def _primary_order(finding: Finding) -> tuple[int, int, str, str]:
    return (
        -finding.severity.rank,
        0 if finding.kind is FindingKind.VIOLATION else 1,
        finding.resource,
        finding.path,
    )


def _evidence(finding: Finding) -> Evidence:
    return Evidence(
        resource=finding.resource,
        path=finding.path,
        kind=finding.kind,
        severity=finding.severity,
        baseline=finding.baseline,
        actual=finding.actual,
        message=finding.message,
    )


class _Groups:
    """Union-find over finding indexes."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, index: int) -> int:
        while self.parent[index] != index:
            self.parent[index] = self.parent[self.parent[index]]
            index = self.parent[index]
        return index

    def union(self, a: int, b: int) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[max(root_a, root_b)] = min(root_a, root_b)


def merge_findings(findings: list[Finding]) -> list[Finding]:
    """Findings with those that share a cause merged; the order of first appearance is kept."""
    groups = _Groups(len(findings))
    first_with_cause: dict[str, int] = {}
    following: list[tuple[int, str]] = []
    for index, finding in enumerate(findings):
        own, joined = causes_of(finding.resource, finding.path, finding.baseline, finding.actual)
        following.extend((index, cause) for cause in joined)
        for cause in own:
            if cause in first_with_cause:
                groups.union(first_with_cause[cause], index)
            else:
                first_with_cause[cause] = index
    for index, cause in following:
        if cause in first_with_cause:
            groups.union(first_with_cause[cause], index)
    members: dict[int, list[Finding]] = {}
    for index, finding in enumerate(findings):
        members.setdefault(groups.find(index), []).append(finding)
    return [_merged(parts) for _root, parts in sorted(members.items())]


def _merged(parts: list[Finding]) -> Finding:
    if len(parts) == 1:
        return parts[0]
    ordered = sorted(parts, key=_primary_order)
    primary = ordered[0]
    others = len(parts) - 1
    return primary.model_copy(
        update={
            "message": f"{primary.message} (and {others} related observation"
            f"{'s' if others > 1 else ''})",
            "evidence": [_evidence(part) for part in ordered],
        }
    )
