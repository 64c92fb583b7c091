"""Markdown for pull requests and ``$GITHUB_STEP_SUMMARY``.

A one-line verdict with counts and coverage; what each side is; the gaps of an incomplete run;
then one collapsible ``<details>`` section per resource with a compact before → after list (never
a wide table that scrolls off a step summary), each finding with why it matters and the command
that undoes it; suppressed and ignored findings apart; the coverage table; provenance. When
``GITHUB_SERVER_URL``, ``GITHUB_REPOSITORY`` and ``GITHUB_RUN_ID`` are set, a link to the run's
artifacts (the HTML report). The text stays under GitHub's 1 MiB step-summary limit: past it,
findings are left out with a note saying how many.

Data never becomes markup: every character that Markdown or GitHub would act on is escaped
(see :func:`literal`), so text from the data is shown exactly, as text or as ``<code>``, never as
a link (GitHub autolinks URLs, ``www.`` hosts and e-mail addresses), a tag, emphasis or a table
cell break; text inside HTML tags is HTML-escaped. Control and bidi characters are neutralized
first.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Mapping
from itertools import groupby
from typing import Any
from urllib.parse import quote

from driftcheck.model import DriftReport, Finding, FindingKind, Severity
from driftcheck.render.terminal import coverage_line
from driftcheck.render.text import (
    abbreviate,
    is_redacted,
    list_changes,
    neutralize,
    plain,
    violation_text,
)

# GitHub's step summary limit is 1 MiB; stay a little below it.
MAX_BYTES = 1024 * 1024 - 8 * 1024
VALUE_LIMIT = 120
BADGES = {
    Severity.CRITICAL: "🔴",
    Severity.HIGH: "🟠",
    Severity.MEDIUM: "🟡",
    Severity.LOW: "🔵",
    Severity.INFO: "⚪",
}
SYMBOLS = {
    FindingKind.CHANGED: "~",
    FindingKind.ADDED: "+",
    FindingKind.REMOVED: "−",
    FindingKind.VIOLATION: "!",
}
STATUS_BADGES = {"clean": "✅", "drift": "⚠️", "incomplete": "❓"}
# Every ASCII punctuation character may be backslash-escaped in CommonMark; escaping them all
# keeps text from becoming emphasis, links, tables or headings, and the escaped ":" and "." keep
# GitHub from autolinking "https://…" and "www.…". An "@" between two text nodes is never an
# e-mail link. "<", ">" and "&" become entities, so no tag can form.
_LITERAL = str.maketrans(
    {
        **{c: "\\" + c for c in "!\"#$%'()*+,-./:;=?[\\]^_`{|}~"},
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "@": "<span>@</span>",
    }
)


def literal(text: str) -> str:
    """``text`` as Markdown that GitHub shows exactly: no markup, no link, no HTML."""
    return neutralize(text).translate(_LITERAL)


def code(text: str) -> str:
    """``text`` shown as code, literally (a backtick span would keep ``<script>`` raw in the
    Markdown; this keeps the file free of any tag the data could bring)."""
    return f"<code>{literal(text)}</code>"


def prose(text: str) -> str:
    """Free text from the data, shown literally."""
    return literal(text)


def cell(value: Any) -> str:
    """A value made safe for one Markdown table cell (pipes escaped like everything else)."""
    return literal(abbreviate(plain(value), 200))


def _tag_text(text: str) -> str:
    """Text inside an HTML tag (``<summary>``)."""
    return html.escape(neutralize(text), quote=True)


def value_change(finding: Finding) -> str:
    """What changed, with every value a code span: `a` → `b`, + `allUsers`, key: `a` → `b`."""
    return _change(finding.kind, finding.baseline, finding.actual)


def _value(value: Any) -> str:
    return code(abbreviate(plain(value), VALUE_LIMIT))


def _change(kind: FindingKind, baseline: Any, actual: Any) -> str:
    if is_redacted(baseline) and is_redacted(actual):
        same = baseline.get("fingerprint") == actual.get("fingerprint")
        return "redacted value, same" if same else "redacted value differs"
    if kind is FindingKind.ADDED or (baseline is None and actual is not None):
        return f"+ {_value(actual)}" if actual is not None else "added"
    if kind is FindingKind.REMOVED or (actual is None and baseline is not None):
        return f"− {_value(baseline)}" if baseline is not None else "removed"
    if isinstance(baseline, list) and isinstance(actual, list):
        removed, added = list_changes(baseline, actual)
        parts = [f"+ {_value(item)}" for item in added] + [f"− {_value(item)}" for item in removed]
        return ", ".join(parts) if parts else "same items, another order"
    if isinstance(baseline, dict) and isinstance(actual, dict):
        parts = []
        for key in sorted(set(baseline) | set(actual)):
            if key not in actual:
                parts.append(f"− {code(key)}")
            elif key not in baseline:
                parts.append(f"+ {code(key)}: {_value(actual[key])}")
            elif baseline[key] != actual[key]:
                parts.append(f"{code(key)}: {_change(kind, baseline[key], actual[key])}")
        return "; ".join(parts) if parts else "same"
    return f"{_value(baseline)} → {_value(actual)}"


def _fenced(lines: list[str], indent: str) -> list[str]:
    body = [neutralize(line) for line in lines]
    runs = [len(run) for line in body for run in re.findall(r"`+", line)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return [f"{indent}{fence}sh", *(f"{indent}{line}" for line in body), f"{indent}{fence}"]


def _finding(finding: Finding, report: DriftReport, with_resource: bool = False) -> list[str]:
    """One finding as a list item: the change and its id, then why, the fix, the disposition."""
    badge = f"{BADGES[finding.severity]} **{finding.severity.value}**"
    where = code(finding.path) if finding.path else "the resource"
    if with_resource:
        where += f" of {code(finding.resource)}"
    if finding.kind is FindingKind.VIOLATION:
        what = prose(violation_text(finding))
    elif not finding.path:
        what = (
            f"only in {prose(report.environment)}"
            if finding.kind is FindingKind.ADDED
            else f"in the baseline, missing in {prose(report.environment)}"
        )
    else:
        what = value_change(finding)
    lines = [f"- {badge} {SYMBOLS[finding.kind]} {where}: {what} <sub>{code(finding.id)}</sub>"]
    if not finding.active:
        disposition = "Suppressed" if finding.suppressed else "Ignored"
        lines.append(f"  - **{disposition}:** {prose(finding.reason or '')}")
    hint = finding.hint
    if hint is not None:
        lines.append(f"  - **Why:** {prose(hint.why)}")
        if hint.commands:
            lines.append("  - **Fix:**")
            lines += _fenced(hint.commands, "    ")
        elif hint.how:
            lines.append(f"  - **What to do:** {prose(hint.how)}")
    return lines


def _counts_line(report: DriftReport) -> str:
    s = report.summary
    counts = " · ".join(
        f"{BADGES[severity]} {getattr(s, severity.value)} {severity.value}" for severity in Severity
    )
    return (
        f"**{counts}** · {s.suppressed} suppressed · {s.ignored} ignored — compared "
        f"{prose(coverage_line(report))}"
    )


def _side(environment: str, project: str | None, regions: Mapping[str, str]) -> str:
    where = prose(environment)
    if project:
        where += f" in {code(project)}"
    if regions:
        where += (
            " ("
            + ", ".join(
                code(region) if alias == region else f"{code(alias)}: {code(region)}"
                for alias, region in sorted(regions.items())
            )
            + ")"
        )
    return where


def artifacts_link(environ: Mapping[str, str]) -> str | None:
    """The run's artifacts page on GitHub, when running in GitHub Actions."""
    server = environ.get("GITHUB_SERVER_URL", "")
    repository = environ.get("GITHUB_REPOSITORY", "")
    run_id = environ.get("GITHUB_RUN_ID", "")
    if not (server.startswith("https://") and repository and run_id.isdigit()):
        return None
    return quote(f"{server}/{repository}/actions/runs/{run_id}#artifacts", safe=":/#")


