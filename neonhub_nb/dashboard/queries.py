"""The dashboard's numbers: one refresh = a handful of queries on one short connection.

Every function takes an open DuckDB connection (``with store.connect() as con``) and
returns plain frozen dataclasses, so the widgets, the tests and the charts share one
shape and nothing here needs pandas. Widget values only ever reach SQL as bound
parameters, never as SQL text. Queries are written for a million runs: see
``bench/bench_dashboard.py`` for the timings and the notes inline for why they look
the way they do. The shapes live in ``data`` and are re-exported here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from .data import (
    DEFAULT_PERIOD,
    PERIODS,
    BreakerEvent,
    Bucket,
    Choices,
    ConnectorCalls,
    DashboardData,
    DraftRow,
    ErrorGroup,
    Kpis,
    Period,
    RunFilters,
    RunRow,
    Trend,
)

__all__ = [
    "DEFAULT_PERIOD",
    "PERIODS",
    "BreakerEvent",
    "Choices",
    "ConnectorCalls",
    "DashboardData",
    "DraftRow",
    "ErrorGroup",
    "Kpis",
    "Period",
    "RunFilters",
    "RunRow",
    "Trend",
    "breaker_events",
    "choices",
    "connector_calls",
    "error_groups",
    "kpis",
    "load_dashboard",
    "pending_drafts",
    "recent_runs",
    "trend",
]

T = TypeVar("T")
# Same reading as the exporter's (store/baselines.py): true/false, or a count of 429s.
_RATE_LIMITED = (
    "coalesce(TRY_CAST(response->>'rate_limited' AS DOUBLE), "
    "TRY_CAST(response->>'rate_limited' AS BOOLEAN)::DOUBLE, 0) > 0"
)


# ------------------------------------------------------------------------ queries
def choices(con: Any) -> Choices:
    row = con.execute(
        """SELECT list(DISTINCT agent ORDER BY agent), list(DISTINCT intent ORDER BY intent),
                  list(DISTINCT status ORDER BY status), list(DISTINCT mode ORDER BY mode),
                  count(*), min(started_at), max(started_at)
           FROM agent_runs"""
    ).fetchone()
    return Choices(
        agents=tuple(row[0] or ()),
        intents=tuple(row[1] or ()),
        statuses=tuple(row[2] or ()),
        modes=tuple(row[3] or ()),
        total_runs=int(row[4]),
        first_started=row[5],
        last_started=row[6],
    )


def kpis(con: Any, period: Period) -> Kpis:
    """The tiles, in two statements (the second needs the first's id bounds).

    Tokens and cost live in ``agent_run_metrics`` (millions of rows at a million runs).
    Joining them to the period's runs costs a hash join over all of them; instead, sum
    the metrics whose run id lies between the period's smallest and largest run id,
    leaving out the few runs in that id range that started outside the period. That is
    exact (every run of the period has its id in the range, and metrics are only ever
    written with their run), and fast because run ids grow with time and rows are
    stored in ingestion order, so DuckDB skips the row groups outside the bounds.
    """
    where, params = period.where()
    runs = con.execute(
        f"""SELECT count(*),
                   count(*) FILTER (WHERE status = 'succeeded'),
                   count(*) FILTER (WHERE status = 'failed'),
                   count(*) FILTER (WHERE status = 'abandoned'),
                   count(*) FILTER (WHERE status IN ('queued', 'running')),
                   quantile_cont(duration_ms, [0.5, 0.95]),  -- one sort for both
                   min(run_id), max(run_id)
            FROM agent_runs WHERE {where}""",
        params,
    ).fetchone()
    percentiles = runs[5] or (None, None)  # NULL when no run has a duration
    low, high = runs[6], runs[7]
    draft_where, draft_params = period.where("created_at")
    # No runs in the period: NULL bounds, and the metrics part sums nothing.
    # Cost is summed as DECIMAL so the total does not depend on the order of addition.
    rest = con.execute(
        f"""WITH outside AS (
              SELECT run_id FROM agent_runs WHERE run_id BETWEEN ? AND ? AND NOT ({where})),
            metrics AS (
              SELECT sum(value) FILTER (WHERE name = 'total_tokens') AS tokens,
                     sum(value::DECIMAL(24, 10)) FILTER (WHERE name = 'cost_usd') AS cost
              FROM agent_run_metrics
              WHERE name IN ('total_tokens', 'cost_usd') AND run_id BETWEEN ? AND ?
                AND run_id NOT IN (SELECT run_id FROM outside)),
            drafts AS (
              SELECT count(*) FILTER (WHERE status = 'approved') AS approved,
                     count(*) FILTER (WHERE status = 'draft') AS pending,
                     count(*) FILTER (WHERE status = 'rejected') AS rejected
              FROM content_drafts WHERE {draft_where})
            SELECT tokens, cost, approved, pending, rejected FROM metrics, drafts""",
        [low, high, *params, low, high, *draft_params],
    ).fetchone()
    return Kpis(
        runs=int(runs[0]),
        succeeded=int(runs[1]),
        failed=int(runs[2]),
        abandoned=int(runs[3]),
        in_progress=int(runs[4]),
        # Rounded to the microsecond: interpolation leaves float noise (3849.9999...).
        p50_ms=_round(percentiles[0], 3),
        p95_ms=_round(percentiles[1], 3),
        total_tokens=int(rest[0] or 0),
        cost_usd=float(rest[1] or 0),
        drafts_approved=int(rest[2]),
        drafts_pending=int(rest[3]),
        drafts_rejected=int(rest[4]),
    )


def _bucket_for(period: Period, choices: Choices, now: datetime) -> Bucket:
    since = period.since or choices.first_started or now
    until = period.until or now
    span = until - since
    if span <= timedelta(days=2):
        return "hour"
    return "day" if span <= timedelta(days=120) else "week"


_STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}


def _bucket_starts(bucket: Bucket, since: datetime, until: datetime) -> list[datetime]:
    start = since.replace(minute=0, second=0, microsecond=0)
    if bucket != "hour":
        start = start.replace(hour=0)
    if bucket == "week":  # date_trunc('week') starts on Monday
        start -= timedelta(days=start.weekday())
    starts = []
    while start < until:
        starts.append(start)
        start += _STEP[bucket]
    return starts


def trend(con: Any, period: Period, choices: Choices, now: datetime) -> Trend:
    bucket = _bucket_for(period, choices, now)
    where, params = period.where()
    rows = con.execute(
        f"""SELECT date_trunc('{bucket}', started_at) AS b, agent, count(*),
                   count(*) FILTER (WHERE status IN ('failed', 'abandoned'))
            FROM agent_runs WHERE {where} GROUP BY ALL""",
        params,
    ).fetchall()
    opens = con.execute(
        f"""SELECT date_trunc('{bucket}', started_at), count(*)
            FROM tool_executions
            WHERE tool = 'circuit_breaker' AND request->>'to' = 'open' AND {where}
            GROUP BY ALL""",
        params,
    ).fetchall()
    if not rows and not opens:
        return Trend(bucket)
    seen = [r[0] for r in rows] + [o[0] for o in opens]
    since = period.since or min(seen)
    until = max(period.until or now, max(seen) + timedelta(seconds=1))
    starts = _bucket_starts(bucket, since, until)
    index = {start: i for i, start in enumerate(starts)}
    runs: dict[str, list[int]] = {}
    failures: dict[str, list[int]] = {}
    for start, agent, count, failed in rows:
        runs.setdefault(agent, [0] * len(starts))[index[start]] = int(count)
        failures.setdefault(agent, [0] * len(starts))[index[start]] = int(failed)
    breaker = [0] * len(starts)
    for start, count in opens:
        breaker[index[start]] = int(count)
    return Trend(
        bucket,
        tuple(starts),
        {a: tuple(v) for a, v in sorted(runs.items())},
        {a: tuple(v) for a, v in sorted(failures.items())},
        tuple(breaker),
        first_partial=period.since is not None and starts[0] < period.since,
        last_partial=starts[-1] + _STEP[bucket] > (period.until or now),
    )


def connector_calls(con: Any, period: Period) -> tuple[ConnectorCalls, ...]:
    """Per service, busiest first. Only connector rows are read (LLM responses hold
    whole articles), and only those whose text mentions ``rate_limited`` are parsed."""
    where, params = period.where()
    rows = con.execute(
        f"""SELECT substr(tool, 11) AS service,
                   count(*) FILTER (WHERE status <> 'failed' AND NOT limited),
                   count(*) FILTER (WHERE status <> 'failed' AND limited),
                   count(*) FILTER (WHERE status = 'failed')
            FROM (SELECT tool, status,
                         CASE WHEN response LIKE '%rate_limited%'
                              THEN coalesce({_RATE_LIMITED}, false) ELSE false END AS limited
                  FROM tool_executions WHERE tool LIKE 'connector.%' AND {where})
            GROUP BY ALL ORDER BY count(*) DESC, service""",
        params,
    ).fetchall()
    return tuple(ConnectorCalls(r[0], int(r[1]), int(r[2]), int(r[3])) for r in rows)


def breaker_events(con: Any, period: Period, limit: int = 10) -> tuple[BreakerEvent, ...]:
    where, params = period.where()
    rows = con.execute(
        f"""SELECT started_at, request->>'agent', request->>'from', request->>'to',
                   TRY_CAST(request->>'failures' AS INTEGER), request->>'reason', run_id
            FROM tool_executions
            WHERE tool = 'circuit_breaker' AND operation = 'transition' AND {where}
            ORDER BY started_at DESC, execution_id DESC LIMIT {int(limit)}""",
        params,
    ).fetchall()
    return tuple(
        BreakerEvent(r[0], r[1] or "?", r[2] or "?", r[3] or "?", r[4], r[5] or "", r[6])
        for r in rows
    )


def error_groups(con: Any, period: Period, limit: int = 8) -> tuple[ErrorGroup, ...]:
    """The most frequent errors of failed and abandoned runs."""
    where, params = period.where()
    rows = con.execute(
        f"""SELECT agent, coalesce(error, '(no message)'), count(*), max(started_at)
            FROM agent_runs WHERE status IN ('failed', 'abandoned') AND {where}
            GROUP BY ALL ORDER BY count(*) DESC, max(started_at) DESC LIMIT {int(limit)}""",
        params,
    ).fetchall()
    return tuple(ErrorGroup(r[0], r[1], int(r[2]), r[3]) for r in rows)


def recent_runs(
    con: Any, period: Period, filters: RunFilters, limit: int = 100
) -> tuple[tuple[RunRow, ...], int]:
    """The newest ``limit`` runs matching, and how many match in all.

    The page's tokens and cost are looked up by run id between the page's smallest and
    largest id (see :func:`kpis`): about 10 ms at a million runs, where a join of the
    page with the whole metrics table takes 80.
    """
    where, params = period.where()
    for name, value in filters.as_kwargs().items():
        where += f" AND {name} = ?"
        params.append(value)
    rows = con.execute(
        f"""SELECT run_id, started_at, agent, intent, status, mode, duration_ms
            FROM agent_runs WHERE {where}
            ORDER BY started_at DESC, run_id DESC LIMIT {int(limit)}""",
        params,
    ).fetchall()
    totals: dict[str, tuple[float | None, float | None]] = {}
    if rows:
        ids = [r[0] for r in rows]
        found = con.execute(
            """SELECT run_id, max(value) FILTER (WHERE name = 'total_tokens'),
                      max(value) FILTER (WHERE name = 'cost_usd')
               FROM agent_run_metrics
               WHERE name IN ('total_tokens', 'cost_usd') AND run_id BETWEEN ? AND ?
                 AND run_id IN (SELECT unnest(?::VARCHAR[]))
               GROUP BY run_id""",
            [min(ids), max(ids), ids],
        ).fetchall()
        totals = {r[0]: (r[1], r[2]) for r in found}
    matching = con.execute(f"SELECT count(*) FROM agent_runs WHERE {where}", params).fetchone()
    page = []
    for run_id, started_at, agent, intent, status, mode, duration_ms in rows:
        tokens, cost = totals.get(run_id, (None, None))
        page.append(
            RunRow(run_id, started_at, agent, intent, status, mode, duration_ms, tokens, cost)
        )
    return tuple(page), int(matching[0])


def pending_drafts(con: Any, limit: int = 20) -> tuple[tuple[DraftRow, ...], int]:
    """Drafts awaiting review (status ``draft``), newest first, whatever the period."""
    rows = con.execute(
        f"""SELECT draft_id, run_id, title, topic, primary_keyword, created_at
            FROM content_drafts WHERE status = 'draft'
            ORDER BY created_at DESC, draft_id DESC LIMIT {int(limit)}"""
    ).fetchall()
    # A separate count: count(*) OVER () would sort every pending draft.
    total = con.execute("SELECT count(*) FROM content_drafts WHERE status = 'draft'").fetchone()
    return tuple(DraftRow(*r) for r in rows), int(total[0])


def load_dashboard(
    con: Any,
    period: Period,
    filters: RunFilters | None = None,
    *,
    now: datetime,
    runs_limit: int = 100,
) -> DashboardData:
    """Run every query of one refresh on ``con`` and time each one."""
    filters = filters or RunFilters()
    timings: dict[str, float] = {}

    def timed(name: str, query: Callable[[], T]) -> T:
        start = time.perf_counter()
        result = query()
        timings[name] = (time.perf_counter() - start) * 1000
        return result

    found = timed("choices", lambda: choices(con))
    runs, matching = timed("runs", lambda: recent_runs(con, period, filters, runs_limit))
    drafts, pending = timed("drafts", lambda: pending_drafts(con))
    return DashboardData(
        period=period,
        filters=filters,
        loaded_at=now,
        choices=found,
        kpis=timed("kpis", lambda: kpis(con, period)),
        trend=timed("trend", lambda: trend(con, period, found, now)),
        connectors=timed("connectors", lambda: connector_calls(con, period)),
        breaker_events=timed("breaker", lambda: breaker_events(con, period)),
        errors=timed("errors", lambda: error_groups(con, period)),
        runs=runs,
        runs_matching=matching,
        pending_drafts=drafts,
        pending_total=pending,
        timings_ms=timings,
    )


def _round(value: Any, digits: int) -> float | None:
    number = _float(value)
    return None if number is None else round(number, digits)


def _float(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if number != number else number  # NaN (pandas' missing) -> None
