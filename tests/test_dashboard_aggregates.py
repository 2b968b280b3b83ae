"""The dashboard's queries against a store with known contents: exact values, worked out
by hand from ``RUNS``, for every tile, chart and table, filtered and not.

The store is written through the public write path (``record_run_started``,
``record_tool_execution``, ``record_run_finished``, ``review_draft``, then ``flush``) with
times relative to ``now``, so the browser tests can build the same store for today.
Every figure is checked twice: read from cells computed from the raw rows, and from the
roll-up tables the store would keep (``rollup``); both must give the same answer.
"""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from neonhub_nb.clock import FakeClock
from neonhub_nb.dashboard import aggregates as q
from neonhub_nb.models import Metric, ToolExecution
from neonhub_nb.store import AuditStore
from neonhub_nb.store import rollups as rollup

NOW = datetime(2026, 3, 10, 12, 0)
SECRET = "sk-test-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"
LLM_OK = {"text": "Draft", "model": "gpt-4o-mini", "finish_reason": "stop",
          "usage": {"prompt_tokens": 100, "completion_tokens": 200, "source": "api"},
          "cost_usd": 0.001, "attempts": 2, "rate_limited": 1}  # fmt: skip


@dataclass(frozen=True)
class Run:
    run_id: str
    hours_ago: float
    agent: str
    intent: str
    status: str
    mode: str = "mock"
    duration_ms: float | None = None
    tokens: tuple[int, int] | None = None  # prompt, completion
    cost: float = 0.0
    tools: tuple[tuple[str, str, str, dict[str, Any]], ...] = ()  # tool, op, status, response
    draft: str | None = None  # draft id
    review: str | None = None  # approved / rejected
    error: str | None = None
    model: str = "gpt-4o-mini"
    campaign: str | None = None
    extra_input: dict[str, Any] = field(default_factory=dict)


DAY = 24.0
# Modes: live b2, x3, z7; replay a4; the rest mock. Run ids deliberately not in time order.
RUNS: tuple[Run, ...] = (
    Run("run_k1", 3, "content", "content.generate_article", "succeeded", duration_ms=1000,
        tokens=(100, 200), cost=0.001, draft="draft_k1", review="approved", campaign="spring",
        extra_input={"api_key": SECRET},
        tools=(("llm", "chat.completions", "succeeded", LLM_OK),
               ("connector.slack", "post_message", "succeeded",
                {"rate_limited": 0, "http_status": 200, "attempts": 1}),
               ("connector.slack", "post_message", "succeeded",
                {"rate_limited": 1, "http_status": 200, "attempts": 2}))),
    Run("run_b2", 26, "content", "content.generate_article", "succeeded", mode="live",
        duration_ms=3000, tokens=(150, 250), cost=0.002, draft="draft_b2", campaign="spring",
        tools=(("llm", "chat.completions", "succeeded", {}),
               ("connector.email", "send", "failed", {"http_status": 500}))),
    Run("run_x3", 49, "seo", "seo.audit_page", "failed", mode="live", duration_ms=2000,
        tokens=(50, 0), cost=0.0005, error="LLMError: timeout", model="gpt-4o",
        tools=(("llm", "chat.completions", "failed", {}),)),
    Run("run_a4", 72, "email", "email.compose_campaign", "succeeded", mode="replay",
        duration_ms=4000, tokens=(10, 20), cost=0.0001, draft="draft_a4", review="rejected",
        tools=(("connector.email", "send", "succeeded", {"rate_limited": True}),
               ("connector.ga4", "run_report", "succeeded", {"rows": 3}))),
    Run("run_m5", 95, "seo", "seo.audit_page", "abandoned", campaign="=SUM(A1)",
        error="abandoned: the process that ran it exited before finishing",
        tools=(("llm", "chat.completions", "succeeded", {}),)),
    Run("run_c6", 0.5, "content", "content.rewrite", "running"),
    Run("run_z7", 20 * DAY, "content", "content.generate_article", "succeeded", mode="live",
        duration_ms=5000, tokens=(1000, 1000), cost=0.01, draft="draft_z7", campaign="launch"),
    Run("run_d8", 25 * DAY, "seo", "seo.keyword_research", "failed", duration_ms=6000,
        tokens=(80, 0), cost=0.0008, error="ConnectorError: gsc 503",
        tools=(("connector.gsc", "query", "failed", {"http_status": 503}),)),
    Run("run_e9", 100 * DAY, "email", "email.compose_campaign", "succeeded",
        duration_ms=7000, tokens=(200, 300), cost=0.005, model="gpt-4o"),
)  # fmt: skip

