"""Assembling a DriftReport (with each finding's hint) and deciding the exit code."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from pydantic import ValidationError

from driftcheck import __version__
from driftcheck.errors import InputError
from driftcheck.hints import HintContext, hint_for
from driftcheck.model import (
    BaselineRef,
    CollectionErrorRecord,
    Coverage,
    DriftReport,
    Finding,
    Provenance,
    Severity,
    Snapshot,
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
    compared: tuple[Snapshot, Snapshot] | None = None,
) -> DriftReport:
    """The report, with findings sorted by severity, resource and path.

    ``compared`` is (baseline, checked snapshot): with it, the report names the projects and
    regions of both sides and each hint's commands use the checked environment's real names.
    """
    context = HintContext(checked=compared[1], baseline=compared[0]) if compared else None
    hinted = [f.model_copy(update={"hint": hint_for(f, context)}) for f in findings]
    ordered = sorted(hinted, key=lambda f: (-f.severity.rank, f.resource, f.path, f.kind.value))
    if compared is not None:
        baseline = baseline.model_copy(
            update={"project": compared[0].project, "regions": compared[0].regions}
        )
    return DriftReport(
        tool_version=__version__,
        generated_at=generated_at,
        environment=environment,
        project=compared[1].project if compared else None,
        regions=compared[1].regions if compared else {},
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


MAX_REPORT_BYTES = 64 * 1024 * 1024


def read_report(path: Path) -> DriftReport:
    """A JSON report written by driftcheck; any problem is one InputError naming the file."""
    try:
        if path.stat().st_size > MAX_REPORT_BYTES:
            raise InputError(f"{path}: report is larger than {MAX_REPORT_BYTES} bytes")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: report not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: report is a directory, not a file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read report: {exc.strerror}") from None
    try:
        return DriftReport.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(document)"
        raise InputError(f"{path}: not a driftcheck JSON report: {where}: {first['msg']}") from None
