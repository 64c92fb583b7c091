"""Reports: JSON against its schema, the terminal plan and the Markdown against golden files, the
Markdown as GitHub renders it (cmark-gfm), hostile data in every format, and the registry.

Golden files live in tests/golden/; after an intended change, regenerate them with
``DRIFTCHECK_UPDATE_GOLDEN=1 pytest tests/test_reports.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import cmarkgfm
import jsonschema
import pytest
from cmarkgfm.cmark import Options

from driftcheck.errors import UsageError
from driftcheck.model import DriftReport, FindingKind, Severity
from driftcheck.render import markdown
from driftcheck.render.interface import ReportFormat, parse_formats, write_reports
from driftcheck.render.terminal import color_wanted, render_summary
from driftcheck.render.text import neutralize
from driftcheck.schemas import SCHEMA_MODELS, SCHEMAS_DIR, schema_text
from tests.hostile import HOSTILE, hostile_report
from tests.samples import sample_report

GOLDEN = Path(__file__).parent / "golden"
PATHS = [Path("reports/staging-vs-production.json"), Path("reports/staging-vs-production.html")]
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def golden(name: str, text: str) -> None:
    """Compare ``text`` with tests/golden/``name`` (or rewrite it when asked to)."""
    path = GOLDEN / name
    if os.environ.get("DRIFTCHECK_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from tests/golden/{name}"


@pytest.fixture
def sample(tmp_path: Path) -> DriftReport:
    return sample_report(tmp_path)


def github_html(text: str) -> str:
    """Markdown as GitHub renders it: cmark-gfm with its extensions (autolinks, tables), raw
    HTML kept, so that anything the data could inject would show up here."""
    return cmarkgfm.github_flavored_markdown_to_html(text, options=Options.CMARK_OPT_UNSAFE)


class Elements(HTMLParser):
    """Every start tag with its attributes, the text inside <code> elements, and all text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.code: list[str] = []
        self.text = ""
        self._in_code = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "code":
            self._in_code += 1
            self.code.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "code":
            self._in_code -= 1

    def handle_data(self, data: str) -> None:
        self.text += data
        if self._in_code:
            self.code[-1] += data


def elements(html_text: str) -> Elements:
    parser = Elements()
    parser.feed(html_text)
    return parser


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
    assert parse_formats("md, json,md,sarif") == [
        ReportFormat.MD,
        ReportFormat.JSON,
        ReportFormat.SARIF,
    ]
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
        "hint",
    }
    assert DriftReport.model_validate(document) == hostile_report()


# Terminal -----------------------------------------------------------------------------------------
def test_terminal_reads_like_a_plan(sample: DriftReport) -> None:
    text = render_summary(sample, PATHS, exit_code=1)
    golden("terminal.txt", text + "\n")
    lines = text.splitlines()
    assert lines[0] == "driftcheck: staging (acme-staging) vs production (acme-prod): DRIFT"
    assert "  ~ service/us-central1/auth" in lines
    assert "    ~ critical iam.roles/run.invoker: + allUsers  14991bb117324ea8" in lines
    assert lines[-1].startswith("Drift: ") and "; exit 1. Next: run driftcheck hints " in lines[-1]
    # Suppressed and ignored findings are counted, not listed.
    assert "DOCS_URL" not in text and "scaling" not in text


def test_terminal_colour_is_only_for_terminals(sample: DriftReport) -> None:
    coloured = render_summary(sample, PATHS, exit_code=1, color=True)
    golden("terminal-color.txt", coloured.replace("\x1b", "\\e") + "\n")
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == render_summary(sample, PATHS, exit_code=1)

    class Tty:
        def __init__(self, tty: bool) -> None:
            self.tty = tty

        def isatty(self) -> bool:
            return self.tty

    assert color_wanted(Tty(True), environ={}) is True
    assert color_wanted(Tty(False), environ={}) is False
    assert color_wanted(Tty(True), environ={"NO_COLOR": "1"}) is False
    assert color_wanted(Tty(True), environ={"NO_COLOR": ""}) is True  # no-color.org: non-empty
    assert color_wanted(Tty(True), no_color=True, environ={}) is False


def test_terminal_summary_neutralises_every_control_character() -> None:
    summary = render_summary(hostile_report(), [Path("reports/\x1b]0;pwn\x07.json")])
    assert not CONTROL.search(summary)
    assert "\ufffd[31mred" in summary
    assert "trusted\ufffdexe.txt\ufffdevil\ufffd" in summary
    # One line per element: no newline from the data starts a line of its own.
    assert all(not line.startswith(("```sh", "rm -rf")) for line in summary.splitlines())


# Markdown -----------------------------------------------------------------------------------------
def test_markdown_golden(sample: DriftReport) -> None:
    golden("report.md", markdown.render(sample, environ={}))


