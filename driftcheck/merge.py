"""One fact, one finding: findings that share a cause become one finding with their evidence.

A proxy that stops echoing ``Sec-WebSocket-Protocol`` shows as a changed subprotocol, a missing
response header and a probe defect; a service pinned to a disabled secret version shows in the
service and in the secret. Counting those separately inflates every report and trains readers to
stop reading. The catalogue (``severity.causes``) says which findings share a cause; findings
that share any cause, directly or through another finding, are merged. The merged finding keeps
the id, path and message of its most telling part (the most severe; a violation before a
difference), takes the highest severity of its parts, and lists every part as evidence.
"""

from __future__ import annotations

from driftcheck.model import Evidence, Finding, FindingKind
from driftcheck.severity import causes_of


def _primary_order(finding: Finding, follower: bool) -> tuple[int, int, int, str, str]:
    """The most telling part first: the most severe, a violation, a cause before what follows
    from it (a missing service before the secret only it used)."""
    return (
        -finding.severity.rank,
        0 if finding.kind is FindingKind.VIOLATION else 1,
        1 if follower else 0,
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
    followers: set[int] = set()
    for index, cause in following:
        if cause in first_with_cause:
            groups.union(first_with_cause[cause], index)
            followers.add(index)
    members: dict[int, list[tuple[Finding, bool]]] = {}
    for index, finding in enumerate(findings):
        members.setdefault(groups.find(index), []).append((finding, index in followers))
    return [_merged(parts) for _root, parts in sorted(members.items())]


def _merged(parts: list[tuple[Finding, bool]]) -> Finding:
    if len(parts) == 1:
        return parts[0][0]
    ordered = [finding for finding, _ in sorted(parts, key=lambda p: _primary_order(*p))]
    primary = ordered[0]
    others = len(parts) - 1
    return primary.model_copy(
        update={
            "message": f"{primary.message} (and {others} related observation"
            f"{'s' if others > 1 else ''})",
            "evidence": [_evidence(part) for part in ordered],
        }
    )