# What the tiles must show for runs of every mode, worked out by hand from RUNS.
EXPECTED: dict[str, q.Kpis] = {
    "24h": q.Kpis(runs=2, succeeded=1, in_progress=1, p50_ms=1000, p95_ms=1000,
                  total_tokens=300, cost_usd=0.001, drafts_approved=1),
    "7d": q.Kpis(runs=6, succeeded=3, failed=1, abandoned=1, in_progress=1, p50_ms=2500,
                 p95_ms=3850, total_tokens=780, cost_usd=0.0036, drafts_approved=1,
                 drafts_pending=1, drafts_rejected=1),
    "30d": q.Kpis(runs=8, succeeded=4, failed=2, abandoned=1, in_progress=1, p50_ms=3500,
                  p95_ms=5750, total_tokens=2860, cost_usd=0.0144, drafts_approved=1,
                  drafts_pending=2, drafts_rejected=1),
    "all": q.Kpis(runs=9, succeeded=5, failed=2, abandoned=1, in_progress=1, p50_ms=4000,
                  p95_ms=6700, total_tokens=3360, cost_usd=0.0194, drafts_approved=1,
                  drafts_pending=2, drafts_rejected=1),
}  # fmt: skip
# Live runs only, last 30 days: b2, x3, z7 (durations 2000, 3000, 5000 ms).
EXPECTED_LIVE_30D = q.Kpis(runs=3, succeeded=2, failed=1, p50_ms=3000, p95_ms=4800,
                           total_tokens=2450, cost_usd=0.0125, drafts_pending=2)  # fmt: skip


def started(run: Run, now: datetime) -> datetime:
    return now - timedelta(hours=run.hours_ago)


def write_runs(store: AuditStore, runs: tuple[Run, ...], now: datetime) -> None:
    """Record ``runs`` as the orchestrator would: start, tool calls, finish, review."""
    for run in runs:
        at = started(run, now)
        row: dict[str, Any] = {
            "run_id": run.run_id, "agent": run.agent, "intent": run.intent, "mode": run.mode,
            "started_at": at, "status": "running", "model": run.model,
            "campaign": run.campaign,
            "input": {"topic": f"topic of {run.run_id}", **run.extra_input},
        }  # fmt: skip
        store.record_run_started(row)
        for seq, (tool, operation, status, response) in enumerate(run.tools, 1):
            store.record_tool_execution(
                ToolExecution(
                    execution_id=f"tex_{run.run_id}_{seq}", run_id=run.run_id, seq=seq,
                    tool=tool, operation=operation, status=status,  # type: ignore[arg-type]
                    started_at=at + timedelta(seconds=seq), duration_ms=10.0 * seq,
                    request={"n": seq}, response=response,
                    error=None if status == "succeeded" else f"{tool} failed",
                )
            )  # fmt: skip
        if run.status == "failed" and run.agent == "seo" and run.hours_ago < DAY * 7:
            store.record_tool_execution(
                ToolExecution(
                    execution_id=f"tex_{run.run_id}_breaker", run_id=run.run_id,
                    seq=len(run.tools) + 1, tool="circuit_breaker", operation="transition",
                    status="succeeded", started_at=at + timedelta(seconds=30), duration_ms=0,
                    request={"agent": "seo", "from": "closed", "to": "open", "failures": 3,
                             "reason": "3 failures in a row"},
                    response={"state": "open"},
                )
            )  # fmt: skip
        if run.status == "running":
            continue
        metrics = []
        if run.tokens is not None:
            prompt, completion = run.tokens
            metrics = [
                Metric(name="prompt_tokens", value=prompt, unit="tokens"),
                Metric(name="completion_tokens", value=completion, unit="tokens"),
                Metric(name="total_tokens", value=prompt + completion, unit="tokens"),
                Metric(name="cost_usd", value=run.cost, unit="USD"),
            ]
        draft = None
        if run.draft is not None:
            draft = {
                "draft_id": run.draft, "run_id": run.run_id, "title": f"Title {run.run_id}",
                "content": "# Title\n\nBody.", "metadata": {"word_count": 2}, "status": "draft",
                "created_at": at, "updated_at": at, "topic": f"topic of {run.run_id}",
                "primary_keyword": "keyword",
            }  # fmt: skip
        finished = {
            **row, "status": run.status, "duration_ms": run.duration_ms, "error": run.error,
            "finished_at": at + timedelta(milliseconds=run.duration_ms or 0),
            "output": {"draft_id": run.draft} if run.draft else {},
        }  # fmt: skip
        store.record_run_finished(finished, metrics, draft)
        if run.review == "approved":
            store.review_draft(run.draft or "", "approved", "Dana")
        elif run.review == "rejected":
            store.review_draft(run.draft or "", "rejected", "Dana", "off-brand tone")


