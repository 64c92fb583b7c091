"""The HTML report in real headless Chromium.

The demo's staging report is opened at 1400 px and at 390 px (a phone), in light and dark mode,
and screenshots are written to reports/screenshots/ (the path is printed) for a reviewer to look
at. DOM assertions: what differs inside a value is marked, every finding shows why it matters,
nothing scrolls sideways on a phone, the copy buttons copy the documented text. Hostile data stays
inert: no dialog, no script, no request.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Browser, BrowserContext, Dialog, Page, ViewportSize

from driftcheck.config import Rules
from driftcheck.demo import run_demo
from driftcheck.model import DriftReport, Finding, FindingKind
from driftcheck.render.html import suppression_snippet
from driftcheck.render.interface import ReportFormat, write_reports
from tests.hostile import hostile_report
from tests.samples import sample_report

SCREENSHOTS = Path(__file__).resolve().parent.parent / "reports" / "screenshots"
PHONE: ViewportSize = {"width": 390, "height": 844}
LAPTOP: ViewportSize = {"width": 1400, "height": 900}


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DriftReport]:
    """The demo's staging-vs-production report, made by the real pipeline on the emulator."""
    out = tmp_path_factory.mktemp("demo")
    assert run_demo(out) == 0
    path = out / "staging-vs-production.html"
    report = DriftReport.model_validate_json((out / "staging-vs-production.json").read_text())
    return path, report


@pytest.fixture
def sample(tmp_path: Path) -> tuple[Path, DriftReport]:
    report = sample_report(tmp_path)
    [path] = write_reports(report, [ReportFormat.HTML], tmp_path, "sample")
    return path, report


def open_page(
    browser: Browser, path: Path, viewport: ViewportSize, dark: bool = False
) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport=viewport, color_scheme="dark" if dark else "light")
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(5000)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return context, page


def card(page: Page, finding: Finding) -> Any:
    return page.locator(f"#finding-{finding.id}")


def no_sideways_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def open_everything(page: Page) -> None:
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")


# Screenshots --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "viewport", "dark"),
    [("laptop-1400", LAPTOP, False), ("phone-390", PHONE, False), ("phone-390-dark", PHONE, True)],
)
def test_demo_report_screenshots(
    browser: Browser,
    demo_report: tuple[Path, DriftReport],
    capsys: pytest.CaptureFixture[str],
    name: str,
    viewport: ViewportSize,
    dark: bool,
) -> None:
    path, _report = demo_report
    context, page = open_page(browser, path, viewport, dark)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"staging-vs-production-{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert no_sideways_scroll(page)
    open_everything(page)
    assert no_sideways_scroll(page), "something scrolls sideways once every section is open"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert (background == "rgb(13, 17, 23)") is dark
    context.close()
    with capsys.disabled():
        print(f"\n  screenshot: {shot}")


# What the reader sees -----------------------------------------------------------------------------
def test_every_difference_inside_a_value_is_marked(
    browser: Browser, demo_report: tuple[Path, DriftReport]
) -> None:
    path, report = demo_report
    context, page = open_page(browser, path, LAPTOP)
    by_path = {(f.resource, f.path): f for f in report.findings}
    invoker = card(page, by_path[("service/us-central1/auth", "iam.roles/run.invoker")])
    # The one member added is marked on the checked side; the member both have is not.
    added = invoker.locator("[data-side=actual] [data-diff]")
    assert added.count() == 1
    assert added.get_attribute("data-diff") == "added"
    assert added.inner_text() == "allUsers"
    assert invoker.locator("[data-side=baseline] [data-diff]").count() == 0
    # Scalars are bare (no JSON quotes or braces) and marked on both sides.
    timeout = card(page, by_path[("service/us-central1/backend", "template.timeout")])
    assert timeout.locator("[data-side=baseline] [data-diff=changed]").inner_text() == "3600"
    assert timeout.locator("[data-side=actual] [data-diff=changed]").inner_text() == "300"
    # Inside a string, only the differing part: the connector's name, not its whole path.
    connector = card(
        page, by_path[("service/us-central1/backend", "template.vpc_access.connector")]
    )
    assert connector.locator("[data-side=baseline] [data-diff]").inner_text() == "data"
    assert connector.locator("[data-side=actual] [data-diff]").inner_text() == "legacy"
    # A variable gone from a map: its whole entry is marked removed.
    heartbeat = (
        "service/us-central1/backend",
        "template.containers.app.env.WS_HEARTBEAT_SECONDS",
    )
    removed = card(page, by_path[heartbeat]).locator("[data-side=baseline] [data-diff=removed]")
    assert removed.count() >= 1 and "25" in removed.first.inner_text()
    # Every difference shows at least one mark.
    for finding in report.findings:
        if finding.kind is not FindingKind.VIOLATION and finding.path:
            assert card(page, finding).locator("[data-diff]").count() >= 1, finding.path
    context.close()


