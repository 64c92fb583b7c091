"""Looking findings up in the catalogue: severity, advice and shared causes.

The catalogue is the rules that hold for every kind (``catalogue``) around the rules each
registered resource kind brings. Rules are tried in order and the first match wins; a kind's rules
only match its own resources, so kinds never shadow each other.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from driftcheck.catalogue import (
    GENERIC_CAUSES,
    GENERIC_HEAD,
    GENERIC_TAIL,
    GENERIC_VIOLATIONS,
    Advice,
    CatalogueRule,
    CauseRule,
    ViolationAdvice,
)
from driftcheck.model import FindingKind, Severity

__all__ = [
    "Advice",
    "catalogue",
    "catalogue_rule",
    "causes",
    "causes_of",
    "classify",
    "violation_advice",
    "violations",
]


@cache
def catalogue() -> tuple[CatalogueRule, ...]:
    """Every severity rule, in the order they are tried."""
    from driftcheck.kinds import KINDS

    return (*GENERIC_HEAD, *(rule for kind in KINDS for rule in kind.catalogue), *GENERIC_TAIL)


@cache
def violations() -> tuple[ViolationAdvice, ...]:
    """The advice of every violation rule."""
    from driftcheck.kinds import KINDS

    return (*(entry for kind in KINDS for entry in kind.violation_advice), *GENERIC_VIOLATIONS)


@cache
def causes() -> tuple[CauseRule, ...]:
    """Every rule that says which findings share a cause."""
    from driftcheck.kinds import KINDS

    return (*GENERIC_CAUSES, *(rule for kind in KINDS for rule in kind.causes))


def classify(
    resource: str, path: str, kind: FindingKind, baseline: Any, actual: Any
) -> tuple[Severity, str]:
    """Severity and rule name for a finding, from the first matching catalogue rule."""
    for rule in catalogue():
        if rule.matches(resource, path):
            return rule.severity_for(baseline, actual), rule.name
    return Severity.LOW, "other"


def catalogue_rule(resource: str, path: str) -> CatalogueRule:
    """The first catalogue rule that covers ``resource``/``path`` (``other`` at the end)."""
    return next(rule for rule in catalogue() if rule.matches(resource, path))


def violation_advice(rule: str | None) -> ViolationAdvice | None:
    """The advice of a violation rule: by name, else by its family (``token-claim:…``,
    ``rules.suppress[2]``)."""
    if rule is None:
        return None
    for entry in violations():
        if rule == entry.name:
            return entry
    family = re.split(r"[:\[]", rule, maxsplit=1)[0]
    return next((entry for entry in violations() if entry.name == family), None)


def causes_of(
    resource: str, path: str, baseline: Any = None, actual: Any = None
) -> tuple[list[str], list[str]]:
    """The cause keys a finding at ``resource``/``path`` establishes, and those it only joins
    when another finding establishes them."""
    own: list[str] = []
    joined: list[str] = []
    for rule in causes():
        keys = rule.causes(resource, path, baseline, actual)
        (joined if rule.follows else own).extend(keys)
    return own, joined