def build_store(path: Path, now: datetime, runs: tuple[Run, ...] = RUNS) -> AuditStore:
    """The store holding ``runs``, ingested. The caller closes it when done: until then
    this process is the live writer of ``run_c6``, which stays ``running`` (a closed
    writer's unfinished runs become ``abandoned``)."""
    store = AuditStore(path, clock=FakeClock(now), background=False)
    write_runs(store, runs, now)
    store.flush()
    return store


def drop_rollups(path: Path) -> None:
    """A store without roll-ups (an older version's, or one whose roll-ups were removed)."""
    con = duckdb.connect(str(path))
    try:
        rollup.drop_rollups(con)
    finally:
        con.close()


@pytest.fixture(scope="module")
def known_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The store holding RUNS; it keeps its roll-ups itself, at every ingestion."""
    store = build_store(tmp_path_factory.mktemp("dash") / "known.duckdb", NOW)
    yield store.path
    store.close()


@pytest.fixture(scope="module")
def raw_store(known_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the known store without roll-ups: the dashboard reads its raw rows."""
    copy = tmp_path_factory.mktemp("dash-raw") / "raw.duckdb"
    shutil.copy(known_store, copy)
    drop_rollups(copy)
    return copy


@pytest.fixture(params=["raw", "rollup"])
def cells_source(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def con(known_store: Path, raw_store: Path, cells_source: str) -> Iterator[Any]:
    path = known_store if cells_source == "rollup" else raw_store
    with AuditStore(path, read_only=True).connect() as connection:
        yield connection


def load(con: Any, scope: q.Scope) -> q.DashboardData:
    return q.load_dashboard(con, scope, now=NOW)


def every(key: str, **filters: str) -> q.Scope:
    return q.Scope(q.Period.last(key, NOW), q.RunFilters(**filters))


@pytest.mark.parametrize("key", ["24h", "7d", "30d", "all"])
def test_kpis_are_exact_for_each_period(con: Any, cells_source: str, key: str) -> None:
    data = load(con, every(key))
    assert data.kpis == EXPECTED[key]
    assert data.source == cells_source


def test_the_mode_filter_changes_every_tile_and_counts_what_it_hides(con: Any) -> None:
    data = load(con, every("30d", mode="live"))
    assert data.kpis == EXPECTED_LIVE_30D
    assert data.modes == {"live": 3, "mock": 4, "replay": 1}
    assert sum(data.modes.values()) == EXPECTED["30d"].runs
    replay = load(con, every("30d", mode="replay")).kpis
    assert (replay.runs, replay.total_tokens, replay.drafts_rejected) == (1, 30, 1)


def test_filters_narrow_every_chart_and_table(con: Any) -> None:
    live = load(con, every("7d", mode="live"))
    assert live.connectors == (q.ConnectorCalls("email", 0, 0, 1),)  # b2's only call
    assert [(e.agent, e.error, e.runs) for e in live.errors] == [("seo", "LLMError: timeout", 1)]
    assert [e.run_id for e in live.breaker_events] == ["run_x3"]
    assert live.trend.runs == {"content": (0, 0, 0, 0, 0, 0, 1, 0), "seo": (0, 0, 0, 0, 0, 1, 0, 0)}
    assert live.trend.breaker_opens == (0, 0, 0, 0, 0, 1, 0, 0)
    mock = load(con, every("7d", mode="mock"))
    assert mock.breaker_events == () and mock.trend.breaker_opens == (0,) * 8
    assert mock.connectors == (q.ConnectorCalls("slack", 1, 1, 0),)
    seo = load(con, every("30d", agent="seo"))
    assert (seo.kpis.runs, seo.kpis.failed, seo.kpis.abandoned) == (3, 2, 1)
    assert [c.service for c in seo.connectors] == ["gsc"]
    assert seo.pending_drafts == () and seo.pending_elsewhere == 2
    failed = load(con, every("30d", status="failed"))
    assert [r.run_id for r in failed.runs] == ["run_x3", "run_d8"]
    assert failed.runs_matching == failed.kpis.runs == 2


def test_cost_by_agent_model_and_campaign_sums_to_the_tile(con: Any) -> None:
    data = load(con, every("30d"))
    costs = data.costs
    assert [(r.key, r.runs, r.tokens, r.cost_usd) for r in costs.by_campaign] == [
        ("launch", 1, 2000, 0.01), ("spring", 2, 700, 0.003), (None, 4, 160, 0.0014),
        ("=SUM(A1)", 1, 0, 0.0),
    ]  # fmt: skip
    assert [(r.key, r.runs, r.cost_usd) for r in costs.by_model] == [
        ("gpt-4o-mini", 7, 0.0139), ("gpt-4o", 1, 0.0005)]  # fmt: skip
    assert [(r.key, r.cost_usd) for r in costs.by_agent] == [
        ("content", 0.013), ("seo", 0.0013), ("email", 0.0001)]  # fmt: skip
    for rows in (costs.by_agent, costs.by_model, costs.by_campaign):
        assert round(sum(r.cost_usd for r in rows), 10) == data.kpis.cost_usd
        assert sum(r.runs for r in rows) == data.kpis.runs


def test_drafts_awaiting_review_agree_with_the_tile_and_say_what_is_elsewhere(con: Any) -> None:
    month = load(con, every("30d"))
    assert [d.draft_id for d in month.pending_drafts] == ["draft_b2", "draft_z7"]
    assert month.pending_total == month.kpis.drafts_pending == 2
    assert month.pending_elsewhere == 0
    week = load(con, every("7d"))
    assert [d.draft_id for d in week.pending_drafts] == ["draft_b2"]
    assert (week.pending_total, week.pending_elsewhere) == (1, 1)  # z7 started 20 days ago
    assert week.pending_drafts[0].intent == "content.generate_article"
    drafts, total = q.pending_drafts(con, every("30d"), limit=1)
    assert len(drafts) == 1 and total == 2


def test_custom_days_include_both_ends(con: Any) -> None:
    # 2026-03-07 (run_a4) to 2026-03-08 (run_x3): whole UTC days.
    period = q.Period.days(date(2026, 3, 8), date(2026, 3, 7))
    assert (period.since, period.until) == (datetime(2026, 3, 7), datetime(2026, 3, 9))
    kpis = load(con, q.Scope(period)).kpis
    assert (kpis.runs, kpis.succeeded, kpis.failed, kpis.total_tokens) == (2, 1, 1, 80)
    assert kpis.cost_usd == 0.0006
    assert (kpis.drafts_approved, kpis.drafts_pending, kpis.drafts_rejected) == (0, 0, 1)


def test_an_empty_period_shows_zeros(con: Any) -> None:
    data = load(con, q.Scope(q.Period.days(date(2020, 1, 1), date(2020, 1, 2))))
    assert data.kpis == q.Kpis()
    assert data.trend.starts == () and data.connectors == () and data.runs == ()
    assert data.costs == q.Costs()


def test_trend_counts_runs_failures_and_breaker_openings_per_day(con: Any) -> None:
    trend = load(con, every("7d")).trend
    assert trend.bucket == "day"
    assert trend.starts == tuple(datetime(2026, 3, 3) + timedelta(days=i) for i in range(8))
    assert trend.runs == {
        "content": (0, 0, 0, 0, 0, 0, 1, 2),
        "email": (0, 0, 0, 0, 1, 0, 0, 0),
        "seo": (0, 0, 0, 1, 0, 1, 0, 0),
    }
    assert trend.failures == {
        "content": (0,) * 8,
        "email": (0,) * 8,
        "seo": (0, 0, 0, 1, 0, 1, 0, 0),
    }
    assert trend.breaker_opens == (0, 0, 0, 0, 0, 1, 0, 0)  # x3 started on 03-08
    assert trend.first_partial and trend.last_partial


def test_trend_buckets_are_hours_days_or_weeks_by_span(con: Any) -> None:
    day = load(con, every("24h")).trend
    assert day.bucket == "hour" and len(day.starts) == 24  # 12:00 yesterday .. 11:00
    assert not day.first_partial and not day.last_partial
    assert sum(day.runs["content"]) == 2
    everything = load(con, every("all")).trend
    assert everything.bucket == "day"  # all time = since the first run, 100 days ago
    assert everything.starts[0] == datetime(2025, 11, 30)
    assert sum(sum(v) for v in everything.runs.values()) == 9
    half_year = q.Scope(q.Period.days(date(2025, 9, 1), date(2026, 3, 10)))
    weekly = load(con, half_year).trend
    assert weekly.bucket == "week" and weekly.starts[0] == datetime(2025, 9, 1)  # a Monday
    assert sum(sum(v) for v in weekly.runs.values()) == 9


def test_connector_calls_by_service_and_status(con: Any) -> None:
    assert load(con, every("7d")).connectors == (
        q.ConnectorCalls("email", succeeded=0, rate_limited=1, failed=1),
        q.ConnectorCalls("slack", succeeded=1, rate_limited=1, failed=0),
        q.ConnectorCalls("ga4", succeeded=1, rate_limited=0, failed=0),
    )
    month = {c.service: c for c in load(con, every("30d")).connectors}
    assert month["gsc"] == q.ConnectorCalls("gsc", 0, 0, 1)


def test_breaker_events_and_most_frequent_errors(con: Any) -> None:
    data = load(con, every("7d"))
    (event,) = data.breaker_events
    assert (event.agent, event.from_state, event.to_state, event.failures) == (
        "seo", "closed", "open", 3)  # fmt: skip
    assert event.run_id == "run_x3" and event.reason == "3 failures in a row"
    assert [(e.agent, e.error, e.runs) for e in data.errors] == [
        ("seo", "LLMError: timeout", 1),
        ("seo", "abandoned: the process that ran it exited before finishing", 1),
    ]


def test_recent_runs_newest_first_with_filters_and_totals(con: Any) -> None:
    week = load(con, every("7d"))
    assert [r.run_id for r in week.runs] == ["run_c6", "run_k1", "run_b2", "run_x3", "run_a4",
                                             "run_m5"]  # fmt: skip
    assert week.runs_matching == 6
    first = week.runs[1]
    assert (first.total_tokens, first.cost_usd, first.duration_ms) == (300, 0.001, 1000)
    assert week.runs[0].total_tokens is None and week.runs[0].duration_ms is None
    content = q.recent_runs(con, every("7d", agent="content"), limit=2)
    assert [r.run_id for r in content] == ["run_c6", "run_k1"]
    only = q.recent_runs(con, every("7d", mode="live", intent="content.generate_article"))
    assert [r.run_id for r in only] == ["run_b2"]


def test_choices_come_from_the_store(con: Any) -> None:
    choices = load(con, every("24h")).choices
    assert choices.agents == ("content", "email", "seo")
    assert choices.statuses == ("abandoned", "failed", "running", "succeeded")
    assert choices.modes == ("live", "mock", "replay")
    assert "seo.keyword_research" in choices.intents
    assert choices.total_runs == 9
    assert choices.last_started == NOW - timedelta(minutes=30)


def test_runs_csv_holds_the_scope_with_spreadsheet_formulas_defused(con: Any) -> None:
    text, count = q.runs_csv(con, every("7d"), limit=100)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert count == len(rows) == 6 and tuple(rows[0]) == q.CSV_COLUMNS
    k1 = next(r for r in rows if r["run_id"] == "run_k1")
    assert (k1["total_tokens"], k1["cost_usd"], k1["campaign"]) == ("300", "0.001", "spring")
    m5 = next(r for r in rows if r["run_id"] == "run_m5")
    assert m5["campaign"] == "'=SUM(A1)"  # a spreadsheet shows it, never runs it
    _, capped = q.runs_csv(con, every("7d", mode="live"), limit=1)
    assert capped == 1


def test_periods_are_whole_hours_up_to_now() -> None:
    late = datetime(2026, 3, 10, 12, 34, 56)
    day = q.Period.last("24h", late)
    assert (day.since, day.until) == (datetime(2026, 3, 9, 12, 0), None)
    assert day.describe() == "Last 24 hours (since 2026-03-09 12:00 UTC)"
    assert q.Period.last("all", late).describe() == "All time"


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        (date(9999, 12, 31), date(9999, 12, 31), "From: 9999-12-31 is after 2026-03-11"),
        (date(2026, 3, 1), date(2026, 3, 12), "To: 2026-03-12 is after 2026-03-11"),
        (date(1, 1, 1), date(2026, 3, 1), "From: 0001-01-01 is before 2000-01-01"),
    ],
)
def test_custom_dates_are_bounded_before_use(first: date, last: date, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        q.Period.days(first, last, today=NOW.date())


def test_period_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError, match="period: unknown '1y'"):
        q.Period.last("1y", NOW)