def test_redacted_values_say_differs_and_show_the_fingerprint_on_demand(
    browser: Browser, sample: tuple[Path, DriftReport]
) -> None:
    path, report = sample
    context, page = open_page(browser, path, LAPTOP)
    signing = next(f for f in report.findings if "SESSION_SIGNING_KEY" in f.path)
    evidence = card(page, signing).locator("details.evidence")
    evidence.locator("> summary").click()
    fingerprints = evidence.locator("details.fp[data-fingerprint=differs]")
    assert fingerprints.count() == 2
    first = fingerprints.first
    assert first.locator("summary").inner_text() == "redacted, differs"
    assert not first.locator("code").is_visible()
    first.locator("summary").click()
    assert first.locator("code").inner_text().startswith("hmac-sha256:k=0a1b2c3d:")
    context.close()


def test_every_finding_shows_why_and_what_to_do(
    browser: Browser, demo_report: tuple[Path, DriftReport]
) -> None:
    path, report = demo_report
    context, page = open_page(browser, path, LAPTOP)
    open_everything(page)  # suppressed and ignored findings too
    for finding in report.findings:
        article = card(page, finding)
        assert finding.hint is not None
        assert article.locator(".why").inner_text() == f"Why it matters. {finding.hint.why}"
        if finding.hint.commands:
            assert article.locator("pre.command").inner_text() == "\n".join(finding.hint.commands)
        else:
            assert article.locator(".how").inner_text() == f"What to do. {finding.hint.how}"
    context.close()


def test_copy_buttons_copy_the_command_and_a_valid_suppression(
    browser: Browser, demo_report: tuple[Path, DriftReport]
) -> None:
    path, report = demo_report
    context, page = open_page(browser, path, LAPTOP)
    affinity = next(f for f in report.findings if f.path == "template.session_affinity")
    article = card(page, affinity)
    button = article.locator(".fix button.copy")
    button.click()
    article.locator(".fix button.copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == (
        "gcloud run services update backend --project=acme-staging --region=us-central1 "
        "--session-affinity"
    )
    assert button.inner_text() == "Copied"

    article.locator("details.suppress > summary").click()
    article.locator("details.suppress button.copy").click()
    page.wait_for_function("document.querySelector('details.suppress button.copied') !== null")
    snippet = page.evaluate("navigator.clipboard.readText()")
    assert snippet == suppression_snippet(affinity, report.generated_at)
    # Pasted under rules.suppress, it is a valid suppression of exactly this finding's value.
    (entry,) = yaml.safe_load(snippet)
    rules = Rules.model_validate({"suppress": [entry]})
    assert rules.suppress[0].id == affinity.id
    assert rules.suppress[0].accepted == affinity.actual is False
    context.close()


