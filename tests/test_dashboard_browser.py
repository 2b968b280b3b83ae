"""The dashboard in a real browser: Voila on a free port, headless Chromium, no internet.

Voila is started exactly as ``neonhub-nb dashboard`` starts it (``voila_command``), over
a temp store with known runs. Chromium is Debian's (/usr/bin/chromium), never
downloaded; without it these tests skip, or fail when CI=true.
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
from .test_dashboard_queries import EXPECTED, build_store

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


def open_dashboard(page: Any, url: str) -> None:
    page.goto(url, timeout=120_000)
    page.wait_for_function(READY, timeout=90_000)


def test_tiles_equal_the_store_and_a_run_shows_its_tool_executions(
    dashboard_url: str, store: AuditStore, browser_page: tuple[Any, list[str]]
) -> None:
    page, requested = browser_page
    open_dashboard(page, dashboard_url)
    with store.connect() as con:
        runs, tokens = con.execute(
            """SELECT count(*), (SELECT sum(value) FROM agent_run_metrics
                                 WHERE name = 'total_tokens' AND run_id IN (
                                   SELECT run_id FROM agent_runs
                                   WHERE started_at >= now()::TIMESTAMP - INTERVAL 30 DAY))
               FROM agent_runs WHERE started_at >= now()::TIMESTAMP - INTERVAL 30 DAY"""
        ).fetchone()
    tiles = shown_tiles(page)
    assert tiles["runs"] == f"{runs:,}" == "8"
    assert tiles["tokens"] == f"{tokens:,.0f}"
    assert tiles == kpi_values(EXPECTED["30d"])  # all nine, as worked out by hand

    texts = page.eval_on_selector_all(".nh-runs select option", "els => els.map(e => e.text)")
    index = next(i for i, text in enumerate(texts) if "content.generate_article" in text)
    page.locator(".nh-runs select").select_option(index=index)  # the newest draft run: k1
    detail = page.locator(".nh-detail[data-run-id='run_k1']")
    detail.wait_for(timeout=30_000)
    tools = page.locator(".nh-detail [data-section=tools] tr[data-tool]")
    assert tools.count() == 3
    assert page.locator("tr[data-tool='connector.slack']").count() == 2
    assert "[REDACTED]" in detail.inner_text()

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000
    # Nothing left the machine: no CDN, no fonts, no telemetry.
    outside = [u for u in requested if not u.startswith(("http://127.0.0.1", "data:", "blob:"))]
    assert not outside, outside


def test_the_dashboard_keeps_working_while_another_process_writes(
    dashboard_url: str, browser_page: tuple[Any, list[str]], store: AuditStore
) -> None:
    page, _ = browser_page
    open_dashboard(page, dashboard_url)
    assert shown_tiles(page)["runs"] == "8"
    writer = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "writer_process.py"), str(store.path), "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    refresh = page.get_by_role("button", name="↻ Refresh")
    seen = 0
    try:
        while writer.poll() is None:  # refresh while the other process records its runs
            refresh.click()
            seen += 1
            page.wait_for_function(
                f"document.querySelector('.nh-kpis').dataset.refreshes > {seen}",
                timeout=30_000,
            )
    finally:
        out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err.decode()
    assert len(out.split()) == 3
    refresh.click()
    page.wait_for_function(
        "document.querySelector('.nh-kpi[data-kpi=runs] .nh-kpi-value').textContent === '11'",
        timeout=30_000,
    )
    assert page.locator("[data-status].nh-error").count() == 0
    # Auto-refresh: two more runs appear without a click.
    page.locator(".widget-dropdown", has_text="Auto").locator("select").select_option(
        label="every 10 s"
    )
    more = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "writer_process.py"), str(store.path), "2"],
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert len(more.stdout.split()) == 2
    page.wait_for_function(
        "document.querySelector('.nh-kpi[data-kpi=runs] .nh-kpi-value').textContent === '13'",
        timeout=30_000,
    )