# ------------------------------------------------------------------- the roll-ups
def snapshot(data: q.DashboardData) -> q.DashboardData:
    return replace(data, timings_ms={}, source="")


SCOPES = [
    every(key, **filters)
    for key in ("24h", "7d", "30d", "all")
    for filters in ({}, {"mode": "live"}, {"mode": "mock", "agent": "seo"}, {"status": "failed"})
]


def test_rollups_and_raw_rows_give_the_same_page(known_store: Path, raw_store: Path) -> None:
    with AuditStore(raw_store, read_only=True).connect() as raw:
        raw_pages = [snapshot(load(raw, s)) for s in SCOPES]
        assert {load(raw, SCOPES[0]).source} == {"raw"}
    with AuditStore(known_store, read_only=True).connect() as rolled:
        rolled_pages = [snapshot(load(rolled, s)) for s in SCOPES]
        assert {load(rolled, SCOPES[0]).source} == {"rollup"}
    assert rolled_pages == raw_pages


def test_rollups_follow_writes_reviews_and_prunes(tmp_path: Path) -> None:
    """The store keeps its roll-ups at every ingestion and prune: after each step they
    equal the raw rows; roll-ups that fall behind are caught and the raw rows read."""
    from neonhub_nb.store.maintenance import prune

    path = tmp_path / "live.duckdb"
    store = build_store(path, NOW, RUNS[:3])
    try:

        def pages(use_rollups: bool) -> list[q.DashboardData]:
            with AuditStore(path, read_only=True).connect() as con:
                assert rollup.rollups_current(con)
                return [
                    snapshot(q.load_dashboard(con, s, now=NOW, use_rollups=use_rollups))
                    for s in SCOPES
                ]

        assert pages(True) == pages(False)
        write_runs(store, RUNS[3:6], NOW)  # new runs, a review
        store.flush()
        assert pages(True) == pages(False)

        store.review_draft("draft_b2", "approved", "Dana")  # a review of an older run
        store.flush()
        assert pages(True) == pages(False)
        assert load_kpis(path, "30d").drafts_approved == 2

        report = prune(store, timedelta(days=2), now=NOW, include_unreviewed=True)  # its own prune
        assert report.runs > 0
        assert pages(True) == pages(False)

        with duckdb.connect(str(path)) as con:  # roll-ups that fell behind a write
            con.execute("DELETE FROM agent_runs WHERE run_id = ?", [RUNS[0].run_id])
        with AuditStore(path, read_only=True).connect() as con:
            assert not rollup.rollups_current(con)
            assert q.load_dashboard(con, SCOPES[0], now=NOW).source == "raw"
    finally:
        store.close()


def load_kpis(path: Path, key: str) -> q.Kpis:
    with AuditStore(path, read_only=True).connect() as con:
        return q.load_dashboard(con, every(key), now=NOW).kpis


def test_a_store_without_rollups_is_never_written(known_store: Path) -> None:
    before = known_store.read_bytes()
    with AuditStore(known_store, read_only=True).connect() as con:
        q.load_dashboard(con, every("30d", mode="live"), now=NOW)
    assert known_store.read_bytes() == before
    assert not known_store.with_name(known_store.name + ".tmp").exists()
