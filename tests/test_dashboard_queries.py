"""The dashboard's queries against a store with known contents: exact KPI values.

The store is written through the public write path (``record_run_started``,
``record_tool_execution``, ``record_run_finished``, ``review_draft``, then ``flush``) with
times relative to ``now``, so the browser tests can build the same store for today.
Run ids are deliberately not in time order: the id-range shortcut in ``kpis`` must stay
exact whatever the ids look like.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from neonhub_nb.clock import FakeClock
from neonhub_nb.dashboard import queries as q
from neonhub_nb.models import Metric, ToolExecution
from neonhub_nb.store import AuditStore

NOW = datetime(2026, 3, 10, 12, 0)
SECRET = "sk-test-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"


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
    extra_input: dict[str, Any] = field(default_factory=dict)


DAY = 24.0
RUNS: tuple[Run, ...] = (
    Run("run_k1", 3, "content", "content.generate_article", "succeeded", duration_ms=1000,
        tokens=(100, 200), cost=0.001, draft="draft_k1", review="approved",
        extra_input={"api_key": SECRET},
        tools=(("llm", "chat.completions", "succeeded", {"text": "Draft"}),
               ("connector.slack", "post_message", "succeeded", {"rate_limited": 0}),
               ("connector.slack", "post_message", "succeeded", {"rate_limited": 1}))),
    Run("run_b2", 26, "content", "content.generate_article", "succeeded", mode="live",
        duration_ms=3000, tokens=(150, 250), cost=0.002, draft="draft_b2",
        tools=(("llm", "chat.completions", "succeeded", {}),
               ("connector.email", "send", "failed", {"http_status": 500}))),
    Run("run_x3", 49, "seo", "seo.audit_page", "failed", duration_ms=2000, tokens=(50, 0),
        cost=0.0005, error="LLMError: timeout",
        tools=(("llm", "chat.completions", "failed", {}),)),
    Run("run_a4", 72, "email", "email.compose_campaign", "succeeded", duration_ms=4000,
        tokens=(10, 20), cost=0.0001, draft="draft_a4", review="rejected",
        tools=(("connector.email", "send", "succeeded", {"rate_limited": True}),
               ("connector.ga4", "run_report", "succeeded", {"rows": 3}))),
    Run("run_m5", 95, "seo", "seo.audit_page", "abandoned",
        error="abandoned: the process that ran it exited before finishing",
        tools=(("llm", "chat.completions", "succeeded", {}),)),
    Run("run_c6", 0.5, "content", "content.rewrite", "running"),
    Run("run_z7", 20 * DAY, "content", "content.generate_article", "succeeded",
        duration_ms=5000, tokens=(1000, 1000), cost=0.01, draft="draft_z7"),
    Run("run_d8", 25 * DAY, "seo", "seo.keyword_research", "failed", duration_ms=6000,
        tokens=(80, 0), cost=0.0008, error="ConnectorError: gsc 503",
        tools=(("connector.gsc", "query", "failed", {"http_status": 503}),)),
    Run("run_e9", 100 * DAY, "email", "email.compose_campaign", "succeeded",
        duration_ms=7000, tokens=(200, 300), cost=0.005),
)  # fmt: skip

# What the tiles must show, worked out by hand from RUNS.
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


def started(run: Run, now: datetime) -> datetime:
    return now - timedelta(hours=run.hours_ago)


def write_runs(store: AuditStore, runs: tuple[Run, ...], now: datetime) -> None:
    """Record ``runs`` as the orchestrator would: start, tool calls, finish, review."""
    for run in runs:
        at = started(run, now)
        row: dict[str, Any] = {
            "run_id": run.run_id, "agent": run.agent, "intent": run.intent, "mode": run.mode,
            "started_at": at, "status": "running", "model": "gpt-4o-mini",
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


@pytest.fixture(scope="module")
def known_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    store = build_store(tmp_path_factory.mktemp("dash") / "known.duckdb", NOW)
    yield store.path
    store.close()


@pytest.fixture
def con(known_store: Path) -> Iterator[Any]:
    with AuditStore(known_store, read_only=True).connect() as connection:
        yield connection


@pytest.mark.parametrize("key", ["24h", "7d", "30d", "all"])
def test_kpis_are_exact_for_each_period(con: Any, key: str) -> None:
    kpis = q.kpis(con, q.Period.last(key, NOW))
    assert kpis == EXPECTED[key]


def test_success_rate_counts_finished_runs_only() -> None:
    assert EXPECTED["7d"].success_rate == pytest.approx(3 / 5)
    assert EXPECTED["30d"].success_rate == pytest.approx(4 / 7)
    assert q.Kpis(runs=1, in_progress=1).success_rate is None


def test_custom_days_include_both_ends(con: Any) -> None:
    # 2026-03-07 (run_a4) to 2026-03-08 (run_x3): whole UTC days.
    period = q.Period.days(date(2026, 3, 8), date(2026, 3, 7))
    assert (period.since, period.until) == (datetime(2026, 3, 7), datetime(2026, 3, 9))
    kpis = q.kpis(con, period)
    assert (kpis.runs, kpis.succeeded, kpis.failed, kpis.total_tokens) == (2, 1, 1, 80)
    assert kpis.cost_usd == 0.0006
    assert (kpis.drafts_approved, kpis.drafts_pending, kpis.drafts_rejected) == (0, 0, 1)


def test_an_empty_period_shows_zeros(con: Any) -> None:
    period = q.Period.days(date(2020, 1, 1), date(2020, 1, 2))
    assert q.kpis(con, period) == q.Kpis()
    assert q.trend(con, period, q.choices(con), NOW).starts == ()
    assert q.connector_calls(con, period) == ()


def test_trend_counts_runs_failures_and_breaker_openings_per_day(con: Any) -> None:
    trend = q.trend(con, q.Period.last("7d", NOW), q.choices(con), NOW)
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
    assert trend.breaker_opens == (0, 0, 0, 0, 0, 1, 0, 0)
    assert trend.first_partial and trend.last_partial


def test_trend_buckets_are_hours_days_or_weeks_by_span(con: Any) -> None:
    day = q.trend(con, q.Period.last("24h", NOW), q.choices(con), NOW)
    assert day.bucket == "hour" and len(day.starts) == 24  # 12:00 yesterday .. 11:00
    assert not day.first_partial and not day.last_partial
    assert sum(day.runs["content"]) == 2
    everything = q.trend(con, q.Period.last("all", NOW), q.choices(con), NOW)
    assert everything.bucket == "day"  # all time = since the first run, 100 days ago
    assert everything.starts[0] == datetime(2025, 11, 30)
    assert sum(sum(v) for v in everything.runs.values()) == 9
    half_year = q.Period.days(date(2025, 9, 1), date(2026, 3, 10))
    weekly = q.trend(con, half_year, q.choices(con), NOW)
    assert weekly.bucket == "week" and weekly.starts[0] == datetime(2025, 9, 1)  # a Monday
    assert sum(sum(v) for v in weekly.runs.values()) == 9


def test_connector_calls_by_service_and_status(con: Any) -> None:
    calls = q.connector_calls(con, q.Period.last("7d", NOW))
    assert calls == (
        q.ConnectorCalls("email", succeeded=0, rate_limited=1, failed=1),
        q.ConnectorCalls("slack", succeeded=1, rate_limited=1, failed=0),
        q.ConnectorCalls("ga4", succeeded=1, rate_limited=0, failed=0),
    )
    month = {c.service: c for c in q.connector_calls(con, q.Period.last("30d", NOW))}
    assert month["gsc"] == q.ConnectorCalls("gsc", 0, 0, 1)


def test_breaker_events_and_most_frequent_errors(con: Any) -> None:
    period = q.Period.last("7d", NOW)
    (event,) = q.breaker_events(con, period)
    assert (event.agent, event.from_state, event.to_state, event.failures) == (
        "seo", "closed", "open", 3)  # fmt: skip
    assert event.run_id == "run_x3" and event.reason == "3 failures in a row"
    errors = q.error_groups(con, period)
    assert [(e.agent, e.error, e.runs) for e in errors] == [
        ("seo", "LLMError: timeout", 1),
        ("seo", "abandoned: the process that ran it exited before finishing", 1),
    ]


def test_recent_runs_newest_first_with_filters_and_totals(con: Any) -> None:
    week = q.Period.last("7d", NOW)
    rows, matching = q.recent_runs(con, week, q.RunFilters())
    assert [r.run_id for r in rows] == ["run_c6", "run_k1", "run_b2", "run_x3", "run_a4",
                                        "run_m5"]  # fmt: skip
    assert matching == 6
    first = rows[1]
    assert (first.total_tokens, first.cost_usd, first.duration_ms) == (300, 0.001, 1000)
    assert rows[0].total_tokens is None and rows[0].duration_ms is None
    rows, matching = q.recent_runs(con, week, q.RunFilters(agent="content"), limit=2)
    assert [r.run_id for r in rows] == ["run_c6", "run_k1"] and matching == 3
    rows, _ = q.recent_runs(con, q.Period.last("30d", NOW), q.RunFilters(status="failed"))
    assert [r.run_id for r in rows] == ["run_x3", "run_d8"]
    rows, _ = q.recent_runs(con, week, q.RunFilters(mode="live", intent="content.generate_article"))
    assert [r.run_id for r in rows] == ["run_b2"]


def test_pending_drafts_whatever_the_period(con: Any) -> None:
    drafts, total = q.pending_drafts(con)
    assert [d.draft_id for d in drafts] == ["draft_b2", "draft_z7"] and total == 2
    drafts, total = q.pending_drafts(con, limit=1)
    assert len(drafts) == 1 and total == 2


def test_choices_come_from_the_store(con: Any) -> None:
    choices = q.choices(con)
    assert choices.agents == ("content", "email", "seo")
    assert choices.statuses == ("abandoned", "failed", "running", "succeeded")
    assert choices.modes == ("live", "mock")
    assert "seo.keyword_research" in choices.intents
    assert choices.total_runs == 9
    assert choices.last_started == NOW - timedelta(minutes=30)


def test_load_dashboard_reads_everything_on_one_connection(con: Any) -> None:
    data = q.load_dashboard(con, q.Period.last("7d", NOW), now=NOW)
    assert data.kpis == EXPECTED["7d"]
    assert data.runs_matching == 6 and data.pending_total == 2
    assert set(data.timings_ms) == {
        "choices", "runs", "drafts", "kpis", "trend", "connectors", "breaker", "errors",
    }  # fmt: skip


def test_period_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError, match="period: unknown '1y'"):
        q.Period.last("1y", NOW)
