"""The draft form rendered for real: Voila + headless Chromium, fill, Generate, read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from neonhub_nb.store import AuditStore

from .browser import ARTIFACTS, ROOT, chromium_page, voila

pytestmark = pytest.mark.browser


def test_fill_the_form_generate_and_see_the_draft(tmp_path: Path) -> None:
    db = tmp_path / "browser.duckdb"
    notebook = ROOT / "notebooks" / "01_draft_playground.ipynb"
    env = {"NEONHUB_DB": str(db), "NEONHUB_MODE": "mock"}
    with voila(notebook, env, tmp_path / "voila.log") as url, chromium_page() as (page, urls):
        page.goto(url, timeout=120_000)
        topic = page.locator(".widget-text", has_text="topic").locator("input")
        topic.wait_for(timeout=120_000)
        topic.fill("Trail running for beginners")
        page.locator(".widget-text", has_text="primary keyword").locator("input").fill(
            "trail running shoes"
        )
        page.get_by_role("button", name="Generate").click()
        card = page.locator(".neonhub-result-card .neonhub-run-card")
        card.wait_for(timeout=60_000)
        heading = page.locator(".neonhub-draft h2", has_text="Trail Running Shoes")
        heading.wait_for(timeout=30_000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "draft_form.png"), full_page=True)
        card_text = card.inner_text()
        assert "succeeded" in card_text
        title = heading.inner_text()
    assert all(u.startswith(("http://127.0.0.1", "data:", "blob:")) for u in urls), [
        u for u in urls if not u.startswith("http://127.0.0.1")
    ]
    with AuditStore(db, background=False) as store:
        drafts = store.sql("SELECT title, primary_keyword FROM content_drafts")
    assert title in drafts["title"].tolist()
    assert "trail running shoes" in drafts["primary_keyword"].tolist()
    assert os.path.getsize(ARTIFACTS / "draft_form.png") > 10_000