def test_markdown_is_a_verdict_then_one_collapsible_section_per_resource(
    sample: DriftReport,
) -> None:
    text = markdown.render(sample, environ={})
    lines = text.splitlines()
    page = elements(github_html(text))
    shown = page.text
    assert lines[0] == "## ⚠️ driftcheck: staging vs production — drift"
    assert lines[2].startswith("**🔴 2 critical · 🟠 7 high · 🟡 4 medium · 🔵 1 low · ⚪ 0 info**")
    assert "compared 1 probe, 1 secret, 2 service in us-central1" in shown
    summaries = [line for line in lines if line.startswith("<details><summary><b>")]
    assert [s.split("</b>")[0].removeprefix("<details><summary><b>") for s in summaries] == [
        "service/us-central1/auth",
        "service/us-central1/backend",
        "probe/backend-ws",
        "secret/e2e-bypass-key",
    ]
    assert sum(1 for tag, _ in page.tags if tag == "details") == 6  # 4 + set aside + coverage
    # No wide findings table: the one table is the coverage, inside its collapsed section.
    assert sum(1 for tag, _ in page.tags if tag == "table") == 1
    assert text.index("| kind | region |") > text.index("<summary>Coverage")
    # Before -> after, compact: an added invoker is `+ allUsers`, not two whole lists.
    assert "🔴 critical ~ iam.roles/run.invoker: + allUsers 14991bb117324ea8" in shown
    assert "template.timeout: 3600 → 300" in shown
    # Each finding says why, and how to fix it, in a copyable code block.
    assert "Why: Session affinity keeps a client on the same instance" in shown
    fix = (
        "gcloud run services update backend --project=acme-staging --region=us-central1 "
        "--session-affinity\n"
    )
    assert fix in page.code
    # Suppressed and ignored findings stand apart, with their reasons.
    before, aside = shown.split("Suppressed and ignored", 1)
    assert "docs v2 rolls out to staging first" in aside
    assert "staging scales to zero between test runs" in aside
    assert "DOCS_URL" not in before


def test_markdown_links_to_the_html_artifact_on_github(sample: DriftReport) -> None:
    environ = {
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/platform",
        "GITHUB_RUN_ID": "4242",
    }
    page = elements(github_html(markdown.render(sample, environ=environ)))
    links = [attrs.get("href") for tag, attrs in page.tags if tag == "a"]
    assert links == ["https://github.com/acme/platform/actions/runs/4242#artifacts"]
    assert markdown.artifacts_link({**environ, "GITHUB_RUN_ID": "1) [x](javascript:y"}) is None


def test_markdown_renders_hostile_data_as_text_without_links(tmp_path: Path) -> None:
    report = hostile_report()
    text = markdown.render(report, environ={})
    assert not CONTROL.search(text)
    page = elements(github_html(text))
    tags = {tag for tag, _ in page.tags}
    assert tags <= {
        "h2",
        "h3",
        "p",
        "strong",
        "em",
        "code",
        "pre",
        "ul",
        "li",
        "details",
        "summary",
        "b",
        "sub",
        "span",
        "blockquote",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    }, tags
    # No link at all: URLs, www. hosts and e-mail addresses from the data stay text.
    assert "a" not in tags and "img" not in tags and "script" not in tags
    assert sum(1 for tag, attrs in page.tags if tag == "details" and "open" in attrs) == 0
    # Hostile values are there, literally; no tag from the data is in the file at all.
    assert "<script>window.__pwned = 1; alert(1)</script>" in page.code
    assert "see https://evil.example.com/x and www.evil.example.com or ops@evil.example.com" in (
        page.text
    )
    assert "<script" not in text and "<img" not in text and "<a " not in text
    # The coverage table keeps its shape.
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    header_cells = rows[0].count(" | ")
    for row in rows:
        assert row.replace("\\|", "").count(" | ") == header_cells, row


def test_markdown_stays_under_githubs_step_summary_limit(sample: DriftReport) -> None:
    finding = next(f for f in sample.findings if f.path == "template.timeout")
    many = [
        finding.model_copy(
            update={"id": f"{i:016x}", "resource": f"service/us-central1/svc-{i // 40:04d}"}
        )
        for i in range(6000)
    ]
    big = sample.model_copy(update={"findings": many})
    text = markdown.render(big, environ={})
    assert markdown.MAX_BYTES - 4096 < len(text.encode("utf-8")) <= markdown.MAX_BYTES
    assert len(text.encode("utf-8")) < 1024 * 1024
    shown = text.count("<sub><code>")
    assert 0 < shown < len(many)
    assert f"> **Truncated:** {len(many) - shown} findings are not shown" in text
    assert text.count("<details>") == text.count("</details>")
    assert text.rstrip().endswith("</sub>")  # the footer (coverage, provenance) is kept


# HTML (without a browser; see test_html_browser.py) -----------------------------------------------
def test_html_is_escaped_and_self_contained() -> None:
    html = ReportFormat.HTML.renderer(hostile_report())
    for text in HOSTILE[:2]:
        assert text not in html
    assert "&lt;script&gt;window.__pwned" in html
    assert 'http-equiv="Content-Security-Policy"' in html
    assert "<img" not in html and "<link" not in html  # no external assets, no injected tags
    assert html.count("<script>") == 1
    # Bidi controls never reach the page raw (they would reorder what is shown).
    assert not re.search("[\u202a-\u202e\u2066-\u2069\u200e\u200f]", html)
    assert "trusted\ufffdexe.txt" in html


def test_neutralize_covers_c0_c1_bidi_and_separators() -> None:
    for char in ["\x00", "\x07", "\n", "\r", "\t", "\x1b", "\x7f", "\x9b", "\u202e", "\u2066"]:
        assert neutralize(f"a{char}b") == "a\ufffdb", repr(char)
    assert neutralize("ünïcödé → ok") == "ünïcödé → ok"


def test_every_finding_kind_has_a_symbol_and_every_severity_a_badge() -> None:
    from driftcheck.render import terminal

    assert set(terminal.SYMBOLS) == set(FindingKind) == set(markdown.SYMBOLS)
    assert set(markdown.BADGES) == set(Severity)
