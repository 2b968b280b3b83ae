"""The dashboard's numbers: one refresh = a handful of queries on one short connection.

Every function takes an open connection to the audit store (``with store.connect() as
con``): a DuckDB file's or a PostgreSQL team store's. Where the engines' SQL differs,
both texts sit side by side (:class:`~neonhub_nb.store.dialect.Sql`) and the
connection picks its own. Each returns plain frozen dataclasses (``data``), so the
widgets, the tests and the charts share one shape and nothing here needs pandas. Widget
values only ever reach SQL as bound parameters, never as SQL text.

Sums (runs, tokens, cost, drafts, connector calls, errors) are read from hourly "cells"
(``rollup``): the store's roll-up tables when it keeps them current, else temp tables
computed from the raw rows of the period at the start of the refresh. Both are the same
SQL, so the numbers cannot differ; only the time does (``bench/bench_dashboard.py``).
Percentiles, the newest runs, drafts and breaker events are read from the raw rows.
PostgreSQL orders text by its bytes here (``COLLATE "C"``), as DuckDB does, so ties
break the same way whatever the server's locale.
"""

from __future__ import annotations

import csv
import io
import math
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from ..store import rollups as rollup
from ..store.dialect import Sql, fetchall, fetchone, is_postgres
from .data import (
    DEFAULT_PERIOD,
    PERIODS,
    BreakerEvent,
    Bucket,
    Choices,
    ConnectorCalls,
    CostRow,
    Costs,
    DashboardData,
    DraftRow,
    ErrorGroup,
    Kpis,
    Period,
    RunFilters,
    RunRow,
    Scope,
    Trend,
)

__all__ = [
    "CSV_COLUMNS",
    "DEFAULT_PERIOD",
    "PERIODS",
    "BreakerEvent",
    "Cells",
    "Choices",
    "ConnectorCalls",
    "CostRow",
    "Costs",
    "DashboardData",
    "DraftRow",
    "ErrorGroup",
    "Kpis",
    "Period",
    "RunFilters",
    "RunRow",
    "Scope",
    "Trend",
    "breaker_events",
    "cells_for",
    "choices",
    "connector_calls",
    "costs",
    "error_groups",
    "kpis",
    "load_dashboard",
    "mode_counts",
    "pending_drafts",
    "recent_runs",
    "runs_csv",
    "trend",
]

T = TypeVar("T")


class Cells:
    """Where the hourly cells are: the store's roll-ups, this connection's temp tables
    (DuckDB), or subqueries over the raw rows (PostgreSQL, whose reader may not create
    tables). ``runs``, ``tools`` and ``errors`` go after ``FROM``; a subquery's parameters
    (``*_params``) go before the query's own."""

    def __init__(
        self,
        prefix: str,
        source: str,
        subqueries: dict[str, tuple[str, list[Any]]] | None = None,
    ) -> None:
        self.runs = f"{prefix}run_cells"
        self.tools = f"{prefix}tool_cells"
        self.errors = f"{prefix}error_cells"
        self.runs_params: list[Any] = []
        self.tools_params: list[Any] = []
        self.errors_params: list[Any] = []
        self.source = source
        if subqueries is not None:
            self.runs, self.runs_params = subqueries["dash_run_cells"]
            self.tools, self.tools_params = subqueries["dash_tool_cells"]
            self.errors, self.errors_params = subqueries["dash_error_cells"]


ROLLUPS = Cells("dash_", "rollup")


def cells_for(con: Any, scope: Scope, *, use_rollups: bool = True) -> Cells:
    """The store's roll-ups when current, else cells of the scope's runs computed now."""
    if use_rollups and rollup.rollups_current(con):
        return ROLLUPS
    if is_postgres(con):
        from ..store.pg.rollups import raw_cells

        where, params = scope.where()
        return Cells("raw_", "raw", raw_cells(where, params))
    # DuckDB would put the temp tables' blocks in "<store>.tmp", beside the store; a
    # read-only reader writes nothing there (and on some disks DuckDB then reports the
    # not-yet-created folder as full).
    con.execute("SET temp_directory = ?", [tempfile.gettempdir()])
    where, params = scope.where()
    rollup.create_raw_cells(con, where, params, "raw_")
    return Cells("raw_", "raw")


