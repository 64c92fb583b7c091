"""User rules: severity overrides, ignores (with a reason) and suppressions (owner, expiry).

Ignored and suppressed findings stay in the report, marked and counted; an expired suppression
stops suppressing and adds a finding saying so; a suppression that matches nothing is stale. A
suppression accepts one value: when the value changes again, the finding is active again.
"""

from __future__ import annotations

import json
from datetime import date
from fnmatch import fnmatchcase

from driftcheck.compare import is_redacted, make_finding
from driftcheck.config import Rules, SuppressRule
from driftcheck.model import Finding, FindingKind, Severity
from driftcheck.sensitive import scrub


def _glob(pattern: str | None, value: str) -> bool:
    return pattern is None or fnmatchcase(value, pattern)


def _suppression_matches(rule: SuppressRule, finding: Finding) -> bool:
    if rule.id is not None:
        return rule.id == finding.id
    return _glob(rule.resource, finding.resource) and _glob(rule.path, finding.path)


def _accepts(rule: SuppressRule, finding: Finding) -> bool:
    """A suppression accepts one value: the finding's actual value, or its fingerprint."""
    actual = finding.actual
    if is_redacted(actual):
        return rule.accepted in (actual, actual.get("fingerprint"))
    return bool(rule.accepted == actual)


def _show(value: object) -> str:
    """An accepted value fit for a report: a fingerprint as it is, anything else scrubbed."""
    if is_redacted(value):
        return "<redacted>"
    return scrub(json.dumps(value, sort_keys=True, ensure_ascii=False, default=str))[:120]


def _rule_finding(index: int, severity: Severity, message: str) -> Finding:
    path = f"rules.suppress[{index}]"
    return make_finding(
        "config", path, FindingKind.VIOLATION, None, None, message, severity=severity, rule=path
    )


def apply_rules(findings: list[Finding], rules: Rules, today: date) -> list[Finding]:
    """Findings with user severities and dispositions, plus expired/stale suppression findings."""
    used: set[int] = set()
    result: list[Finding] = []
    for finding in findings:
        updates: dict[str, object] = {}
        for index, override in enumerate(rules.severity):
            if fnmatchcase(finding.resource, override.resource) and fnmatchcase(
                finding.path, override.path
            ):
                updates.update(severity=override.severity, rule=f"rules.severity[{index}]")
                break
        for ignore in rules.ignore:
            if fnmatchcase(finding.resource, ignore.resource) and fnmatchcase(
                finding.path, ignore.path
            ):
                updates.update(ignored=True, reason=ignore.reason)
                break
        for index, suppression in enumerate(rules.suppress):
            if not _suppression_matches(suppression, finding):
                continue
            used.add(index)
            if not _accepts(suppression, finding):
                # Against a redacted value only a fingerprint may be accepted: anything else the
                # config holds there is never echoed (it could be the secret itself).
                shown = (
                    "another fingerprint"
                    if is_redacted(finding.actual)
                    else _show(suppression.accepted)
                )
                updates.update(
                    message=f"{finding.message} (rules.suppress[{index}] accepted "
                    f"{shown}, not this value: active again)"
                )
                continue
            if suppression.expires >= today:
                updates.update(
                    suppressed=True,
                    reason=f"{suppression.reason} (owner {suppression.owner}, "
                    f"until {suppression.expires.isoformat()}; accepted "
                    f"{_show(suppression.accepted)})",
                )
                break
        result.append(finding.model_copy(update=updates) if updates else finding)
    for index, suppression in enumerate(rules.suppress):
        if suppression.expires < today and index in used:
            result.append(
                _rule_finding(
                    index,
                    Severity.LOW,
                    f"suppression expired on {suppression.expires.isoformat()} "
                    f"(owner {suppression.owner}): the finding it covered is active again",
                )
            )
        elif index not in used:
            result.append(
                _rule_finding(
                    index,
                    Severity.INFO,
                    f"stale suppression (owner {suppression.owner}): it matches no finding",
                )
            )
    return result
