"""The analyst's first minutes in real JupyterLab (started by scripts/lab.sh, read through
the URL it prints) and headless Chromium: the playground opens clean, every agent's result
reads as its users expect, with its timeline; errors show in History; the comparison
notebook compares. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from playwright.sync_api import expect

from .browser import ARTIFACTS, chromium_page
from .lab import jupyter_lab, open_notebook, run_all_cells

pytestmark = pytest.mark.browser
PANEL = ".jp-NotebookPanel:visible"
# One bar (or instant) of a run's timeline chart.
SPAN = "svg[data-chart='timeline'] g[data-call]"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    work = tmp_path_factory.mktemp("lab")
    db = work / "store" / "neonhub.duckdb"
    with jupyter_lab({"NEONHUB_DB": str(db), "NEONHUB_MODE": "mock"}, work) as url:
        yield url, db


def shot(target: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    target.screenshot(path=str(path))
    assert path.stat().st_size > 5_000, path
    return path


def wait_idle(page: Any) -> None:
    page.locator(".jp-StatusBar-TextItem", has_text="Idle").first.wait_for(timeout=120_000)


def control(page: Any, kind: str, label: str) -> Any:
    """The input of the form field labelled exactly ``label``."""
    box = page.locator(f"{PANEL} .widget-{kind}").filter(
        has=page.locator("label", has_text=re.compile(f"^{re.escape(label)}$"))
    )
    return box.locator("input, textarea, select").first


def generate(page: Any, agent: str) -> Any:
    page.locator(f"{PANEL} button", has_text="Generate").first.click()
    output = page.locator(f"{PANEL} .neonhub-result-card .neonhub-output-{agent}")
    output.wait_for(timeout=60_000)
    return output


def test_the_quickstart_url_opens_the_playground_clean(lab: tuple[str, Path]) -> None:
    url, _ = lab
    assert "/lab/tree/notebooks/01_draft_playground.ipynb?token=" in url  # what lab.sh prints
    with chromium_page(height=1200) as (page, urls):
        open_notebook(page, url)
        tab = page.locator(".lm-TabBar-tab.lm-mod-current", has_text="01_draft_playground")
        tab.first.wait_for(timeout=60_000)
        crumbs = page.locator(".jp-FileBrowser .jp-BreadCrumbs").first
        assert crumbs.inner_text().strip().strip("/").split("/")[-1].strip() == "notebooks"
        wait_idle(page)
        time.sleep(3)  # JupyterLab writes kernel metadata once the kernel answers
        assert "jp-mod-dirty" not in (tab.first.get_attribute("class") or "")
        shot(page, "lab_first_minute.png")
    assert all(u.startswith(("http://127.0.0.1", "data:", "blob:")) for u in urls)


AGENTS: list[tuple[str, str, dict[tuple[str, str], str], list[str]]] = [
    (
        "social.compose_posts",
        "social",
        {("text", "message"): "Our spring menu is here"},
        ["X", "/280 characters", "LinkedIn", "/3000 characters", "Instagram", "/2200 characters"],
    ),
    (
        "ads.generate_variants",
        "ads",
        {("text", "product"): "Crumb", ("text", "primary keyword"): "bakery software"},
        ["Ad variant 1", "/30 characters", "/90 characters", "headlines (Google: 3-15)"],
    ),
    (
        "email.compose_campaign",
        "email",
        {("text", "product"): "Crumb", ("text", "goal"): "book a tasting"},
        ["Subject lines", "/78 characters", "Preview text", "Body"],
    ),
    (
        "seo.optimize",
        "seo",
        {
            ("text", "primary keyword"): "bakery newsletter",
            ("text", "title"): "Newsletters",
            ("textarea", "content"): "# Newsletters\n\nA bakery newsletter keeps regulars.",
        },
        ["SEO title", "/60 characters", "Meta description", "/160 characters", "Keywords"],
    ),
    # No field filled: every field of insights is optional (end date left empty).
    ("insights.summarize_performance", "insights", {}, ["Totals", "sessions", "Summary"]),
    (
        "content.generate_article",
        "content",
        {},  # pre-filled from the notebook's parameters
        ["Article:", "words", "of 600", "keyword in title"],
    ),
]


def open_when_free(db: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection opened between the lab kernel's ingestion passes (it holds
    the file for milliseconds at a time; DuckDB lets no reader in meanwhile)."""
    for _ in range(120):
        try:
            return duckdb.connect(str(db), read_only=True)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            time.sleep(0.25)
    raise AssertionError(f"{db} stayed locked for 30 s")


def read_when_free(db: Path, sql: str) -> list[Any]:
    with open_when_free(db) as con:
        return con.execute(sql).fetchall()


