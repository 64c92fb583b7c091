"""Markdown report, fit for $GITHUB_STEP_SUMMARY and pull-request comments.

Every value is escaped so that it can neither break the table nor inject HTML.
"""

from __future__ import annotations

import json
from typing import Any

from driftcheck.model import DriftReport, Finding
from driftcheck.render.terminal import neutralize

_MARKDOWN_SPECIAL = str.maketrans(
    {
        "|": "\\|",
        "<": "&lt;",
        ">": "&gt;",
        "&": "&amp;",
        "`": "\\`",
        "*": "\\*",
        "_": "\\_",
        "[": "\\[",
        "]": "\\]",
        "\n": " ",
        "\r": " ",
    }
)
_MAX_CELL = 200


def cell(value: Any) -> str:
    """A value made safe for one Markdown table cell."""
    text = (
        value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    )
    text = neutralize(text)
    if len(text) > _MAX_CELL:
        text = text[: _MAX_CELL - 1] + "…"
    return text.translate(_MARKDOWN_SPECIAL)


def _row(finding: Finding) -> str:
    disposition = "suppressed" if finding.suppressed else "ignored" if finding.ignored else ""
    values = [
        finding.severity.value,
        finding.resource,
        finding.path or "(resource)",
        finding.kind.value,
        "" if finding.baseline is None else finding.baseline,
        "" if finding.actual is None else finding.actual,
        finding.message,
        f"{disposition}: {finding.reason}" if disposition else "",
    ]
    return "| " + " | ".join(cell(v) for v in values) + " |"


def _coverage(report: DriftReport) -> list[str]:
    """What was compared, per kind and region."""
    if not report.coverage:
        return ["**Nothing was compared.**", ""]
    lines = [
        "### Coverage",
        "",
        "| kind | region | baseline | actual | matched | only in baseline | only in actual "
        "| not compared |",
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
    return [*lines, ""]


def render(report: DriftReport) -> str:
    """The whole Markdown report."""
    s = report.summary
    lines = [
        f"## driftcheck: {cell(report.environment)} vs {cell(report.baseline.environment)} "
        f"— {report.status.value}",
        "",
        f"**{s.critical}** critical · **{s.high}** high · **{s.medium}** medium · "
        f"**{s.low}** low · **{s.info}** info · {s.suppressed} suppressed · {s.ignored} ignored",
        "",
    ]
    lines += _coverage(report)
    if report.errors:
        lines += ["### Not read or not compared (the report is incomplete)", ""]
        lines += [
            f"- {cell(e.resource)}{' ' + cell(e.path) if e.path else ''} ({cell(e.source)}): "
            f"{cell(e.message)}"
            for e in report.errors
        ]
        lines.append("")
    if report.findings:
        lines += [
            "| severity | resource | path | kind | baseline | actual | message | disposition |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [_row(f) for f in report.findings]
    else:
        lines.append("No findings.")
    p = report.provenance
    lines += [
        "",
        f"<sub>baseline {cell(report.baseline.path)} (sha256 {report.baseline.sha256[:12]}) · "
        f"driftcheck {cell(p.tool_version)} · collected by {cell(p.principal)} · "
        f"{cell(report.generated_at)}</sub>",
        "",
    ]
    return "\n".join(lines)
