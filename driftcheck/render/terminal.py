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
        f"  {s.critical} critical, {s.high} high, {s.medium} medium, {s.low} low, {s.info} info"
        f" ({s.suppressed} suppressed, {s.ignored} ignored)",
    ]
    active = [f for f in report.findings if f.active]
    lines.extend(
        f"  [{f.severity.value}] {neutralize(f.resource)}: {neutralize(f.message)}"
        for f in active[:_SHOWN]
    )
    if len(active) > _SHOWN:
        lines.append(f"  … and {len(active) - _SHOWN} more")
    lines.extend(
        f"  [not collected] {neutralize(e.resource)}: {neutralize(e.message)}"
        for e in report.errors
    )
    lines += [f"  report: {path}" for path in paths]
    return "\n".join(lines)
