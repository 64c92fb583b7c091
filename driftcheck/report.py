"""Assembling a DriftReport and deciding the exit code."""

from __future__ import annotations

from collections import Counter

from driftcheck import __version__
from driftcheck.model import (
    BaselineRef,
    CollectionErrorRecord,
    Coverage,
    DriftReport,
    Finding,
    Provenance,
    Severity,
    Status,
    Summary,
)

EXIT_CLEAN = 0
EXIT_DRIFT = 1
EXIT_INPUT = 2
EXIT_INCOMPLETE = 3


def summarize(findings: list[Finding]) -> Summary:
    """Active findings by severity, plus suppressed and ignored counts."""
    active = Counter(f.severity.value for f in findings if f.active)
    return Summary(
        **{severity.value: active.get(severity.value, 0) for severity in Severity},
        suppressed=sum(1 for f in findings if f.suppressed),
        ignored=sum(1 for f in findings if f.ignored and not f.suppressed),
    )


def status_of(findings: list[Finding], errors: list[CollectionErrorRecord]) -> Status:
    """incomplete beats drift beats clean; info findings alone are clean."""
    if errors:
        return Status.INCOMPLETE
    if any(f.active and f.severity is not Severity.INFO for f in findings):
        return Status.DRIFT
    return Status.CLEAN


def build_report(
    environment: str,
    baseline: BaselineRef,
    findings: list[Finding],
    errors: list[CollectionErrorRecord],
    provenance: Provenance,
    generated_at: str,
    coverage: list[Coverage] | None = None,
) -> DriftReport:
    """The report, with findings sorted by severity, resource and path."""
    ordered = sorted(findings, key=lambda f: (-f.severity.rank, f.resource, f.path, f.kind.value))
    return DriftReport(
        tool_version=__version__,
        generated_at=generated_at,
        environment=environment,
        baseline=baseline,
        status=status_of(findings, errors),
        summary=summarize(findings),
        coverage=coverage or [],
        findings=ordered,
        errors=sorted(set(errors), key=lambda e: (e.resource, e.source, e.path or "", e.message)),
        provenance=provenance,
    )


def exit_code(report: DriftReport, fail_on: Severity) -> int:
    """3 when incomplete; 1 when an active finding reaches ``fail_on``; else 0. Info never fails."""
    if report.status is Status.INCOMPLETE:
        return EXIT_INCOMPLETE
    threshold = max(fail_on.rank, Severity.LOW.rank)
    if any(f.active and f.severity.rank >= threshold for f in report.findings):
        return EXIT_DRIFT
    return EXIT_CLEAN
