"""The web UI in real headless Chromium (Debian's, driven by Playwright): log in, search, filter,
open a record, move a proposal, claim a triage item; screenshots at 1366×768 and tablet width."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import Served

pytestmark = pytest.mark.browser

PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artefacts"
# the flags a closed network needs: no background connections, no component updates
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (the Python package) is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=FLAGS)
        yield browser
        browser.close()


def _login(browser: Any, base: str, key: str, width: int = 1366, height: int = 768) -> Any:
    page = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN").new_page()
    page.goto(f"{base}/ui/search")
    assert "/ui/login" in page.url  # no key, no page
    page.fill("#key", key)
    page.click("#login")
    page.wait_for_url(re.compile(r"/ui/search"))
    return page


def _shot(page: Any, name: str) -> None:
    ARTEFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"ui-{name}.png"), full_page=False)


def _no_phone(page: Any) -> None:
    text = page.content()
    assert not PHONE.findall(text), PHONE.findall(text)[:3]


def test_wrong_key_is_refused(browser: Any, live_server: tuple[str, Served]) -> None:
    base, _ = live_server
    page = browser.new_page()
    page.goto(f"{base}/ui/login")
    page.fill("#key", "dr_not-a-key")
    page.click("#login")
    assert "E502" in page.inner_text("[role=alert]")
    page.goto(f"{base}/ui/proposals")
    assert "/ui/login" in page.url


def test_demand_manager_searches_filters_opens_and_moves(browser: Any, live_server: tuple[str, Served]) -> None:
    base, served = live_server
    page = _login(browser, base, served.keys["demand_manager"])
    page.fill("#q", "流量")
    page.click("#go")
    page.wait_for_selector("li.hit")
    total = int(re.search(r"\d+", page.inner_text("#total")).group())  # type: ignore[union-attr]
    assert total > 0 and page.locator("li.hit mark").count() > 0  # highlighted hits
    _no_phone(page)
    _shot(page, "search-1366")

    page.click("a.facet[data-facet='source']:has-text('tickets')")
    page.wait_for_url(re.compile(r"filter=source"))
    filtered = int(re.search(r"\d+", page.inner_text("#total")).group())  # type: ignore[union-attr]
    assert 0 < filtered <= total
    assert all("tickets" in s for s in page.locator("li.hit small.muted").all_inner_texts())

    page.locator("a.hit-title").first.click()
    page.wait_for_url(re.compile(r"/ui/records/tickets"))
    assert page.locator("table.labels-table tbody tr").count() > 0
    assert page.locator("#history").count() == 0  # contact history is a complaint-team tool
    _no_phone(page)
    _shot(page, "record-1366")

    page.goto(f"{base}/ui/proposals")
    drafts = page.locator("section.column[data-status='draft'] article.pcard")
    assert drafts.count() > 0
    card_id = drafts.first.get_attribute("id")
    card = page.locator(f"#{card_id}")
    card.locator("select[name=status]").select_option("submitted")
    card.locator("button").click()
    page.wait_for_load_state()
    assert page.locator(f"section.column[data-status='submitted'] #{card_id}").count() == 1
    _no_phone(page)
    _shot(page, "proposals-1366")

    page.locator(f"#{card_id} a").click()
    assert page.inner_text("#status") == "已提交" and page.locator("svg.radar").count() == 1
    _no_phone(page)
    page.goto(f"{base}/ui/")
    _no_phone(page)
    page.goto(f"{base}/ui/triage")
    assert "E503" in page.content()  # grades are not a demand manager's


def test_complaint_agent_claims_from_the_queue(browser: Any, live_server: tuple[str, Served]) -> None:
    base, served = live_server
    page = _login(browser, base, served.keys["complaint_agent"])
    page.goto(f"{base}/ui/triage")
    rows = page.locator("table.triage tbody tr")
    assert rows.count() > 0
    unclaimed = page.locator("table.triage tbody tr:has(button.claim)").first
    record = unclaimed.get_attribute("data-record")
    unclaimed.locator("button.claim").click()
    page.wait_for_load_state()
    row = page.locator(f"table.triage tbody tr[data-record='{record}']")
    assert "complaint_agent-1 处理中" in row.inner_text() and row.locator("button.release").count() == 1
    _shot(page, "triage-1366")


def test_pages_fit_a_tablet(browser: Any, live_server: tuple[str, Served]) -> None:
    base, served = live_server
    page = _login(browser, base, served.keys["admin"], width=768, height=1024)
    for path, name in (("/ui/search?q=宽带", "search"), ("/ui/proposals", "proposals"), ("/ui/triage", "triage"), ("/ui/", "dashboard")):
        page.goto(base + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, (path, overflow)  # nothing wider than the screen: no sideways scrolling
        _shot(page, f"{name}-tablet")
