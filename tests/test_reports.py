"""Reports: JSON against its schema, Markdown escaping, terminal neutralising, and the registry."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from driftcheck.errors import UsageError
from driftcheck.model import DriftReport
from driftcheck.render import markdown
from driftcheck.render.interface import ReportFormat, parse_formats, write_reports
from driftcheck.render.terminal import render_summary
from driftcheck.schemas import SCHEMA_MODELS, SCHEMAS_DIR, schema_text
from tests.hostile import HOSTILE, hostile_report


@pytest.mark.parametrize("name", sorted(SCHEMA_MODELS))
def test_committed_schemas_are_not_stale(name: str) -> None:
    committed = (SCHEMAS_DIR / name).read_text(encoding="utf-8")
    assert committed == schema_text(SCHEMA_MODELS[name]), (
        f"schemas/{name} is stale: run `make schemas`"
    )


def test_every_format_maps_to_a_renderer() -> None:
    report = hostile_report()
    for fmt in ReportFormat:
        assert isinstance(fmt.renderer(report), str)
    assert parse_formats("md, json,md") == [ReportFormat.MD, ReportFormat.JSON]
    with pytest.raises(UsageError):
        parse_formats("xml")


def test_json_report_validates_against_the_published_schema(tmp_path: Path) -> None:
    [path] = write_reports(hostile_report(), [ReportFormat.JSON], tmp_path, "r")
    document = json.loads(path.read_text(encoding="utf-8"))
    schema = json.loads((SCHEMAS_DIR / "report.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(document, schema)
    assert document["status"] == "incomplete"
    assert set(document) >= {
        "schema_version",
        "tool_version",
        "generated_at",
        "environment",
        "baseline",
        "status",
        "summary",
        "findings",
        "errors",
    }
    assert set(document["findings"][0]) >= {
        "id",
        "resource",
        "path",
        "kind",
        "severity",
        "baseline",
        "actual",
        "message",
        "rule",
        "suppressed",
    }
    assert DriftReport.model_validate(document) == hostile_report()


def test_markdown_keeps_its_table_shape_and_escapes_html() -> None:
    text = markdown.render(hostile_report())
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    header_cells = rows[0].count(" | ")
    for row in rows:
        unescaped_pipes = row.replace("\\|", "").count(" | ")
        assert unescaped_pipes == header_cells, row
    assert "<script>" not in text and "<img" not in text and "<b>" not in text
    assert "\x1b" not in text and "\x07" not in text
    assert "&lt;script&gt;" in text


def test_terminal_summary_neutralises_escape_sequences() -> None:
    summary = render_summary(hostile_report(), [])
    assert "\x1b" not in summary and "\x07" not in summary
    assert "\ufffd[31mred" in summary


def test_html_is_escaped_and_self_contained() -> None:
    html = ReportFormat.HTML.renderer(hostile_report())
    for text in HOSTILE[:2]:
        assert text not in html
    assert "&lt;script&gt;window.__pwned" in html
    assert 'http-equiv="Content-Security-Policy"' in html
    assert "<img" not in html and "<link" not in html  # no external assets, no injected tags
    assert html.count("<script>") == 1
