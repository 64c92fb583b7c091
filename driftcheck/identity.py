"""Identity across environments: resource keys, neutral names, and what "literally equal" means.

Two environments spell the same thing differently (``api-prod`` / ``api-stg``, ``acme-prod`` /
``acme-staging``, ``us-central1`` / ``us-east1``). A :class:`Neutralizer` replaces an
environment's own spellings by placeholders, matching whole tokens only: a token is a run of
letters and digits, so ``prod`` matches in ``api-prod`` and ``api.prod`` but never inside
``my-product-db``. The same neutral form is used for resource keys and for values.

Regional resources are keyed ``<kind>/<region alias>/<name>``: the alias is the region itself
unless the config names it (``regions: {primary: us-central1}``), so adding a region never
re-keys the resources already there, and two environments are compared on the aliases they share.

An :class:`IdentityContext` undoes the neutralization of one side, so that two values that were
literally identical before neutralization (staging deploying production's image from production's
registry) are recognised as equal whatever neutralization did to them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

PROJECT = "${project}"
REGION = "${region}"
# Kinds whose resources live in a region; every other kind is global (``<kind>/<name>``).
REGIONAL_KINDS = frozenset({"service", "job", "worker-pool", "connector", "redis", "sql"})
GLOBAL_REGION = "global"
_DIGEST = re.compile(r"@(sha256:[0-9a-f]{64})$")
# A Google-managed service agent of a project: service-<project number>@gcp-sa-<api>.iam...
_SERVICE_AGENT = re.compile(r"(?<=\bservice-)([0-9]+)(?=@gcp-sa-)")


def _token(literal: str) -> str:
    """A pattern for ``literal`` that never starts or ends inside a word."""
    start = r"(?<![A-Za-z0-9])" if literal[:1].isalnum() else ""
    end = r"(?![A-Za-z0-9])" if literal[-1:].isalnum() else ""
    return f"{start}{re.escape(literal)}{end}"


@dataclass(frozen=True)
class Neutralizer:
    """Replaces an environment's own names (project, region, mapped tokens) by placeholders.

    Every replacement happens in one pass over whole tokens, so a placeholder is never matched
    again and ``my-product-db`` is untouched by ``{"prod": "${env}"}``.
    """

    project: str
    region: str | None = None
    project_number: str | None = None
    name_map: Mapping[str, str] | None = None

    def __call__(self, text: str) -> str:
        pattern, placeholders = self._pattern
        text = pattern.sub(lambda match: placeholders[match.group(0)], text)
        if self.project_number is None and "@gcp-sa-" in text:
            # Without a configured number, a service agent is taken to be the project's own.
            text = _SERVICE_AGENT.sub(PROJECT, text)
        return text

    @cached_property
    def _pattern(self) -> tuple[re.Pattern[str], dict[str, str]]:
        placeholders = dict(self.name_map or {})
        placeholders[self.project] = PROJECT
        if self.project_number:
            placeholders[self.project_number] = PROJECT
        if self.region:
            placeholders[self.region] = REGION
        literals = sorted((t for t in placeholders if t), key=len, reverse=True)
        return re.compile("|".join(_token(t) for t in literals)), placeholders


def resource_key(kind: str, name: str, region_alias: str | None = None) -> str:
    """``service/primary/api`` for regional kinds, ``secret/name`` for global ones."""
    if kind in REGIONAL_KINDS:
        if region_alias is None:
            raise ValueError(f"a {kind} key needs a region")
        return f"{kind}/{region_alias}/{name}"
    return f"{kind}/{name}"


@dataclass(frozen=True)
class ResourceKey:
    """A snapshot key split into kind, region alias (``global`` for global kinds) and name."""

    kind: str
    region: str
    name: str

    @classmethod
    def parse(cls, key: str) -> ResourceKey:
        """Split ``key``; keys without a kind prefix are of kind ``other``."""
        kind, _, rest = key.partition("/")
        if kind in REGIONAL_KINDS and "/" in rest:
            region, _, name = rest.partition("/")
            return cls(kind, region, name)
        return cls(kind if rest else "other", GLOBAL_REGION, rest or key)


@dataclass(frozen=True)
class IdentityContext:
    """How one side spelled its names before neutralization: used to undo it."""

    project: str
    project_number: str | None = None
    regions: Mapping[str, str] = field(default_factory=dict)
    name_map: Mapping[str, str] = field(default_factory=dict)

    def crossed(self, other: IdentityContext, region_alias: str | None) -> Neutralizer:
        """A neutralizer of this side's project and region with the other side's name_map."""
        return _crossed(self, other, region_alias)

    def spellings(self, text: str, region_alias: str | None) -> set[str]:
        """Every literal spelling that neutralizes to ``text`` on this side (usually one)."""
        if "${" not in text:
            return {text}
        region = self.regions.get(region_alias or "")
        results = {text}
        substitutions: list[tuple[str, list[str]]] = [
            (PROJECT, [self.project, *([self.project_number] if self.project_number else [])]),
        ]
        if region:
            substitutions.append((REGION, [region]))
        reverse: dict[str, list[str]] = {}
        for literal, neutral in self.name_map.items():
            reverse.setdefault(neutral, []).append(literal)
        substitutions.extend(sorted(reverse.items()))
        for placeholder, literals in substitutions:
            results = {
                candidate.replace(placeholder, literal)
                for candidate in results
                for literal in literals
            }
        return results


def _crossed(
    owner: IdentityContext, other: IdentityContext, region_alias: str | None
) -> Neutralizer:
    return Neutralizer(
        project=owner.project,
        region=owner.regions.get(region_alias or ""),
        project_number=owner.project_number,
        name_map=other.name_map,
    )


def image_digest(value: str) -> str | None:
    """The ``sha256:`` digest an image reference pins, if any."""
    match = _DIGEST.search(value)
    return match.group(1) if match else None


def literally_equal(
    before: Any,
    after: Any,
    base: IdentityContext,
    actual: IdentityContext,
    region_alias: str | None,
) -> bool:
    """Whether two neutral values were the same thing before neutralization.

    Strings are equal when some literal spelling of each side matches, or when both pin the
    same image digest; lists and maps are equal element by element.
    """
    if isinstance(before, str) and isinstance(after, str):
        if before == after:
            return True
        digests = image_digest(before), image_digest(after)
        if digests[0] is not None and digests[1] is not None:
            return digests[0] == digests[1]
        before_spellings = base.spellings(before, region_alias)
        after_spellings = actual.spellings(after, region_alias)
        if before_spellings & after_spellings:
            return True
        # One side names the other's project (a shared registry, a Shared VPC host) while its
        # own tokens still vary: neutralize its literal with the other side's project.
        return any(
            base.crossed(actual, region_alias)(spelling) == before for spelling in after_spellings
        ) or any(
            actual.crossed(base, region_alias)(spelling) == after for spelling in before_spellings
        )
    if isinstance(before, list) and isinstance(after, list):
        if len(before) != len(after):
            return False
        remaining = list(after)
        for item in before:
            match = next(
                (
                    i
                    for i, other in enumerate(remaining)
                    if literally_equal(item, other, base, actual, region_alias)
                ),
                None,
            )
            if match is None:
                return False
            remaining.pop(match)
        return True
    if isinstance(before, dict) and isinstance(after, dict):
        return before.keys() == after.keys() and all(
            literally_equal(before[k], after[k], base, actual, region_alias) for k in before
        )
    return bool(before == after)