def _header(report: DriftReport, environ: Mapping[str, str]) -> list[str]:
    status = report.status.value
    lines = [
        f"## {STATUS_BADGES[status]} driftcheck: {prose(report.environment)} vs "
        f"{prose(report.baseline.environment)} — {status}",
        "",
        _counts_line(report),
        "",
        f"Checked: {_side(report.environment, report.project, report.regions)}. Baseline: "
        f"{_side(report.baseline.environment, report.baseline.project, report.baseline.regions)}"
        f", {code(report.baseline.path)}.",
    ]
    link = artifacts_link(environ)
    if link is not None:
        lines += [
            "",
            f"Full report with side-by-side values: [HTML, in this run's artifacts]({link})",
        ]
    lines.append("")
    if report.errors:
        lines += [
            "> [!WARNING]",
            f"> **Incomplete:** {len(report.errors)} things could not be read or compared, so "
            "this verdict cannot be clean.",
            ">",
        ]
        lines += [
            f"> - {code(e.resource)}{' ' + code(e.path) if e.path else ''} "
            f"({prose(e.source)}): {prose(e.message)}"
            for e in report.errors
        ]
        lines.append("")
    return lines


def _resource_groups(findings: list[Finding]) -> list[tuple[str, list[Finding]]]:
    ordered = sorted(findings, key=lambda f: (f.resource, -f.severity.rank, f.path))
    groups = [(res, list(group)) for res, group in groupby(ordered, key=lambda f: f.resource)]
    return sorted(groups, key=lambda group: (-group[1][0].severity.rank, group[0]))