# ------------------------------------------------------------------------ queries
def choices(con: Any, cells: Cells) -> Choices:
    """The filters' choices (every value the store holds, whatever the period)."""
    rolled = cells.source == "rollup"
    source, total = (cells.runs, "sum(runs)") if rolled else ("agent_runs", "count(*)")
    params = cells.runs_params if rolled else []
    row = fetchone(
        con,
        Sql(
            duckdb=f"""SELECT list(DISTINCT agent ORDER BY agent),
                       list(DISTINCT intent ORDER BY intent),
                       list(DISTINCT status ORDER BY status), list(DISTINCT mode ORDER BY mode),
                       {total} FROM {source}""",
            postgres=f"""SELECT array_agg(DISTINCT agent COLLATE "C" ORDER BY agent COLLATE "C"),
                       array_agg(DISTINCT intent COLLATE "C" ORDER BY intent COLLATE "C"),
                       array_agg(DISTINCT status COLLATE "C" ORDER BY status COLLATE "C"),
                       array_agg(DISTINCT mode COLLATE "C" ORDER BY mode COLLATE "C"),
                       {total} FROM {source}""",
        ),
        params,
    )
    first, last = fetchone(con, "SELECT min(started_at), max(started_at) FROM agent_runs")
    by_agent: dict[str, list[str]] = {}
    for agent, intent in fetchall(
        con, f"SELECT DISTINCT agent, intent FROM {source} ORDER BY 1, 2", params
    ):
        by_agent.setdefault(agent, []).append(intent)
    return Choices(
        agents=tuple(row[0] or ()),
        intents=tuple(row[1] or ()),
        statuses=tuple(row[2] or ()),
        modes=tuple(row[3] or ()),
        intents_by_agent={agent: tuple(found) for agent, found in by_agent.items()},
        total_runs=int(row[4] or 0),
        first_started=first,
        last_started=last,
    )


def kpis(con: Any, scope: Scope, cells: Cells) -> Kpis:
    """The tiles: sums from the cells, exact percentiles from the raw durations."""
    where, params = scope.where("hour")
    row = fetchone(
        con,
        f"""SELECT coalesce(sum(runs), 0),
                   coalesce(sum(runs) FILTER (WHERE status = 'succeeded'), 0),
                   coalesce(sum(runs) FILTER (WHERE status = 'failed'), 0),
                   coalesce(sum(runs) FILTER (WHERE status = 'abandoned'), 0),
                   coalesce(sum(runs) FILTER (WHERE status IN ('queued', 'running')), 0),
                   coalesce(sum(tokens), 0), coalesce(sum(cost_usd), 0),
                   coalesce(sum(drafts_approved), 0), coalesce(sum(drafts_pending), 0),
                   coalesce(sum(drafts_rejected), 0)
            FROM {cells.runs} WHERE {where}""",
        [*cells.runs_params, *params],
    )
    raw_where, raw_params = scope.where()
    percentiles = fetchone(
        con,
        Sql(  # one sort for both
            duckdb=f"""SELECT quantile_cont(duration_ms, [0.5, 0.95])
                FROM agent_runs WHERE {raw_where} AND duration_ms IS NOT NULL""",
            postgres=f"""SELECT percentile_cont(ARRAY[0.5, 0.95])
                    WITHIN GROUP (ORDER BY duration_ms)
                FROM agent_runs WHERE {raw_where} AND duration_ms IS NOT NULL""",
        ),
        raw_params,
    )[0] or (None, None)
    return Kpis(
        runs=int(row[0]),
        succeeded=int(row[1]),
        failed=int(row[2]),
        abandoned=int(row[3]),
        in_progress=int(row[4]),
        # Rounded to the microsecond: interpolation leaves float noise (3849.9999...).
        p50_ms=_round(percentiles[0], 3),
        p95_ms=_round(percentiles[1], 3),
        total_tokens=int(row[5]),
        cost_usd=float(row[6]),
        drafts_approved=int(row[7]),
        drafts_pending=int(row[8]),
        drafts_rejected=int(row[9]),
    )


