"""What a catalogue is made of: rules that say how much a difference matters and why, advice for
violations, and the rules that tell which findings share a cause.

Each resource kind brings its own rules (``driftcheck/kinds/<kind>/catalogue.py``); the rules here
hold for every kind. ``severity`` looks a finding up in all of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from driftcheck.model import Severity
from driftcheck.remedies import Remedy

PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})

Escalation = Callable[[Any, Any], bool]


@dataclass(frozen=True)
class Advice:
    """Why a finding matters, how to fix it in words, and the remedy that computes the command."""

    why: str
    how: str = ""
    remedy: Remedy | None = None


@dataclass(frozen=True)
class CatalogueRule:
    """``severity`` for findings at ``resource``/``path``; ``escalate_to`` when ``when`` holds."""

    name: str
    resource: str
    path: str
    severity: Severity
    escalate_to: Severity | None = None
    when: Escalation | None = None
    advice: Advice | None = None

    def matches(self, resource: str, path: str) -> bool:
        """Whether this rule covers the finding."""
        return fnmatchcase(resource, self.resource) and fnmatchcase(path, self.path)

    def severity_for(self, baseline: Any, actual: Any) -> Severity:
        """The rule's severity, escalated when its condition holds."""
        if self.escalate_to is not None and self.when is not None and self.when(baseline, actual):
            return self.escalate_to
        return self.severity


@dataclass(frozen=True)
class ViolationAdvice:
    """Advice for a violation rule (``rule`` of a violation finding), with the severity the
    rule usually reports (violations set their own; this one is what SARIF calls the default)."""

    name: str
    severity: Severity
    advice: Advice


# One fact, one finding ------------------------------------------------------------------------
CauseKeys = Callable[[str, "re.Match[str]"], list[str]]

UserKeys = Callable[[Any, Any], list[str]]


@dataclass(frozen=True)
class CauseRule:
    """Findings at ``resource``/``path`` (a regular expression) stem from the causes that
    ``keys`` names; findings that share any cause are one finding (see ``merge``)."""

    name: str
    resource: str
    path: re.Pattern[str]
    keys: CauseKeys
    follows: bool = False  # only joins a cause that another finding establishes
    from_values: UserKeys | None = None  # keys read from the finding's values instead

    def causes(
        self, resource: str, path: str, baseline: Any = None, actual: Any = None
    ) -> list[str]:
        """The cause keys of a finding, or none when the rule does not apply."""
        if not fnmatchcase(resource, self.resource):
            return []
        match = self.path.fullmatch(path)
        if match is None:
            return []
        if self.from_values is not None:
            return self.from_values(baseline, actual)
        return self.keys(resource, match)


def named(name: str) -> CauseKeys:
    """Keys ``<name>:<resource>``: every matching finding of a resource shares one cause."""
    return lambda resource, match: [f"{name}:{resource}"]


def used_by(baseline: Any, actual: Any) -> list[str]:
    """A resource on one side only joins the finding of the resources that use it."""
    value = actual if isinstance(actual, dict) else baseline
    users = value.get("used_by") if isinstance(value, dict) else None
    if not isinstance(users, list):
        return []
    keys = [f"presence:{str(user).split(':', 1)[0]}" for user in users]
    return keys + [f"secret-reference:{user}" for user in users]


PRESENCE = Advice(
    "The resource exists on one side only: what depends on it has nothing to reach in one "
    "environment, and a release tested against one topology meets another.",
    "Create it from the baseline's definition (for Cloud Run: gcloud run services describe … "
    "--format export, then gcloud run services replace), or remove the extra one once nothing "
    "uses it.",
)

OTHER = Advice("A configuration field differs from the baseline.")

LABELS = Advice(
    "Labels are metadata (billing, ownership, automation selectors); they change no behaviour "
    "unless a tool selects by them.",
    "Set the labels the baseline has.",
)

GENERIC_HEAD: tuple[CatalogueRule, ...] = (
    CatalogueRule("resource-presence", "*", "", Severity.HIGH, advice=PRESENCE),
)
GENERIC_TAIL: tuple[CatalogueRule, ...] = (
    CatalogueRule("labels", "*", "labels*", Severity.INFO, advice=LABELS),
    CatalogueRule("other", "*", "*", Severity.LOW, advice=OTHER),
)
GENERIC_VIOLATIONS: tuple[ViolationAdvice, ...] = (
    ViolationAdvice(
        "rules.suppress",
        Severity.LOW,
        Advice(
            "A suppression in driftcheck.yaml has expired or matches no finding: what it "
            "covered is judged again, or the rule is dead weight.",
            "Renew it with a new expiry (and the value accepted), or remove it.",
        ),
    ),
)
GENERIC_CAUSES: tuple[CauseRule, ...] = (
    # A resource on one side only: everything that refers to it elsewhere follows from that.
    CauseRule("presence", "*", re.compile(""), named("presence")),
    CauseRule(
        "presence", "*", re.compile(""), named("presence"), follows=True, from_values=used_by
    ),
)
