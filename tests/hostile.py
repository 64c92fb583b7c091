"""Hostile strings for markup-injection tests, and a report that carries them everywhere."""

from __future__ import annotations

from driftcheck.compare import make_finding
from driftcheck.model import (
    BaselineRef,
    CollectionErrorRecord,
    Coverage,
    DriftReport,
    Evidence,
    FindingKind,
    NotCompared,
    Provenance,
    Severity,
)
from driftcheck.report import build_report

HOSTILE = [
    "<script>window.__pwned = 1; alert(1)</script>",
    '"><img src=x onerror="window.__pwned=2;alert(2)">',
    "javascript:alert(3)",
    "{{7*7}}{% raw %}${7*7}",
    "a | b | c\n| --- |",
    "\x1b[31mred\x1b[0m\x07",
    "<a href='http://198.51.100.7/x'>link</a>",
]
# Text that would render as something else in a report: bidi controls that reorder what is shown
# ("Trojan Source"), what GitHub turns into links, markup that closes a Markdown section or opens a
# code block. Only reports carry these (hostile_report), not the estates of other tests.
REPORT_HOSTILE = [
    "trusted\u202eexe.txt\u2066evil\u2069",
    "see https://evil.example.com/x and www.evil.example.com or ops@evil.example.com",
    "</summary></details><details open><summary>",
    "```\n```sh\nrm -rf /tmp/x\n```",
]


def hostile_report() -> DriftReport:
    """A report whose every string field carries a hostile value."""
    findings = [
        make_finding(
            resource=f"service/{text}",
            path=f"template.containers.{text}.env.X",
            kind=FindingKind.CHANGED,
            baseline={"value": text},
            actual=[text, "ok"],
            message=f"changed: {text}",
        )
        for text in [*HOSTILE, *REPORT_HOSTILE]
    ]
    timeout = make_finding(
        "service/backend",
        "template.timeout",
        FindingKind.CHANGED,
        3600,
        300,
        "template.timeout changed",
        severity=Severity.HIGH,
    )
    evidence = [
        Evidence(
            resource=f"probe/{text}",
            path=f"defects.{text}",
            kind=FindingKind.VIOLATION,
            severity=Severity.MEDIUM,
            actual=text,
            message=f"observed: {text}",
        )
        # Not the javascript: URL: the HTML search-filter test expects one row to mention it.
        for text in [*HOSTILE, *REPORT_HOSTILE]
        if not text.startswith("javascript:")
    ]
    findings.append(timeout.model_copy(update={"evidence": evidence}))
    errors = [
        CollectionErrorRecord(source=text, resource=f"service/{text}", path=text, message=text)
        for text in [*HOSTILE, *REPORT_HOSTILE]
    ]
    coverage = [
        Coverage(
            kind=text,
            region=text,
            baseline=1,
            actual=1,
            matched=1,
            only_in_baseline=0,
            only_in_actual=0,
            not_compared=[NotCompared(resource=f"service/{text}", why=text)],
        )
        for text in [*HOSTILE, *REPORT_HOSTILE]
    ]
    return build_report(
        environment="<b>staging</b>",
        baseline=BaselineRef(
            environment="prod<script>",
            path="baselines/<x>.yaml",
            sha256="0" * 64,
            collected_at="2026-01-01T00:00:00Z",
        ),
        findings=findings,
        errors=errors,
        provenance=Provenance(tool_version="test", principal=HOSTILE[1], command=HOSTILE[0]),
        generated_at="2026-01-01T00:00:00Z",
        coverage=coverage,
    )