def mode_counts(con: Any, scope: Scope, cells: Cells) -> dict[str, int]:
    """Runs per mode in the period under the other filters: what the mode switch hides."""
    if cells.source == "raw":  # computed cells hold only the scope's mode
        where, params = scope.where(mode=False)
        table = "agent_runs"
    else:
        where, params = scope.where("hour", mode=False)
        table = cells.runs
        params = [*cells.runs_params, *params]
    column = "count(*)" if table == "agent_runs" else "sum(runs)"
    text = f"SELECT mode, {column} FROM {table} WHERE {where} GROUP BY mode ORDER BY mode"
    rows = fetchall(con, Sql(text, text + ' COLLATE "C"'), params)
    return {r[0]: int(r[1]) for r in rows}


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


def trend(con: Any, scope: Scope, cells: Cells, choices: Choices, now: datetime) -> Trend:
    """Runs and failures per bucket and agent, breaker openings per bucket."""
    period = scope.period
    bucket = _bucket_for(period, choices, now)
    where, params = scope.where("hour")
    start = Sql(f"date_trunc('{bucket}', hour)", f"date_trunc('{bucket}', hour, 'UTC')")
    rows = fetchall(
        con,
        Sql(
            *(
                f"""SELECT {b} AS b, agent, sum(runs),
                       coalesce(sum(runs) FILTER (WHERE status IN ('failed', 'abandoned')), 0)
                FROM {cells.runs} WHERE {where} GROUP BY 1, 2"""
                for b in (start.duckdb, start.postgres)
            )
        ),
        [*cells.runs_params, *params],
    )
    opens = fetchall(
        con,
        Sql(
            *(
                f"""SELECT {b}, sum(calls) FROM {cells.tools}
                WHERE service = '(breaker)' AND {where} GROUP BY 1"""
                for b in (start.duckdb, start.postgres)
            )
        ),
        [*cells.tools_params, *params],
    )
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


def connector_calls(con: Any, scope: Scope, cells: Cells) -> tuple[ConnectorCalls, ...]:
    """Connector calls of the scope's runs per service, busiest first."""
    where, params = scope.where("hour")

    def text(collate: str) -> str:
        return f"""SELECT service,
                   coalesce(sum(calls) FILTER (WHERE ok AND NOT rate_limited), 0),
                   coalesce(sum(calls) FILTER (WHERE ok AND rate_limited), 0),
                   coalesce(sum(calls) FILTER (WHERE NOT ok), 0)
            FROM (SELECT *, call_status <> 'failed' AS ok FROM {cells.tools}
                  WHERE service <> '(breaker)' AND {where}) AS c
            GROUP BY service ORDER BY sum(calls) DESC, service{collate}"""

    rows = fetchall(con, Sql(text(""), text(' COLLATE "C"')), [*cells.tools_params, *params])
    return tuple(ConnectorCalls(r[0], int(r[1]), int(r[2]), int(r[3])) for r in rows)


def costs(con: Any, scope: Scope, cells: Cells, limit: int = 12) -> Costs:
    """Cost, tokens and runs by agent, by model and by campaign, dearest first."""
    where, params = scope.where("hour")

    def by(column: str) -> tuple[CostRow, ...]:
        def text(collate: str) -> str:
            return f"""SELECT {column}, sum(runs), sum(tokens), sum(cost_usd) FROM {cells.runs}
                WHERE {where} GROUP BY {column}
                ORDER BY sum(cost_usd) DESC, sum(runs) DESC, {column}{collate} NULLS LAST
                LIMIT {int(limit)}"""

        rows = fetchall(con, Sql(text(""), text(' COLLATE "C"')), [*cells.runs_params, *params])
        return tuple(CostRow(r[0], int(r[1]), int(r[2]), float(r[3])) for r in rows)

    return Costs(by("agent"), by("model"), by("campaign"))


