"""``driftcheck hints REPORT``: a report's remedies as a reviewable POSIX shell script.

One comment block per active finding (severity, id, resource, path, what changed, why it matters)
followed by its commands, or by what to do in words where Cloud Run has no single command. Every
value in a comment is neutralized, so that no newline in the data can end a comment and start a
command; every argument of a command was quoted when the hint was made (``hints``).
"""

from __future__ import annotations

from driftcheck.model import DriftReport, Finding, FindingKind
from driftcheck.render.text import describe_change, neutralize, violation_text


def _comment(text: str) -> str:
    return "# " + neutralize(text)


def _change_line(finding: Finding) -> str:
    if finding.kind is FindingKind.VIOLATION:
        return violation_text(finding)
    if not finding.path:
        return "only here" if finding.kind is FindingKind.ADDED else "in the baseline only"
    return describe_change(finding.kind, finding.baseline, finding.actual, arrow="->")


def _block(finding: Finding) -> list[str]:
    where = f"{finding.resource} {finding.path or '(resource)'}"
    lines = [
        _comment(f"[{finding.severity.value}] {finding.id} {where}"),
        _comment(f"  {_change_line(finding)}"),
    ]
    hint = finding.hint
    if hint is None:
        return [*lines, _comment("  (no hint in this report)"), ""]
    lines.append(_comment(f"  Why: {hint.why}"))
    if hint.commands:
        lines += [neutralize(command) for command in hint.commands]
    else:
        lines.append(_comment(f"  What to do (no single command): {hint.how or 'see the report'}"))
    return [*lines, ""]


def render(report: DriftReport) -> str:
    """The script: a header saying what it is, then one block per active finding."""
    active = [f for f in report.findings if f.active]
    with_commands = sum(1 for f in active if f.hint and f.hint.commands)
    set_aside = len(report.findings) - len(active)
    lines = [
        "#!/bin/sh",
        _comment(
            f"driftcheck hints: {report.environment} vs {report.baseline.environment}, "
            f"report of {report.generated_at} ({report.status.value})"
        ),
        _comment(
            f"{len(active)} active findings, {with_commands} with commands that bring "
            f"{report.environment}{' (' + report.project + ')' if report.project else ''} "
            "back to its baseline."
        ),
        "# Review every command before running it; driftcheck never runs them.",
    ]
    if set_aside:
        lines.append(_comment(f"{set_aside} suppressed or ignored findings are not listed."))
    lines += ["set -eu", ""]
    for finding in active:
        lines += _block(finding)
    return "\n".join(lines) + "\n"
