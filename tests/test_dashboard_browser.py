"""The dashboard in a real browser: Voila on a free port, headless Chromium, no internet.

Voila is started exactly as ``neonhub-nb dashboard`` starts it (``voila_command``), over
a temp store with known runs. Chromium is Debian's (/usr/bin/chromium), never
downloaded; without it these tests skip, or fail when CI=true. Screenshots go to
``test-artifacts/``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from neonhub_nb.clock import utcnow
from neonhub_nb.dashboard.server import NOTEBOOK, VoilaOptions
from neonhub_nb.dashboard.views import KPI_NAMES, kpi_values
from neonhub_nb.store import AuditStore

from .browser import ARTIFACTS, ROOT, chromium_page, require_chromium, voila
from .test_dashboard_aggregates import EXPECTED, EXPECTED_LIVE_30D, build_store

pytestmark = pytest.mark.browser

READY = (
    "document.querySelector('.nh-kpis[data-state=ready]') !== null && "
    "document.querySelectorAll('svg[data-chart][data-state=ready]').length === 3"
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AuditStore]:
    """The known runs, timed relative to now; this process stays their live writer."""
    writer = build_store(tmp_path / "audit.duckdb", utcnow())
    yield writer
    writer.close()


@pytest.fixture
def dashboard_url(store: AuditStore, tmp_path: Path) -> Iterator[str]:
    require_chromium()
    # Served exactly as ``neonhub-nb dashboard`` serves it, one preheated kernel included.
    with voila(
        NOTEBOOK,
        {"NEONHUB_DB": str(store.path)},
        tmp_path / "voila.log",
        pool_size=VoilaOptions().pool_size,
    ) as url:
        yield url


@pytest.fixture
def browser_page() -> Iterator[tuple[Any, list[str]]]:
    """A headless Chromium page and every URL it requested."""
    with chromium_page(height=3000) as opened:
        yield opened


def shown_tiles(page: Any) -> dict[str, str]:
    return {
        name: page.locator(f".nh-kpi[data-kpi={name}] .nh-kpi-value").inner_text().strip()
        for name, _ in KPI_NAMES
    }


def open_dashboard(page: Any, url: str) -> list[Any]:
    """Open the page; return the websocket frames it receives from now on."""
    frames: list[Any] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda data: frames.append(data)))
    page.goto(url, timeout=120_000)
    page.wait_for_function(READY, timeout=90_000)
    return frames


def redrawn(page: Any, after: int) -> None:
    """Wait until the tiles were drawn by a refresh later than number ``after``."""
    page.wait_for_function(
        f"Number(document.querySelector('.nh-kpis').dataset.refreshes) > {after}",
        timeout=30_000,
    )


def refreshes(page: Any) -> int:
    return int(page.locator(".nh-kpis").get_attribute("data-refreshes"))


def dropdown(page: Any, label: str) -> Any:
    return page.locator(".widget-dropdown", has_text=label).locator("select")


def charts_html(page: Any) -> str:
    return str(page.locator(".nh-panels").inner_html())


def no_traceback(page: Any, frames: list[Any]) -> None:
    """Nothing the page shows or its websocket received holds a traceback or a path."""
    text = page.content()
    assert "Traceback" not in text and 'File "' not in text
    for frame in frames:
        data = frame if isinstance(frame, bytes) else str(frame).encode()
        assert b"Traceback" not in data and b'File \\"' not in data, data[:300]
        assert b"site-packages" not in data and b"neonhub_nb/" not in data


def test_every_tile_and_chart_follows_the_mode_switch_and_the_filters(
    dashboard_url: str, browser_page: tuple[Any, list[str]]
) -> None:
    page, requested = browser_page
    frames = open_dashboard(page, dashboard_url)
    assert shown_tiles(page) == kpi_values(EXPECTED_LIVE_30D)  # live runs by default
    scope = page.locator("[data-scope]").inner_text()
    assert "live runs" in scope and "Not counted: 4 mock, 1 replay run(s)" in scope
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-live.png"), full_page=True)

    live_charts, n = charts_html(page), refreshes(page)
    page.get_by_role("button", name="All modes").click()
    redrawn(page, n)
    assert shown_tiles(page) == kpi_values(EXPECTED["30d"])
    assert charts_html(page) != live_charts and ">slack<" in charts_html(page)

    all_charts, all_costs, n = (
        charts_html(page),
        page.locator(".nh-costs").inner_text(),
        refreshes(page),
    )
    dropdown(page, "Agent").select_option(label="seo")
    redrawn(page, n)
    seo = shown_tiles(page)
    assert (seo["runs"], seo["cost"], seo["drafts_pending"]) == ("3", "$0.0013", "0")
    assert charts_html(page) != all_charts and ">slack<" not in charts_html(page)
    assert page.locator(".nh-costs").inner_text() != all_costs
    assert page.locator("[data-pending-total]").inner_text() == "0"
    page.screenshot(path=str(ARTIFACTS / "dashboard-filtered.png"), full_page=True)
    no_traceback(page, frames)
    # Nothing left the machine: no CDN, no fonts, no telemetry.
    outside = [u for u in requested if not u.startswith(("http://127.0.0.1", "data:", "blob:"))]
    assert not outside, outside


def test_a_runs_timeline_drafts_and_the_csv_download(
    dashboard_url: str, browser_page: tuple[Any, list[str]]
) -> None:
    page, _ = browser_page
    open_dashboard(page, dashboard_url)
    n = refreshes(page)
    page.get_by_role("button", name="All modes").click()
    redrawn(page, n)
    texts = page.eval_on_selector_all(".nh-runs select option", "els => els.map(e => e.text)")
    index = next(i for i, text in enumerate(texts) if "content.generate_article" in text)
    page.locator(".nh-runs select").select_option(index=index)  # the newest draft run: k1
    detail = page.locator(".nh-detail[data-run-id='run_k1']")
    detail.wait_for(timeout=30_000)
    timeline = page.locator("[data-section=timeline] svg[data-chart=timeline]")
    assert timeline.locator("g[data-call]").count() == 3
    assert page.locator("[data-section=timeline-calls] tr[data-call='1'] td").nth(
        8
    ).inner_text() == ("$0.0010")
    assert "[REDACTED]" in detail.inner_text()
    timeline.scroll_into_view_if_needed()
    page.locator("[data-section=timeline]").screenshot(
        path=str(ARTIFACTS / "dashboard-timeline.png")
    )

    drafts = page.locator(".nh-drafts select option")
    first = drafts.first.inner_text().replace("\xa0", " ").strip()  # the list pads with nbsp
    assert drafts.count() == 2 and first.startswith("26 h") and "Title run_b2" in first
    page.locator(".nh-drafts select").select_option(index=1)
    page.locator(".nh-detail[data-run-id='run_z7']").wait_for(timeout=30_000)

    page.get_by_role("button", name="⤓ CSV of these runs").click()
    link = page.locator(".nh-download a[download]")
    link.wait_for(timeout=30_000)
    with page.expect_download() as download:
        link.click()
    text = Path(download.value.path()).read_text()
    assert text.splitlines()[0].startswith("run_id,started_at") and len(text.splitlines()) == 9


def test_hostile_dates_and_filters_get_one_line_never_a_traceback(
    dashboard_url: str, browser_page: tuple[Any, list[str]]
) -> None:
    page, _ = browser_page
    frames = open_dashboard(page, dashboard_url)
    tiles = shown_tiles(page)
    message = page.locator("[data-message]")
    date_from = page.locator(".widget-datepicker", has_text="From").locator("input")
    date_from.fill("9999-12-31")  # a real date, far past the bound
    message.wait_for(timeout=30_000)
    assert "From: 9999-12-31 is after" in message.inner_text()
    assert "the dates were not changed" in message.inner_text()
    period = page.locator(".widget-dropdown", has_text="Period").locator("select")
    assert period.input_value() == "Last 30 days"  # the option's label
    # Beyond Python's dates / before the bound; each message names its own value, so a
    # message left from the step before cannot pass for it.
    for hostile, said in (
        ("275760-09-13", "From: that value cannot be used; it was not applied"),
        ("0001-01-01", "From: 0001-01-01 is before 2000-01-01; the dates were not changed"),
    ):
        page.evaluate(
            """([el, value]) => { el.value = value;
                el.dispatchEvent(new Event('change', {bubbles: true})); }""",
            [date_from.element_handle(), hostile],
        )
        page.wait_for_function(
            "([said]) => document.querySelector('[data-message]') && "
            "document.querySelector('[data-message]').textContent.includes(said)",
            arg=[said],
            timeout=30_000,
        )
    # An option the store never offered, slipped into the Agent list.
    page.evaluate(
        """(sel) => { const o = document.createElement('option'); o.textContent = 'x';
            sel.appendChild(o); sel.selectedIndex = sel.options.length - 1;
            sel.dispatchEvent(new Event('change', {bubbles: true})); }""",
        dropdown(page, "Agent").element_handle(),
    )
    page.wait_for_function(
        "/Agent: that value cannot be used/.test("
        "document.querySelector('[data-message]').textContent)",
        timeout=30_000,
    )
    assert shown_tiles(page) == tiles  # nothing was read with a hostile value
    page.screenshot(path=str(ARTIFACTS / "dashboard-hostile-input.png"))
    no_traceback(page, frames)


def test_preset_periods_clear_the_custom_dates(
    dashboard_url: str, browser_page: tuple[Any, list[str]]
) -> None:
    page, _ = browser_page
    open_dashboard(page, dashboard_url)
    n = refreshes(page)
    today = utcnow().date()
    page.locator(".widget-datepicker", has_text="To").locator("input").fill(today.isoformat())
    redrawn(page, n)
    period = page.locator(".widget-dropdown", has_text="Period").locator("select")
    assert period.input_value() == "Custom dates"
    n = refreshes(page)
    period.select_option(label="Last 7 days")
    redrawn(page, n)
    for label in ("From", "To"):
        assert (
            page.locator(".widget-datepicker", has_text=label).locator("input").input_value() == ""
        )
    assert "Last 7 days (since" in page.locator("[data-scope]").inner_text()


def test_five_viewers_at_once_all_see_the_tiles(dashboard_url: str) -> None:
    from playwright.sync_api import sync_playwright

    from .browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            pages = [browser.new_context().new_page() for _ in range(5)]
            for page in pages:  # all five ask before any is served
                page.goto(dashboard_url, wait_until="commit", timeout=120_000)
            for page in pages:
                page.wait_for_function(READY, timeout=120_000)
                assert shown_tiles(page) == kpi_values(EXPECTED_LIVE_30D)
        finally:
            browser.close()


def test_the_dashboard_keeps_working_while_another_process_writes(
    dashboard_url: str, browser_page: tuple[Any, list[str]], store: AuditStore
) -> None:
    page, _ = browser_page
    open_dashboard(page, dashboard_url)
    n = refreshes(page)
    page.get_by_role("button", name="Mock").click()  # the writer records mock runs
    redrawn(page, n)
    assert shown_tiles(page)["runs"] == "4"
    writer = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "writer_process.py"), str(store.path), "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    refresh = page.get_by_role("button", name="↻ Refresh")
    try:
        while writer.poll() is None:  # refresh while the other process records its runs
            n = refreshes(page)
            refresh.click()
            redrawn(page, n)
    finally:
        out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err.decode()
    assert len(out.split()) == 3
    refresh.click()
    page.wait_for_function(
        "document.querySelector('.nh-kpi[data-kpi=runs] .nh-kpi-value').textContent === '7'",
        timeout=30_000,
    )
    assert page.locator("[data-message].nh-error").count() == 0
    # A run the orchestrator recorded: its timeline shows the model call's tokens and cost.
    newest = page.locator(".nh-runs select")
    newest.select_option(index=0)
    calls = page.locator("[data-section=timeline-calls] tr[data-call='1'] td")
    calls.first.wait_for(timeout=30_000)
    assert calls.nth(1).inner_text().startswith("llm")
    assert calls.nth(7).inner_text() not in ("", "–")  # tokens
    assert calls.nth(8).inner_text().startswith("$")
    # Auto-refresh: two more runs appear without a click.
    dropdown(page, "Auto").select_option(label="every 10 s")
    more = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "writer_process.py"), str(store.path), "2"],
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert len(more.stdout.split()) == 2
    page.wait_for_function(
        "document.querySelector('.nh-kpi[data-kpi=runs] .nh-kpi-value').textContent === '9'",
        timeout=30_000,
    )