def error_groups(con: Any, scope: Scope, cells: Cells, limit: int = 8) -> tuple[ErrorGroup, ...]:
    """The most frequent errors of the scope's failed and abandoned runs."""
    where, params = scope.where("hour")

    def text(collate: str) -> str:
        return f"""SELECT agent, error, sum(runs), max(last_seen) FROM {cells.errors}
            WHERE {where} GROUP BY agent, error
            ORDER BY sum(runs) DESC, max(last_seen) DESC, agent{collate}, error{collate}
            LIMIT {int(limit)}"""

    rows = fetchall(con, Sql(text(""), text(' COLLATE "C"')), [*cells.errors_params, *params])
    return tuple(ErrorGroup(r[0], r[1], int(r[2]), r[3]) for r in rows)


def breaker_events(con: Any, scope: Scope, limit: int = 10) -> tuple[BreakerEvent, ...]:
    """The latest circuit-breaker transitions recorded by the scope's runs."""
    where, params = scope.where(prefix="r.")

    def text(failures: str, collate: str) -> str:
        return f"""SELECT t.started_at, t.request->>'agent', t.request->>'from', t.request->>'to',
                   {failures}, t.request->>'reason', t.run_id
            FROM tool_executions t JOIN agent_runs r USING (run_id)
            WHERE t.tool = 'circuit_breaker' AND t.operation = 'transition' AND {where}
            ORDER BY t.started_at DESC, t.execution_id{collate} DESC LIMIT {int(limit)}"""

    rows = fetchall(
        con,
        Sql(
            text("TRY_CAST(t.request->>'failures' AS INTEGER)", ""),
            text(rollup.pg_int("(t.request->>'failures')"), ' COLLATE "C"'),
        ),
        params,
    )
    return tuple(
        BreakerEvent(r[0], r[1] or "?", r[2] or "?", r[3] or "?", r[4], r[5] or "", r[6])
        for r in rows
    )


def _totals(con: Any, ids: list[str]) -> dict[str, tuple[float | None, float | None]]:
    """Tokens and cost of these runs. The ids go in as a list, which lets DuckDB skip
    the metrics' row groups by run_id (ids grow with time): ~10 ms at a million runs."""
    if not ids:
        return {}

    def text(among: str) -> str:
        return f"""SELECT run_id, max(value) FILTER (WHERE name = 'total_tokens'),
                  max(value) FILTER (WHERE name = 'cost_usd')
           FROM agent_run_metrics
           WHERE name IN ('total_tokens', 'cost_usd') AND {among}
           GROUP BY run_id"""

    found = fetchall(
        con,
        Sql(text("list_contains(?::VARCHAR[], run_id)"), text("run_id = ANY(?::text[])")),
        [ids],
    )
    return {r[0]: (r[1], r[2]) for r in found}


def recent_runs(con: Any, scope: Scope, limit: int = 100) -> tuple[RunRow, ...]:
    """The newest ``limit`` runs of the scope, with their tokens and cost."""
    where, params = scope.where()

    def text(collate: str) -> str:
        return f"""SELECT run_id, started_at, agent, intent, status, mode, duration_ms
            FROM agent_runs WHERE {where}
            ORDER BY started_at DESC, run_id{collate} DESC LIMIT {int(limit)}"""

    rows = fetchall(con, Sql(text(""), text(' COLLATE "C"')), params)
    totals = _totals(con, [r[0] for r in rows])
    page = []
    for run_id, started_at, agent, intent, status, mode, duration_ms in rows:
        tokens, cost = totals.get(run_id, (None, None))
        page.append(
            RunRow(run_id, started_at, agent, intent, status, mode, duration_ms, tokens, cost)
        )
    return tuple(page)


