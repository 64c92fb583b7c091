"""The registry of report formats: an Enum mapping each format to its renderer."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

from driftcheck.errors import ReportError, UsageError
from driftcheck.model import DriftReport
from driftcheck.yamlio import write_text_atomic

Renderer = Callable[[DriftReport], str]


class ReportFormat(StrEnum):
    """Formats that ``--format`` accepts; each maps to one renderer and one file suffix."""

    JSON = "json"
    HTML = "html"
    MD = "md"

    @property
    def renderer(self) -> Renderer:
        """The function that renders a report in this format."""
        from driftcheck.render import html, json, markdown

        renderers: dict[ReportFormat, Renderer] = {
            ReportFormat.JSON: json.render,
            ReportFormat.HTML: html.render,
            ReportFormat.MD: markdown.render,
        }
        return renderers[self]


def parse_formats(text: str) -> list[ReportFormat]:
    """``"json,html"`` -> formats, in order, without repeats."""
    formats: list[ReportFormat] = []
    for part in (piece.strip() for piece in text.split(",")):
        if not part:
            continue
        try:
            fmt = ReportFormat(part)
        except ValueError:
            known = ", ".join(f.value for f in ReportFormat)
            raise UsageError(f"--format: unknown format {part!r} (known: {known})") from None
        if fmt not in formats:
            formats.append(fmt)
    if not formats:
        raise UsageError("--format: name at least one format")
    return formats


def report_stem(environment: str, base_environment: str) -> str:
    """``<ENV>-vs-<BASE>``, the name every report file of a check shares."""
    return f"{environment}-vs-{base_environment}"


def write_reports(
    report: DriftReport, formats: list[ReportFormat], out_dir: Path, stem: str
) -> list[Path]:
    """Render every format first, then write each atomically; return the paths written."""
    rendered = [(out_dir / f"{stem}.{fmt.value}", fmt.renderer(report)) for fmt in formats]
    for path, text in rendered:
        write_text_atomic(path, text)
    return [path for path, _text in rendered]


def refuse_to_overwrite_evidence(formats: list[ReportFormat], out_dir: Path, stem: str) -> None:
    """Refuse (before writing anything) when a report of this set exists and is not itself a
    reproduction: the report of a ``check`` is evidence and is never replaced by ``diff``."""
    for fmt in formats:
        path = out_dir / f"{stem}.{fmt.value}"
        if path.exists() and not _is_reproduction(out_dir / f"{stem}.json"):
            raise ReportError(
                f"{path}: a report made by `driftcheck check` is there; diff writes "
                "reproductions elsewhere (choose another --out-dir)"
            )


def _is_reproduction(json_report: Path) -> bool:
    try:
        report = DriftReport.model_validate_json(json_report.read_bytes())
    except (OSError, ValueError):
        return False
    return report.provenance.reproduction_of is not None
