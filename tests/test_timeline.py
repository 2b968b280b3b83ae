"""A run's timeline: its model and connector calls as a waterfall, from what the store
recorded (real mock runs, and real live runs against a local failing server)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from neonhub_nb.api import run_agent
from neonhub_nb.store import AuditStore
from neonhub_nb.timeline import timeline_calls, timeline_html, timeline_text

from .faultserver import Fault, FaultServer
from .live_support import live_settings


def test_rows_follow_the_calls_of_a_run(store: AuditStore) -> None:
    result = run_agent("insights.summarize_performance", {"end_date": "2026-01-31"}, store=store)
    rows = timeline_calls(result.tool_executions, run_started_at=result.started_at)
    assert [(r.tool, r.operation) for r in rows] == [
        ("connector.ga4", "run_report"),
        ("connector.ga4", "run_report"),
        ("connector.gsc", "search_analytics"),
        ("llm", "chat.completions"),
    ]
    offsets = [r.offset_ms for r in rows]
    assert offsets == sorted(offsets) and offsets[0] >= 0  # one call after another
    assert all(r.duration_ms >= 0 and r.status == "succeeded" for r in rows)
    model = rows[-1]
    assert (model.prompt_tokens, model.completion_tokens) == (
        result.prompt_tokens,
        result.completion_tokens,
    )
    assert model.cost_usd == pytest.approx(result.cost_usd)
    assert model.attempts == 1 and rows[0].attempts >= 1
    assert rows[0].prompt_tokens is None and rows[0].cost_usd is None  # connectors


def test_store_rows_give_the_same_timeline(store: AuditStore) -> None:
    result = run_agent("seo.optimize", {
        "primary_keyword": "bakery newsletter", "title": "T", "content": "bakery newsletter",
    }, store=store)  # fmt: skip
    detail = store.run_detail(result.run_id)
    from_store = timeline_calls(
        detail.tool_executions.to_dict("records"), run_started_at=detail.run["started_at"]
    )
    from_result = timeline_calls(result.tool_executions, run_started_at=result.started_at)
    assert [(r.seq, r.tool, r.attempts, r.prompt_tokens, r.cost_usd) for r in from_store] == [
        (r.seq, r.tool, r.attempts, r.prompt_tokens, r.cost_usd) for r in from_result
    ]
    for a, b in zip(from_store, from_result, strict=True):
        assert a.offset_ms == pytest.approx(b.offset_ms, abs=0.01)


def test_retries_and_failures_show_on_the_timeline(
    server: FaultServer, tmp_path: Path, store: AuditStore, fresh_live_state: None
) -> None:
    settings = live_settings(server.url, tmp_path, NEONHUB_LLM_MAX_RETRIES="2")
    server.push(Fault.rate_limited("0"), Fault.ok("# Title\n\nBody text."))
    retried = run_agent(
        "content.generate_article",
        {"topic": "Faults", "primary_keyword": "flaky", "word_count": 50},
        settings=settings,
        store=store,
    )
    row = timeline_calls(retried.tool_executions)[0]
    assert (row.status, row.attempts, row.rate_limited) == ("succeeded", 2, 1)
    page = timeline_html(retried.tool_executions)
    assert "succeeded (1× 429)" in page and "#bf8700" in page  # the retried bar is amber
    assert "(1x 429)" in timeline_text(retried.tool_executions)

    server.push(*[Fault.status(500)] * 3)
    failed = run_agent(
        "content.generate_article",
        {"topic": "Faults", "primary_keyword": "flaky", "word_count": 50},
        settings=settings,
        store=store,
    )
    assert failed.status == "failed"
    row = timeline_calls(failed.tool_executions)[0]
    assert row.status == "failed" and row.attempts == 3 and row.error
    page = timeline_html(failed.tool_executions)
    assert re.search(r"<g data-call='1'><rect [^>]*fill='#cf222e'", page)  # a red bar
    assert "failed" in timeline_text(failed.tool_executions)


def test_bars_share_one_axis(store: AuditStore) -> None:
    result = run_agent("insights.summarize_performance", {}, store=store)
    page = timeline_html(result.tool_executions, run_started_at=result.started_at,
                         run_duration_ms=result.duration_ms)  # fmt: skip
    bars = re.findall(
        r"<g data-call='(\d+)'><rect x='([0-9.]+)' y='[0-9.]+' width='([0-9.]+)'", page
    )
    assert [int(seq) for seq, _, _ in bars] == [1, 2, 3, 4]
    starts = [float(x) for _, x, _ in bars]
    assert starts == sorted(starts)  # one call after another, on one axis
    ends = [float(x) + float(w) for _, x, w in bars]
    assert max(ends) <= 780  # inside the drawing
    assert html.escape("connector.ga4") in page


def test_no_calls_says_so() -> None:
    assert "No model or connector calls recorded" in timeline_html([])
    assert timeline_text([]) == "no model or connector calls recorded"


def test_durations_below_ten_ms_keep_their_digits() -> None:
    # A 3 ms run's axis read "0 ms 0 ms 1 ms 2 ms 2 ms"; and "-0 ms" appeared in `show`.
    from neonhub_nb.formats import format_duration

    ticks = [format_duration(t) for t in (0, 0.5, 1, 1.5, 2, 2.5)]
    assert ticks == ["0 ms", "0.5 ms", "1 ms", "1.5 ms", "2 ms", "2.5 ms"]
    assert len(set(ticks)) == len(ticks)
    assert format_duration(-0.0001) == "0 ms"
    assert format_duration(7.875) == "7.88 ms" and format_duration(12.4) == "12 ms"