def test_every_agents_result_and_its_timeline_in_the_playground(lab: tuple[str, Path]) -> None:
    url, db = lab
    with chromium_page(height=3400) as (page, _):
        open_notebook(page, url)
        wait_idle(page)
        run_all_cells(page)
        intent = control(page, "dropdown", "agent / intent")
        intent.wait_for(timeout=120_000)
        for name, agent, fields, expected in AGENTS:
            intent.select_option(name)
            page.locator(f"{PANEL} .neonhub-form-{agent}").wait_for(timeout=30_000)
            for (kind, label), value in fields.items():
                control(page, kind, label).fill(value)
            # The kernel checks each field as it changes; untouched optional fields too.
            button = page.locator(f"{PANEL} button", has_text="Generate").first
            try:
                expect(button).to_be_enabled(timeout=30_000)
            except AssertionError:
                shot(page, f"failed_{agent}.png")
                raise
            messages = page.locator(f"{PANEL} [class*='neonhub-field-message-']")
            expect(messages.filter(has_text=re.compile(r"\S"))).to_have_count(0)
            output = generate(page, agent)
            text = output.inner_text()
            for part in expected:
                assert part in text, (agent, part, text[:500])
            card = page.locator(f"{PANEL} .neonhub-result-card").first
            assert "succeeded" in card.inner_text()
            spans = page.locator(f"{PANEL} .neonhub-result-timeline {SPAN}")
            assert spans.count() >= 1
            area = (
                page.locator(f"{PANEL} .jp-OutputArea-output")
                .filter(has=page.locator(".neonhub-result-card"))
                .first
            )
            shot(area, f"playground_{agent}.png")
        # The insights run called GA4 twice, Search Console and the model: its timeline.
        intent.select_option("insights.summarize_performance")
        generate(page, "insights")
        timeline = page.locator(f"{PANEL} .neonhub-result-timeline").first
        assert timeline.locator(SPAN).count() == 4
        timeline_text = timeline.inner_text()
        for part in ("ga4 run_report", "gsc search_analytics", "llm chat.completions",
                     "tokens", "$"):  # fmt: skip
            assert part in timeline_text, part
        shot(timeline, "playground_timeline.png")
    recorded = dict(read_when_free(db, "SELECT agent, count(*) FROM agent_runs GROUP BY 1"))
    assert {"social", "ads", "email", "seo", "insights", "content"} <= set(recorded)


def test_history_reads_a_store_another_process_holds(lab: tuple[str, Path]) -> None:
    url, db = lab
    with chromium_page(height=1400) as (page, _):
        open_notebook(page, url)
        wait_idle(page)
        run_all_cells(page)
        control(page, "dropdown", "agent / intent").wait_for(timeout=120_000)
        holder = open_when_free(db)  # `duckdb -readonly` left open
        try:
            page.locator(f"{PANEL} .lm-TabBar-tab", has_text="History").first.click()
            message = page.locator(f"{PANEL} .neonhub-history-message").first
            message.filter(has_text="reading the audit store").wait_for(timeout=10_000)
            # A reader elsewhere never blocks History: it answers from the last ingested
            # state and says so.
            message.filter(has_text="most recent runs").wait_for(timeout=90_000)
            assert "the last ingested state" in message.inner_text()
            history = page.locator(f"{PANEL} .jp-OutputArea-output").filter(
                has=page.locator(".neonhub-history-message")
            )
            shot(history.first, "playground_history_locked.png")
        finally:
            holder.close()
        page.locator(f"{PANEL} button", has_text="Refresh").first.click()
        message.filter(has_text="most recent runs").wait_for(timeout=60_000)


def test_history_says_why_it_cannot_read_a_damaged_store(lab: tuple[str, Path]) -> None:
    url, db = lab
    with chromium_page(height=1400) as (page, _):
        open_notebook(page, url)
        wait_idle(page)
        run_all_cells(page)
        control(page, "dropdown", "agent / intent").wait_for(timeout=120_000)
        page.locator(f"{PANEL} .lm-TabBar-tab", has_text="History").first.click()
        message = page.locator(f"{PANEL} .neonhub-history-message").first
        message.filter(has_text=re.compile("most recent runs|No runs recorded")).wait_for(
            timeout=90_000
        )
        open_when_free(db).close()  # between the kernel's ingestion passes
        kept = db.with_suffix(".kept")
        db.rename(kept)
        db.write_bytes(b"not a database, a disk error's leftovers\n" * 100)
        try:
            page.locator(f"{PANEL} button", has_text="Refresh").first.click()
            message.filter(has_text="Could not read the audit store").wait_for(timeout=60_000)
            text = message.inner_text()
            assert str(db.name) in text and "Traceback" not in text, text
            history = page.locator(f"{PANEL} .jp-OutputArea-output").filter(
                has=page.locator(".neonhub-history-message")
            )
            shot(history.first, "playground_history_error.png")
        finally:
            db.unlink()
            kept.rename(db)
        page.locator(f"{PANEL} button", has_text="Refresh").first.click()
        message.filter(has_text="most recent runs").wait_for(timeout=60_000)


def test_the_comparison_notebook_compares(lab: tuple[str, Path]) -> None:
    url, _ = lab
    with chromium_page(height=2400) as (page, _):
        open_notebook(page, url.replace("01_draft_playground", "02_prompt_experiments"))
        wait_idle(page)
        run_all_cells(page)
        compares = page.locator(f"{PANEL} .neonhub-compare")
        page.locator(f"{PANEL} .jp-OutputArea-output", has_text="baseline: v1").first.wait_for(
            timeout=180_000
        )
        compares.nth(3).wait_for(timeout=180_000)
        first = compares.first
        text = first.inner_text()
        assert "(baseline)" in text and "winner" in text and "checks passed" in text
        assert first.locator(".neonhub-variant").count() == 2
        assert first.locator("[style*='line-through']").count() > 0  # the word diff
        summary = page.locator(f"{PANEL} .neonhub-summary").first
        fits = summary.evaluate(
            "t => { const box = t.closest('.jp-OutputArea-output');"
            " return t.getBoundingClientRect().width <= box.clientWidth; }"
        )
        assert fits, "the summary needs horizontal scrolling"
        assert "total cost" in summary.inner_text() and "$" in summary.inner_text()
        assert "NBVAL" not in page.locator(PANEL).first.inner_text().upper()
        shot(summary, "experiments_summary.png")
        shot(first, "experiments_comparison.png")
        winners = page.locator(f"{PANEL} .jp-OutputArea-output", has_text="winner").first
        shot(winners, "experiments_winners.png")
