"""The HTML report in real headless Chromium: filters work, hostile data stays inert."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Dialog, Page

from driftcheck.render.interface import ReportFormat, write_reports
from tests.hostile import hostile_report


@pytest.fixture
def opened(browser: Browser, tmp_path: Path) -> Iterator[tuple[Page, dict[str, list[Any]]]]:
    [path] = write_reports(hostile_report(), [ReportFormat.HTML], tmp_path, "hostile")
    events: dict[str, list[Any]] = {"dialogs": [], "requests": [], "errors": [], "console": []}
    page = browser.new_page()

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


def visible_rows(page: Page) -> int:
    return int(page.locator("#findings tr.finding:not(.hidden)").count())


def test_hostile_strings_do_not_execute(opened: tuple[Page, dict[str, list[Any]]]) -> None:
    page, events = opened
    assert page.evaluate("window.__pwned === undefined")
    assert events["dialogs"] == []
    assert events["errors"] == []
    assert [url for url in events["requests"] if not url.startswith("file://")] == []
    assert page.locator("img").count() == 0
    assert page.locator("script").count() == 1
    assert "<script>window.__pwned = 1" in page.locator("#findings").inner_text()
    # template syntax is shown literally, not evaluated
    assert "{{7*7}}" in page.locator("#findings").inner_text()
    # the coverage, the gaps and a finding's evidence are shown literally too
    assert "<script>window.__pwned = 1" in page.locator("#coverage").inner_text()
    assert "<script>window.__pwned = 1" in page.locator("#errors").inner_text()
    assert "observed: <script>window.__pwned = 1" in page.locator("ul.evidence").inner_text()


def test_severity_resource_and_search_filters(opened: tuple[Page, dict[str, list[Any]]]) -> None:
    page, _events = opened
    total = visible_rows(page)
    assert total == 8
    assert page.locator("#shown-count").inner_text() == "8"

    page.locator("input[data-filter-severity][value='high']").uncheck()
    assert visible_rows(page) == 7
    assert page.locator("#findings tr.finding[data-severity='high']:not(.hidden)").count() == 0
    page.locator("input[data-filter-severity][value='high']").check()

    page.select_option("#filter-resource", "service/backend")
    assert visible_rows(page) == 1
    assert page.locator("#shown-count").inner_text() == "1"
    page.select_option("#filter-resource", "")

    page.fill("#filter-search", "javascript:")
    assert visible_rows(page) == 1
    assert "javascript:alert(3)" in page.locator("#findings tr.finding:not(.hidden)").inner_text()
    page.fill("#filter-search", "")
    assert visible_rows(page) == total
