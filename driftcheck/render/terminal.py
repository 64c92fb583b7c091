"""The summary printed on stderr, read like ``terraform plan``.

Per resource, one line per active finding with a symbol (``~`` changed, ``+`` added, ``-``
removed, ``!`` violation), its severity, its path, what changed (lists and maps by their
differing items only, long values cut in the middle) and its id, for writing a suppression. The
gaps that make a run incomplete follow, then the counts, the files written, and a last line with
the verdict, the exit code and the next step. Colour only on a terminal, never with ``NO_COLOR``
or ``--no-color``. Every piece of data is neutralized: no control character from the data reaches
the terminal.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from itertools import groupby
from pathlib import Path
from typing import Protocol

from driftcheck.model import DriftReport, Finding, FindingKind, Severity, Status
from driftcheck.render.text import describe_change, neutralize, violation_text

SHOWN = 25
SYMBOLS = {
    FindingKind.CHANGED: "~",
    FindingKind.ADDED: "+",
    FindingKind.REMOVED: "-",
    FindingKind.VIOLATION: "!",
}
_RESET = "\x1b[0m"
_STYLES = {
    "~": "\x1b[33m",
    "+": "\x1b[32m",
    "-": "\x1b[31m",
    "!": "\x1b[1;35m",
    Severity.CRITICAL.value: "\x1b[1;31m",
    Severity.HIGH.value: "\x1b[31m",
    Severity.MEDIUM.value: "\x1b[33m",
    Severity.LOW.value: "\x1b[36m",
    Severity.INFO.value: "\x1b[2m",
    "dim": "\x1b[2m",
    "bold": "\x1b[1m",
    Status.CLEAN.value: "\x1b[1;32m",
    Status.DRIFT.value: "\x1b[1;33m",
    Status.INCOMPLETE.value: "\x1b[1;35m",
}
_SEVERITY_WIDTH = max(len(s.value) for s in Severity)


class _Stream(Protocol):
    def isatty(self) -> bool: ...


def color_wanted(
    stream: _Stream, no_color: bool = False, environ: Mapping[str, str] | None = None
) -> bool:
    """Colour on a terminal unless ``--no-color`` or ``NO_COLOR`` (no-color.org) says not."""
    env = os.environ if environ is None else environ
    if no_color or env.get("NO_COLOR", ""):
        return False
    return bool(stream.isatty())


class _Paint:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, style: str, text: str) -> str:
        if not self.color or style not in _STYLES:
            return text
        return f"{_STYLES[style]}{text}{_RESET}"


def _symbol(findings: list[Finding]) -> str:
    kinds = {f.kind for f in findings}
    return SYMBOLS[kinds.pop()] if len(kinds) == 1 else "~"


def _presence(finding: Finding, report: DriftReport) -> str:
    """A resource on one side only, said in words."""
    if finding.kind is FindingKind.ADDED:
        return f"only in {report.environment}, not in the baseline"
    return f"in the baseline ({report.baseline.environment}), missing here"


def finding_line(finding: Finding, paint: _Paint, report: DriftReport) -> str:
    """``    ~ high     template.timeout: 3600 -> 300  4a6b3320f48888e8``"""
    symbol = SYMBOLS[finding.kind]
    severity = finding.severity.value
    if finding.kind is FindingKind.VIOLATION:
        change = violation_text(finding)
    elif not finding.path:
        change = _presence(finding, report)
    else:
        change = describe_change(finding.kind, finding.baseline, finding.actual, arrow="->")
    return (
        f"    {paint(symbol, symbol)} {paint(severity, severity.ljust(_SEVERITY_WIDTH))} "
        f"{neutralize(finding.path or '(resource)')}: {neutralize(change)}  "
        f"{paint('dim', finding.id)}"
    )


def _groups(findings: list[Finding]) -> list[tuple[str, list[Finding]]]:
    """Findings by resource, the resources with the most severe findings first."""
    ordered = sorted(findings, key=lambda f: (f.resource, -f.severity.rank, f.path))
    groups = [(res, list(group)) for res, group in groupby(ordered, key=lambda f: f.resource)]
    return sorted(groups, key=lambda group: (-group[1][0].severity.rank, group[0]))


def _counts(report: DriftReport) -> str:
    s = report.summary
    return (
        f"{s.critical} critical, {s.high} high, {s.medium} medium, {s.low} low, {s.info} info"
        f" ({s.suppressed} suppressed, {s.ignored} ignored)"
    )


def _side(environment: str, project: str | None) -> str:
    return neutralize(environment) + (f" ({neutralize(project)})" if project else "")


def render_summary(
    report: DriftReport, paths: list[Path], exit_code: int | None = None, color: bool = False
) -> str:
    """The whole summary: header, plan of active findings, gaps, counts, files, verdict."""
    from driftcheck.report import exit_code as code_of

    paint = _Paint(color)
    code = code_of(report, Severity.LOW) if exit_code is None else exit_code
    status = report.status.value
    lines = [
        f"driftcheck: {_side(report.environment, report.project)} vs "
        f"{_side(report.baseline.environment, report.baseline.project)}: "
        f"{paint(status, status.upper())}",
        f"  compared {coverage_line(report)}",
    ]
    active = [f for f in report.findings if f.active]
    shown = 0
    for resource, findings in _groups(active):
        if shown >= SHOWN:
            break
        symbol = _symbol(findings)
        lines.append(f"  {paint(symbol, symbol)} {paint('bold', neutralize(resource))}")
        lines.extend(finding_line(finding, paint, report) for finding in findings[: SHOWN - shown])
        shown += min(len(findings), SHOWN - shown)
    if len(active) > shown:
        lines.append(f"  … and {len(active) - shown} more in the reports")
    lines.extend(
        f"  {paint(Status.INCOMPLETE.value, '[incomplete]')} {neutralize(e.resource)}"
        f"{' (' + neutralize(e.path) + ')' if e.path else ''}: {neutralize(e.message)}"
        for e in report.errors
    )
    lines.append(f"  {_counts(report)}")
    lines += [f"  report: {neutralize(str(path))}" for path in paths]
    lines.append(verdict_line(report, paths, code, paint))
    return "\n".join(lines)


def verdict_line(report: DriftReport, paths: list[Path], code: int, paint: _Paint) -> str:
    """The last line: what the run concluded, its exit code, and what to do next."""
    active = [f for f in report.findings if f.active]
    by_kind = {kind: sum(1 for f in active if f.kind is kind) for kind in FindingKind}
    json_path = next((p for p in paths if p.suffix == ".json"), None)
    html_path = next((p for p in paths if p.suffix == ".html"), None)
    steps = []
    if report.status is Status.INCOMPLETE:
        head = f"Incomplete: {len(report.errors)} not read or not compared (above)"
        steps.append("fix access or config for what is missing and run again")
    elif report.status is Status.DRIFT:
        parts = [
            f"{by_kind[FindingKind.CHANGED]} changed",
            f"{by_kind[FindingKind.ADDED]} added",
            f"{by_kind[FindingKind.REMOVED]} removed",
            f"{by_kind[FindingKind.VIOLATION]} violations",
        ]
        head = f"Drift: {', '.join(parts)}"
    else:
        head = "Clean: nothing at or above the threshold differs from the baseline"
    if active and json_path is not None:
        steps.append(f"run driftcheck hints {neutralize(str(json_path))}")
    if active and html_path is not None:
        steps.append(f"open {neutralize(str(html_path))}")
    next_step = f" Next: {'; '.join(steps)}." if steps else ""
    return f"{paint(report.status.value, head)}; exit {code}.{next_step}"


def coverage_line(report: DriftReport) -> str:
    """One line on what was compared: matched resources per kind, and what stood on one side."""
    kinds: dict[str, list[int]] = {}
    for entry in report.coverage:
        totals = kinds.setdefault(entry.kind, [0, 0, 0, 0])
        totals[0] += entry.matched
        totals[1] += entry.only_in_baseline
        totals[2] += entry.only_in_actual
        totals[3] += len(entry.not_compared)
    if not kinds:
        return "nothing"
    parts = []
    for kind, (matched, only_base, only_actual, skipped) in sorted(kinds.items()):
        extra = [
            f"{n} {label}"
            for n, label in (
                (only_base, "only in baseline"),
                (only_actual, "only in actual"),
                (skipped, "not compared"),
            )
            if n
        ]
        parts.append(f"{matched} {neutralize(kind)}" + (f" ({', '.join(extra)})" if extra else ""))
    regions = sorted({e.region for e in report.coverage if e.region != "global"})
    where = f" in {', '.join(neutralize(r) for r in regions)}" if regions else ""
    return ", ".join(parts) + where
