"""Snapshot vs baseline -> findings, the gaps that kept something from being compared, and the
coverage of what was compared.

Resources are matched by their environment-neutral key, on the regions both sides read; a region
read on one side only is one finding, not one per resource. Two values that were literally
identical before neutralization are equal (see ``identity``). Resources that are equal are
skipped before they are walked; a changed map is reported key by key (as deepdiff does with
``threshold_to_diff_deeper=0``), never dumped whole.
Lists without an identity (args, command, IAM members) are reported as one changed value, and a
redacted value is compared as a whole: by fingerprint where that is meaningful, never revealed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cache
from typing import Any

from driftcheck.errors import BaselineError
from driftcheck.fingerprint import fingerprint_key_id
from driftcheck.identity import (
    GLOBAL_REGION,
    REGIONAL_KINDS,
    IdentityContext,
    ResourceKey,
    literally_equal,
)
from driftcheck.model import (
    CollectionErrorRecord,
    Coverage,
    Finding,
    FindingKind,
    NotCompared,
    Severity,
    Snapshot,
)
from driftcheck.severity import classify

SOURCE = "compare"

_MISSING = object()
_MESSAGE_VALUE_LIMIT = 120


Paths = tuple[tuple[str, str], ...]


@cache
def runner_observations() -> Paths:
    """What the runner itself holds (the E2E suite's key, its tokens), per kind: judged where it
    is read, never approved; a baseline does not keep it, so a fresh CI token never rewrites one."""
    return _declared("runner_observations")


def _key_glob(key: str) -> str:
    """A resource key glob (``job/us-central1/*``) as a pattern within a path."""
    return re.escape(key).replace(re.escape("*"), "[^:]*")


def _holds_secret_values(resource: str) -> bool:
    """Whether ``resource`` is of a kind whose values are secrets of their own environment."""
    from driftcheck.kinds import kind_of

    kind = kind_of(resource)
    return kind is not None and kind.holds_secret_values


@cache
def _declared(attribute: str) -> Paths:
    from driftcheck.kinds import KINDS

    return tuple((kind.resources, path) for kind in KINDS for path in getattr(kind, attribute))


def _both_pinned(before: Any, after: Any) -> bool:
    return str(before).isdigit() and str(after).isdigit()


@dataclass(frozen=True)
class CompareOptions:
    """How to compare: within one environment, or across two (staging vs production)."""

    cross_environment: bool = False
    shared_secrets: frozenset[str] = field(default_factory=frozenset)

    def skips(self, resource: str, path: str, before: Any, after: Any) -> bool:
        """Whether a difference at ``path`` is not drift under these options."""
        if _matches(_declared("judged_elsewhere"), resource, path):
            return True
        if not self.cross_environment:
            return False
        pinned = _declared("cross_environment_pinned")
        if _matches(pinned, resource, path) and _both_pinned(before, after):
            return True
        return _matches(_declared("cross_environment_skipped"), resource, path)

    def compares_fingerprints(self, resource: str) -> bool:
        """Fingerprints are compared within an environment. Across environments, a secret's own
        versions legitimately differ: only shared secrets and secrets of another project (the
        very same secret on both sides) are compared. A secret-looking value set in clear
        elsewhere (an env var) is compared everywhere: redacted does not mean uncompared."""
        if not self.cross_environment or not _holds_secret_values(resource):
            return True
        name = resource.split("/", 1)[1]
        return name in self.shared_secrets or "/" in name


def _matches(rules: Paths, resource: str, path: str) -> bool:
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
    """The comparison points where two bodies differ, sorted: what deepdiff reports with
    ``threshold_to_diff_deeper=0`` (maps key by key, a type change or a changed scalar at its
    path), shortened by :func:`_comparison_point`. Walked here directly: deepdiff's generality
    cost 1.6 ms a resource, the better part of a large ``diff``."""
    paths: dict[str, list[Any]] = {}
    for path in _changes(baseline, actual, []):
        point = _comparison_point(baseline, actual, path)
        paths.setdefault(_dotted(point), point)
    return [paths[key] for key in sorted(paths)]


def _changes(before: Any, after: Any, path: list[Any]) -> Iterator[list[Any]]:
    """Paths at which ``before`` and ``after`` differ; a list that differs anywhere is one path
    ending in an index (lists are compared whole)."""
    if type(before) is dict and type(after) is dict:
        for key in before.keys() | after.keys():
            if key not in before or key not in after:
                yield [*path, key]
            elif not _same(before[key], after[key]):
                yield from _changes(before[key], after[key], [*path, key])
    elif type(before) is list and type(after) is list:
        yield [*path, 0]
    else:
        yield path


def _same(before: Any, after: Any) -> bool:
    """Equal and of the same types all the way down (``1`` and ``1.0`` or ``True`` differ, as
    they do for deepdiff), except in a list of scalars only, which deepdiff compares as Python
    does."""
    if type(before) is not type(after):
        return False
    if type(before) is dict:
        return before.keys() == after.keys() and all(_same(v, after[k]) for k, v in before.items())
    if type(before) is list:
        if len(before) != len(after):
            return False
        if _flat(before) and _flat(after):
            return bool(before == after)  # scalars only: deepdiff compares them as Python does
        return all(map(_same, before, after))
    return bool(before == after)


def _flat(items: list[Any]) -> bool:
    """Whether a list holds no map and no list."""
    return not any(type(item) is dict or type(item) is list for item in items)


def is_unavailable(value: Any) -> bool:
    """Whether ``value`` marks a fingerprint that was not made (payloads not accessed)."""
    return isinstance(value, dict) and value.get("unavailable") is True


@dataclass(frozen=True)
class Gap:
    """Something inside a compared resource that could not be compared."""

    resource: str
    path: str
    why: str


@dataclass
class _Judged:
    """Findings and gaps of one resource."""

    findings: list[Finding] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)


@dataclass(frozen=True)
class Sides:
    """Both snapshots' identities, to undo neutralization when values differ."""

    baseline: IdentityContext
    actual: IdentityContext

    @classmethod
    def of(cls, baseline: Snapshot, actual: Snapshot) -> Sides:
        """The identity contexts of two snapshots."""
        return cls(identity_of(baseline), identity_of(actual))


def identity_of(snapshot: Snapshot) -> IdentityContext:
    """How ``snapshot``'s environment spells its own names."""
    return IdentityContext(
        project=snapshot.project,
        project_number=snapshot.project_number,
        regions=snapshot.regions,
        name_map=snapshot.name_map,
    )


def _fingerprint_change(resource: str, path: str, before: Any, after: Any, judged: _Judged) -> None:
    """Two redacted values differ: another key makes them incomparable (a gap), else drift."""
    before_key = fingerprint_key_id(str(before.get("fingerprint", "")))
    after_key = fingerprint_key_id(str(after.get("fingerprint", "")))
    if before_key != after_key:
        judged.gaps.append(
            Gap(
                resource,
                path,
                f"fingerprints were made under different keys (k={before_key} vs "
                f"k={after_key}); run with the baseline's DRIFTCHECK_FINGERPRINT_KEY",
            )
        )
        return
    what = "secret value changed" if _holds_secret_values(resource) else "value differs (redacted)"
    judged.findings.append(
        make_finding(resource, path, FindingKind.CHANGED, before, after, f"{path}: {what}")
    )


def _unavailable_paths(tree: Any, prefix: tuple[str, ...] = ()) -> Iterator[str]:
    """Fingerprints not made on purpose (a failed read is already a collection error)."""
    if is_unavailable(tree):
        if not tree.get("failed"):
            yield _dotted(list(prefix))
    elif isinstance(tree, dict):
        for key, child in sorted(tree.items()):
            yield from _unavailable_paths(child, (*prefix, str(key)))


def _resource_findings(
    resource: str,
    baseline: dict[str, Any],
    actual: dict[str, Any],
    options: CompareOptions,
    sides: Sides,
    unread_paths: list[str],
) -> _Judged:
    judged = _Judged()
    region = ResourceKey.parse(resource).region
    fingerprints = options.compares_fingerprints(resource)
    if fingerprints:
        unavailable = sorted(set(_unavailable_paths(baseline)) | set(_unavailable_paths(actual)))
        judged.gaps.extend(
            Gap(resource, path, "secret payloads were not accessed (--no-secret-payloads)")
            for path in unavailable
            if not options.skips(resource, path, None, None)
        )
    for point in _diff_paths(baseline, actual):
        path = _dotted(point)
        if any(path == unread or path.startswith(f"{unread}.") for unread in unread_paths):
            continue
        before, after = _lookup(baseline, point), _lookup(actual, point)
        if options.skips(resource, path, before, after):
            continue
        if is_unavailable(before) or is_unavailable(after):
            continue  # a gap, recorded above (or not compared by design)
        sensitive = is_redacted(before) or is_redacted(after)
        if sensitive and not fingerprints:
            continue
        if before is _MISSING:
            judged.findings.append(
                make_finding(
                    resource,
                    path,
                    FindingKind.ADDED,
                    before,
                    after,
                    f"{path} added: {_show(after)}",
                )
            )
        elif after is _MISSING:
            judged.findings.append(
                make_finding(
                    resource,
                    path,
                    FindingKind.REMOVED,
                    before,
                    after,
                    f"{path} removed (was {_show(before)})",
                )
            )
        elif is_redacted(before) and is_redacted(after):
            _fingerprint_change(resource, path, before, after, judged)
        elif not literally_equal(before, after, sides.baseline, sides.actual, region):
            judged.findings.append(
                make_finding(
                    resource,
                    path,
                    FindingKind.CHANGED,
                    before,
                    after,
                    f"{path} changed from {_show(before)} to {_show(after)}",
                )
            )
    return judged


@dataclass(frozen=True)
class CompareResult:
    """What comparing two snapshots gives: findings, gaps (what could not be compared, each a
    reason for an incomplete verdict) and coverage (what was compared, per kind and region)."""

    findings: list[Finding]
    gaps: list[CollectionErrorRecord]
    coverage: list[Coverage]


@dataclass
class _Bucket:
    baseline: int = 0
    actual: int = 0
    matched: int = 0
    only_in_baseline: int = 0
    only_in_actual: int = 0
    not_compared: list[NotCompared] = field(default_factory=list)


class _Comparison:
    """One comparison in progress: accumulates findings, gaps and coverage."""

    def __init__(self, baseline: Snapshot, actual: Snapshot, options: CompareOptions) -> None:
        self.baseline = baseline
        self.actual = actual
        self.options = options
        self.sides = Sides.of(baseline, actual)
        self.errors = [*baseline.errors, *actual.errors]
        self.shared_regions = set(baseline.regions) & set(actual.regions)
        unshared = sorted(set(baseline.regions) ^ set(actual.regions))
        self.unshared_reference = (
            re.compile(
                rf"(?:^|[.:])(?:{'|'.join(re.escape(k) for k in sorted(REGIONAL_KINDS))})/"
                rf"(?:{'|'.join(re.escape(alias) for alias in unshared)})/"
            )
            if unshared
            else None
        )
        # Resources a read failed for (a listing that answered 403): what another resource says
        # about them (a secret's references, a dependency's users) is not compared either.
        unread = sorted({e.resource for e in self.errors if e.path is None and "/" in e.resource})
        self.unread_reference = (
            re.compile(rf"(?:^|[.:])(?:{'|'.join(_key_glob(key) for key in unread)})(?::|$)")
            if unread
            else None
        )
        self.findings: list[Finding] = []
        self.gaps: list[Gap] = []
        self.buckets: dict[tuple[str, str], _Bucket] = defaultdict(_Bucket)

    def run(self) -> CompareResult:
        for resource in sorted(set(self.baseline.resources) | set(self.actual.resources)):
            try:
                self._resource(resource)
            except (AttributeError, TypeError, KeyError, ValueError) as exc:
                # Only a hand-edited snapshot has values of unexpected types: an input error.
                raise BaselineError(
                    f"resources.{resource}: not shaped as driftcheck writes it "
                    f"({type(exc).__name__})"
                ) from None
        self._regions_on_one_side()
        self._empty_sides()
        return CompareResult(
            findings=self.findings,
            gaps=_gap_records(self.gaps),
            coverage=[
                Coverage(kind=kind, region=region, **vars(bucket))
                for (kind, region), bucket in sorted(self.buckets.items())
            ],
        )

    def _resource(self, resource: str) -> None:
        key = ResourceKey.parse(resource)
        bucket = self.buckets[(key.kind, key.region)]
        before = self.baseline.resources.get(resource)
        after = self.actual.resources.get(resource)
        bucket.baseline += before is not None
        bucket.actual += after is not None
        why = self._not_compared_why(resource, key)
        if why is not None:
            bucket.not_compared.append(NotCompared(resource=resource, why=why))
            return
        if before is None or after is None:
            users = _users(before if before is not None else after)
            unshared, unread = self.unshared_reference, self.unread_reference
            if users and unshared is not None and all(unshared.search(u) for u in users):
                # Used only from a region that is not compared: not compared either.
                bucket.not_compared.append(
                    NotCompared(resource=resource, why="used only in a region read on one side")
                )
                return
            if users and unread is not None and all(unread.search(u) for u in users):
                bucket.not_compared.append(
                    NotCompared(resource=resource, why="used only by resources that were not read")
                )
                return
            bucket.only_in_actual += before is None
            bucket.only_in_baseline += after is None
            self.findings.append(self._presence(resource, before is None, users))
            return
        bucket.matched += 1
        if before == after:
            return
        lost = [str(e.path) for e in self.errors if e.path and fnmatchcase(resource, e.resource)]
        judged = _resource_findings(resource, before, after, self.options, self.sides, lost)
        for pattern in (self.unshared_reference, self.unread_reference):
            # What a resource says about one that is not compared is not compared either.
            if pattern is not None:
                judged.findings = [f for f in judged.findings if not pattern.search(f.path)]
        self.findings.extend(judged.findings)
        self.gaps.extend(judged.gaps)

    def _not_compared_why(self, resource: str, key: ResourceKey) -> str | None:
        regional = key.region != GLOBAL_REGION
        if regional and key.region not in {*self.baseline.regions, *self.actual.regions}:
            # A key in a region neither side says it read (a hand-edited snapshot): a gap.
            why = f"region {key.region} is in no snapshot's regions"
            self.gaps.append(Gap(resource, "", why))
            return why
        if regional and key.region not in self.shared_regions:
            side = self.baseline if key.region in self.baseline.regions else self.actual
            return f"region {key.region} is read only in {side.environment}"
        for error in self.errors:
            if error.path is None and fnmatchcase(resource, error.resource):
                return f"not read: {error.message}"
        return None

    def _presence(self, resource: str, added: bool, users: list[str]) -> Finding:
        # Who uses a resource on one side only says why it is there (and joins their finding).
        value = {"used_by": users} if users else None
        if added:
            return make_finding(
                resource,
                "",
                FindingKind.ADDED,
                None,
                value,
                f"{resource} exists only in {self.actual.environment}",
            )
        return make_finding(
            resource,
            "",
            FindingKind.REMOVED,
            value,
            None,
            f"{resource} is missing from {self.actual.environment}",
        )

    def _regions_on_one_side(self) -> None:
        """A region read on one side only: one finding, whatever it holds."""
        for alias in sorted(set(self.baseline.regions) ^ set(self.actual.regions)):
            in_baseline = alias in self.baseline.regions
            holder = self.baseline if in_baseline else self.actual
            other = self.actual if in_baseline else self.baseline
            count = sum(1 for k in holder.resources if ResourceKey.parse(k).region == alias)
            region = holder.regions[alias]
            where = f"region {alias}" if alias == region else f"region {alias} ({region})"
            self.findings.append(
                make_finding(
                    f"region/{alias}",
                    "",
                    FindingKind.REMOVED if in_baseline else FindingKind.ADDED,
                    region if in_baseline else None,
                    None if in_baseline else region,
                    f"{where} is read in {holder.environment} but not in {other.environment}; "
                    f"its {count} resource{'s' if count != 1 else ''} "
                    f"{'are' if count != 1 else 'is'} not compared",
                )
            )

    def _empty_sides(self) -> None:
        """Nothing read where something was expected, or nothing compared at all."""
        unread = {e.resource for e in self.errors if e.path is None}
        for alias in sorted(self.shared_regions):
            had = [k for k in self.baseline.resources if ResourceKey.parse(k).region == alias]
            has = [k for k in self.actual.resources if ResourceKey.parse(k).region == alias]
            if had and not has and not any(fnmatchcase(had[0], u) for u in unread):
                self.gaps.append(
                    Gap(
                        f"region/{alias}",
                        "",
                        f"{self.actual.environment} yields no resource in region "
                        f"{self.actual.regions[alias]} while the baseline has {len(had)}",
                    )
                )
        for (kind, region), bucket in sorted(self.buckets.items()):
            if bucket.only_in_baseline and bucket.only_in_actual and not bucket.matched:
                where = "" if region == GLOBAL_REGION else f" in region {region}"
                self.gaps.append(
                    Gap(
                        f"{kind}/*" if region == GLOBAL_REGION else f"{kind}/{region}/*",
                        "",
                        f"no {kind}{where} matched by identity ({bucket.only_in_baseline} only "
                        f"in the baseline, {bucket.only_in_actual} only in "
                        f"{self.actual.environment}); check names, name_map and regions",
                    )
                )
        if not any(bucket.matched for bucket in self.buckets.values()):
            self.gaps.append(
                Gap(
                    "*",
                    "",
                    "nothing was compared: no resource of "
                    f"{self.actual.environment} matched one of the baseline "
                    f"({len(self.baseline.resources)} in the baseline, "
                    f"{len(self.actual.resources)} read); check names, name_map and regions",
                )
            )


def _users(body: dict[str, Any] | None) -> list[str]:
    """The places that use ``body`` (a secret's references, a dependency's ``used_by``:
    ``service/…:containers.…``)."""
    references = body.get("references") if body is not None else None
    if not isinstance(references, dict):
        used_by = body.get("used_by") if body is not None else None
        return sorted(str(where) for where in used_by) if isinstance(used_by, list) else []
    return sorted(str(where) for where in references)


def _gap_records(gaps: list[Gap]) -> list[CollectionErrorRecord]:
    """One record per resource and reason, naming every path it covers."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for gap in gaps:
        grouped.setdefault((gap.resource, gap.why), []).append(gap.path)
    return [
        CollectionErrorRecord(
            source=SOURCE,
            resource=resource,
            path=", ".join(sorted(p for p in set(paths) if p)) or None,
            message=why,
        )
        for (resource, why), paths in sorted(grouped.items())
    ]


def compare(
    baseline: Snapshot, actual: Snapshot, options: CompareOptions | None = None
) -> CompareResult:
    """Every difference between ``baseline`` and ``actual``, what could not be compared, and the
    coverage of the comparison.

    Resources that could not be read on either side are not compared: their absence is a
    collection error, not drift.
    """
    return _Comparison(baseline, actual, options or CompareOptions()).run()
