"""Hints: why a finding matters, and the commands that bring the checked environment back.

The catalogue (``severity``) says why each kind of finding matters and names its remedy
(``remedies``); this module applies them to a finding with what only the snapshots know: the
checked environment's real project, regions and names (undoing neutralization), and facts such as
the newest enabled version of a secret. Every argument is quoted for a POSIX shell. Commands are
text for people to review: driftcheck never runs them.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from functools import cached_property

from driftcheck.catalogue import OTHER, Advice
from driftcheck.identity import PROJECT, REGION, ResourceKey
from driftcheck.model import Evidence, Finding, FindingKind, Hint, Snapshot
from driftcheck.remedies import Change, Fix
from driftcheck.severity import catalogue_rule, violation_advice

# gcloud command groups by the kind of the resource a fix acts on.
_GROUPS = {"service": "regional", "secret": "global"}
_SERVICE_AGENT = "service-" + PROJECT + "@"


@dataclass(frozen=True)
class HintContext:
    """The snapshots a report was judged from: the checked one, and the baseline."""

    checked: Snapshot
    baseline: Snapshot

    @property
    def cross_environment(self) -> bool:
        """Whether the baseline is another environment's."""
        return self.checked.environment != self.baseline.environment

    @cached_property
    def _name_map(self) -> list[tuple[re.Pattern[str], str]]:
        """Neutral token -> the checked environment's literal (the first, when several)."""
        reverse: dict[str, list[str]] = {}
        for literal, neutral in self.checked.name_map.items():
            reverse.setdefault(neutral, []).append(literal)
        return [
            (re.compile(_whole(neutral)), sorted(literals)[0])
            for neutral, literals in sorted(reverse.items(), key=lambda item: -len(item[0]))
        ]

    def realize(self, text: str, region_alias: str | None = None) -> str:
        """``text`` as the checked environment spells it: placeholders and name_map tokens
        replaced by its own project, region and names."""
        if self.checked.project_number:
            text = text.replace(_SERVICE_AGENT, f"service-{self.checked.project_number}@")
        text = text.replace(PROJECT, self.checked.project)
        region = self.checked.regions.get(region_alias or "")
        if region:
            text = text.replace(REGION, region)
        for pattern, literal in self._name_map:
            text = pattern.sub(literal.replace("\\", "\\\\"), text)
        return text


def _whole(token: str) -> str:
    """A pattern for ``token`` that never starts or ends inside a word (as identity does)."""
    start = r"(?<![A-Za-z0-9])" if token[:1].isalnum() else ""
    end = r"(?![A-Za-z0-9])" if token[-1:].isalnum() else ""
    return f"{start}{re.escape(token)}{end}"


def advice_for(resource: str, path: str, kind: FindingKind, rule: str | None) -> Advice:
    """The catalogue's advice for a finding: a violation's by its rule, a difference's by the
    catalogue rule that covers its path (whatever severity rule the config applied)."""
    if kind is FindingKind.VIOLATION:
        entry = violation_advice(rule)
        if entry is not None:
            return entry.advice
    return catalogue_rule(resource, path).advice or OTHER


def hint_for(finding: Finding, context: HintContext | None) -> Hint:
    """Why ``finding`` matters and, with the snapshots, the commands that undo it.

    The finding's own remedy comes first; when it has none, the remedies of its evidence (the
    other observations of the same fact) are used.
    """
    advice = advice_for(finding.resource, finding.path, finding.kind, finding.rule)
    commands: list[str] = []
    if context is not None:
        commands = _commands(_remedying(finding, finding.rule), _change(finding, context), context)
        for part in [] if commands else finding.evidence:
            for command in _commands(_remedying(part, None), _change(part, context), context):
                if command not in commands:
                    commands.append(command)
    return Hint(why=advice.why, commands=commands, how=advice.how or None)


def _remedying(observation: Finding | Evidence, rule: str | None) -> Advice | None:
    """The advice whose remedy undoes ``observation``: a difference's catalogue rule, or a
    violation's own rule (a violation is no difference: a difference's remedy does not fit)."""
    if observation.kind is FindingKind.VIOLATION:
        entry = violation_advice(rule)
        return entry.advice if entry is not None else None
    return catalogue_rule(observation.resource, observation.path).advice


def _change(observation: Finding | Evidence, context: HintContext) -> Change:
    return Change(
        resource=observation.resource,
        path=observation.path,
        kind=observation.kind,
        baseline=observation.baseline,
        actual=observation.actual,
        checked=context.checked.resources,
        approved=context.baseline.resources,
        cross_environment=context.cross_environment,
    )


def _commands(advice: Advice | None, change: Change, context: HintContext) -> list[str]:
    if advice is None or advice.remedy is None:
        return []
    commands: list[str] = []
    for fix in advice.remedy(change):
        command = command_line(fix, change.resource, context)
        if command is not None and command not in commands:
            commands.append(command)
    return commands


def command_line(fix: Fix, resource: str, context: HintContext) -> str | None:
    """The shell command of ``fix``; None when the target's real place is unknown."""
    key = ResourceKey.parse(fix.target or resource)
    scope = _GROUPS.get(key.kind)
    if scope is None:
        return None
    alias = key.region if scope == "regional" else None
    argv = [
        "gcloud",
        *fix.verb,
        context.realize(key.name, alias),
        f"--project={context.checked.project}",
    ]
    if alias is not None:
        region = context.checked.regions.get(alias)
        if region is None:
            return None
        argv.append(f"--region={region}")
    argv += [context.realize(flag, alias) for flag in fix.flags]
    return shlex.join(argv)