def pending_drafts(
    con: Any, scope: Scope, limit: int = 20, expected: int | None = None
) -> tuple[tuple[DraftRow, ...], int]:
    """The scope's drafts awaiting review (status ``draft``), newest first, and how many
    drafts await review in the whole store. ``expected``: how many the scope holds, if
    known (the cells say), which saves the search when it is 0 and sizes it otherwise.

    Joining every pending draft with the runs costs ~150 ms at a million runs; the newest
    pending drafts usually hold the page, so look at a window of them sized by the share
    of pending drafts the scope holds, and widen it (x10) only while it holds too few.
    """
    where, params = scope.where(prefix="r.")
    total = int(fetchone(con, "SELECT count(*) FROM content_drafts WHERE status = 'draft'")[0])
    if expected == 0 or total == 0:
        return (), total
    share = (expected or total) / total
    window = max(50, math.ceil(limit / share * 2))

    def text(collate: str) -> str:
        return f"""WITH newest AS (
                  SELECT * FROM content_drafts WHERE status = 'draft'
                  ORDER BY created_at DESC, draft_id{collate} DESC LIMIT {int(window)})
                SELECT d.draft_id, d.run_id, d.title, d.topic, d.primary_keyword,
                       d.created_at, r.agent, r.intent
                FROM newest d JOIN agent_runs r USING (run_id)
                WHERE {where}
                ORDER BY d.created_at DESC, d.draft_id{collate} DESC LIMIT {int(limit)}"""

    while True:
        rows = fetchall(con, Sql(text(""), text(' COLLATE "C"')), params)
        if len(rows) >= limit or window >= total:
            return tuple(DraftRow(*r) for r in rows), total
        window *= 10


CSV_COLUMNS = (
    "run_id", "started_at", "finished_at", "agent", "intent", "status", "mode", "model",
    "campaign", "experiment_id", "variant", "prompt_version", "duration_ms",
    "total_tokens", "cost_usd", "error",
)  # fmt: skip
# Spreadsheets run a cell that starts with one of these as a formula (OWASP "CSV
# injection"): such text cells get a leading apostrophe.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def runs_csv(con: Any, scope: Scope, limit: int) -> tuple[str, int]:
    """The scope's newest ``limit`` runs as CSV text (header + rows) and the row count."""
    where, params = scope.where()

    def text(collate: str) -> str:
        return f"""SELECT run_id, started_at, finished_at, agent, intent, status, mode, model,
                   campaign, experiment_id, variant, prompt_version, duration_ms, error
            FROM agent_runs WHERE {where}
            ORDER BY started_at DESC, run_id{collate} DESC LIMIT {int(limit)}"""

    rows = fetchall(con, Sql(text(""), text(' COLLATE "C"')), params)
    totals = _totals(con, [r[0] for r in rows])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        tokens, cost = totals.get(row[0], (None, None))
        values = [*row[:13], tokens, cost, row[13]]
        writer.writerow([_csv_cell(v) for v in values])
    return out.getvalue(), len(rows)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def load_dashboard(
    con: Any,
    scope: Scope | Period,
    filters: RunFilters | None = None,
    *,
    now: datetime,
    runs_limit: int = 100,
    drafts_limit: int = 20,
    use_rollups: bool = True,
) -> DashboardData:
    """Run every query of one refresh on ``con`` and time each one.

    ``scope`` may be a bare :class:`Period` (then ``filters`` apply, default: none).
    """
    if isinstance(scope, Period):
        scope = Scope(scope, filters or RunFilters())
    timings: dict[str, float] = {}

    def timed(name: str, query: Callable[[], T]) -> T:
        start = time.perf_counter()
        result = query()
        timings[name] = (time.perf_counter() - start) * 1000
        return result

    cells = timed("cells", lambda: cells_for(con, scope, use_rollups=use_rollups))
    found = timed("choices", lambda: choices(con, cells))
    figures = timed("kpis", lambda: kpis(con, scope, cells))
    drafts, pending_all = timed(
        "drafts", lambda: pending_drafts(con, scope, drafts_limit, figures.drafts_pending)
    )
    return DashboardData(
        scope=scope,
        loaded_at=now,
        choices=found,
        kpis=figures,
        trend=timed("trend", lambda: trend(con, scope, cells, found, now)),
        connectors=timed("connectors", lambda: connector_calls(con, scope, cells)),
        costs=timed("costs", lambda: costs(con, scope, cells)),
        breaker_events=timed("breaker", lambda: breaker_events(con, scope)),
        errors=timed("errors", lambda: error_groups(con, scope, cells)),
        runs=timed("runs", lambda: recent_runs(con, scope, runs_limit)),
        runs_matching=figures.runs,
        pending_drafts=drafts,
        pending_elsewhere=pending_all - figures.drafts_pending,
        modes=timed("modes", lambda: mode_counts(con, scope, cells)),
        source=cells.source,
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
