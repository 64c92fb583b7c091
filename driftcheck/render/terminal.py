"""The short terminal summary printed on stderr, with control characters neutralised."""

from __future__ import annotations

import re
from pathlib import Path

from driftcheck.model import DriftReport

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SHOWN = 10


def neutralize(text: str) -> str:
    """Replace terminal control characters (escape sequences, bidi overrides) by U+FFFD."""
    return _CONTROL.sub("\ufffd", text)


def render_summary(report: DriftReport, paths: list[Path]) -> str:
    """A few lines: status, counts, the most severe findings, errors, report paths."""
    s = report.summary
    lines = [
        f"driftcheck: {neutralize(report.environment)} vs {neutralize(report.baseline.environment)}"
        f": {report.status.value.upper()}",
        f"  compared {coverage_line(report)}",
        f"  {s.critical} critical, {s.high} high, {s.medium} medium, {s.low} low, {s.info} info"
        f" ({s.suppressed} suppressed, {s.ignored} ignored)",
    ]
    active = [f for f in report.findings if f.active]
    lines.extend(
        f"  [{f.severity.value}] {f.id} {neutralize(f.resource)}: {neutralize(f.message)}"
        for f in active[:_SHOWN]
    )
    if len(active) > _SHOWN:
        lines.append(f"  … and {len(active) - _SHOWN} more")
    lines.extend(
        f"  [incomplete] {neutralize(e.resource)}"
        f"{' (' + neutralize(e.path) + ')' if e.path else ''}: {neutralize(e.message)}"
        for e in report.errors
    )
    lines += [f"  report: {path}" for path in paths]
    return "\n".join(lines)


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