def test_phone_layout_reads_top_to_bottom(
    browser: Browser, demo_report: tuple[Path, DriftReport]
) -> None:
    path, report = demo_report
    context, page = open_page(browser, path, PHONE)
    open_everything(page)
    assert no_sideways_scroll(page)
    # Baseline and checked values stack; each keeps a readable width.
    timeout = next(f for f in report.findings if f.path == "template.timeout")
    boxes = card(page, timeout).locator(".value")
    first, second = boxes.nth(0).bounding_box(), boxes.nth(1).bounding_box()
    assert first is not None and second is not None
    assert second["y"] > first["y"] and first["width"] > 300
    # Numbers never break inside (2592000 stays on one line).
    rotation = next(f for f in report.findings if f.path == "rotation")
    number = card(page, rotation).locator(".v-int").first
    assert number.inner_text() == "2592000"
    assert page.evaluate("e => e.getClientRects().length", number.element_handle()) == 1
    # The projects and regions compared are on the page.
    compared = page.locator("#compared").inner_text()
    assert "acme-staging" in compared and "acme-prod" in compared and "us-central1" in compared
    context.close()


# Hostile data -------------------------------------------------------------------------------------
@pytest.fixture
def opened(browser: Browser, tmp_path: Path) -> Iterator[tuple[Page, dict[str, list[Any]]]]:
    [path] = write_reports(hostile_report(), [ReportFormat.HTML], tmp_path, "hostile")
    events: dict[str, list[Any]] = {"dialogs": [], "requests": [], "errors": [], "console": []}
    page = browser.new_page(viewport=PHONE)

    def on_dialog(dialog: Dialog) -> None:
        events["dialogs"].append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("request", lambda request: events["requests"].append(request.url))
    page.on("pageerror", lambda error: events["errors"].append(str(error)))
    page.on("console", lambda message: events["console"].append(message.text))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    yield page, events
    page.close()


def visible_cards(page: Page) -> int:
    return int(page.locator("#findings article.finding:not(.hidden)").count())


def test_hostile_strings_do_not_execute(opened: tuple[Page, dict[str, list[Any]]]) -> None:
    page, events = opened
    open_everything(page)
    assert page.evaluate("window.__pwned === undefined")
    assert events["dialogs"] == []
    assert events["errors"] == []
    assert [url for url in events["requests"] if not url.startswith("file://")] == []
    assert page.locator("img").count() == 0
    assert page.locator("script").count() == 1
    assert page.locator("a").count() == 0
    findings = page.locator("#findings").inner_text()
    assert "<script>window.__pwned = 1" in findings
    assert "{{7*7}}" in findings  # template syntax is shown literally, not evaluated
    assert "<script>window.__pwned = 1" in page.locator("#coverage").inner_text()
    assert "<script>window.__pwned = 1" in page.locator("#errors").inner_text()
    assert "observed: <script>window.__pwned = 1" in page.locator("ul.evidence").inner_text()
    # Bidi controls are shown as replacement characters, never applied.
    assert "trusted\ufffdexe.txt\ufffdevil\ufffd" in findings
    assert not re.search("[\u202a-\u202e\u2066-\u2069]", page.content())
    assert no_sideways_scroll(page)


def test_severity_resource_and_search_filters(opened: tuple[Page, dict[str, list[Any]]]) -> None:
    page, _events = opened
    total = visible_cards(page)
    assert total == 12
    assert page.locator("#shown-count").inner_text() == "12"

    page.locator("input[data-filter-severity][value='high']").uncheck()
    assert visible_cards(page) == 11
    assert page.locator("#findings article[data-severity='high']:not(.hidden)").count() == 0
    page.locator("input[data-filter-severity][value='high']").check()

    page.select_option("#filter-resource", "service/backend")
    assert visible_cards(page) == 1
    assert page.locator("#shown-count").inner_text() == "1"
    page.select_option("#filter-resource", "")

    page.fill("#filter-search", "javascript:")
    assert visible_cards(page) == 1
    shown = page.locator("#findings article.finding:not(.hidden)").inner_text()
    assert "javascript:alert(3)" in shown
    page.fill("#filter-search", "")
    assert visible_cards(page) == total