def _summary_counts(findings: list[Finding]) -> str:
    counts = [
        f"{n} {severity.value}"
        for severity in Severity
        if (n := sum(1 for f in findings if f.severity is severity))
    ]
    return " · ".join(counts)


def _footer(report: DriftReport) -> list[str]:
    lines = ["<details><summary>Coverage: what was compared</summary>", ""]
    if report.coverage:
        lines += [
            "| kind | region | baseline | actual | matched | only in baseline | "
            "only in actual | not compared |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for entry in report.coverage:
            values = [
                entry.kind,
                entry.region,
                entry.baseline,
                entry.actual,
                entry.matched,
                entry.only_in_baseline,
                entry.only_in_actual,
                len(entry.not_compared),
            ]
            lines.append("| " + " | ".join(cell(v) for v in values) + " |")
        not_compared = [n for entry in report.coverage for n in entry.not_compared]
        if not_compared:
            lines.append("")
            lines += [f"- not compared: {code(n.resource)}: {prose(n.why)}" for n in not_compared]
    else:
        lines.append("**Nothing was compared.**")
    p = report.provenance
    lines += [
        "",
        "</details>",
        "",
        f"<sub>baseline {code(report.baseline.path)} (sha256 "
        f"{code(report.baseline.sha256[:12])}) · driftcheck {prose(p.tool_version)} · "
        f"collected by {prose(p.principal)} · {prose(report.generated_at)}</sub>",
        "",
    ]
    return lines


class _Budget:
    """Bytes left before GitHub's limit."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def take(self, lines: list[str]) -> bool:
        size = sum(len(line.encode("utf-8")) + 1 for line in lines)
        if size > self.left:
            return False
        self.left -= size
        return True


def _section(
    title: str, findings: list[Finding], report: DriftReport, budget: _Budget, **kwargs: Any
) -> tuple[list[str], int]:
    """A ``<details>`` section with as many findings as the budget allows; how many were left."""
    head = [f"<details><summary>{title}</summary>", ""]
    tail = ["", "</details>", ""]
    if not budget.take(head + tail):
        return [], len(findings)
    lines = list(head)
    for index, finding in enumerate(findings):
        item = _finding(finding, report, **kwargs)
        if not budget.take(item):
            return [*lines, *tail], len(findings) - index
        lines += item
    return [*lines, *tail], 0


def render(report: DriftReport, environ: Mapping[str, str] | None = None) -> str:
    """The whole Markdown report, at most :data:`MAX_BYTES` long."""
    env = os.environ if environ is None else environ
    header, footer = _header(report, env), _footer(report)
    note_room = 1024
    budget = _Budget(
        MAX_BYTES - note_room - sum(len(line.encode("utf-8")) + 1 for line in header + footer)
    )
    active = [f for f in report.findings if f.active]
    set_aside = [f for f in report.findings if not f.active]
    body: list[str] = []
    left_out = 0
    if active:
        body += ["### Findings", ""]
        for resource, findings in _resource_groups(active):
            title = f"<b>{_tag_text(resource)}</b> · {_summary_counts(findings)}"
            section, missing = _section(title, findings, report, budget)
            body += section
            left_out += missing
    else:
        body += ["No active findings.", ""]
    if set_aside:
        title = f"Suppressed and ignored: {len(set_aside)} set aside by driftcheck.yaml"
        section, missing = _section(title, set_aside, report, budget, with_resource=True)
        body += ["### Suppressed and ignored", "", *section]
        left_out += missing
    if left_out:
        body += [
            f"> **Truncated:** {left_out} findings are not shown, to stay within GitHub's 1 MiB "
            "step-summary limit; every finding is in the JSON and HTML reports.",
            "",
        ]
    return "\n".join([*header, *body, *footer])
