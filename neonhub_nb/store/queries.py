"""Read queries over the audit store, each returning pandas DataFrames.

They take an open DuckDB connection so the store decides how and when the file is
opened; ``observers`` receive ``(query_name, seconds)`` for the query-duration metric.
Handed a PostgreSQL (psycopg) connection, each gives the same frame from a team store
(its texts are in :mod:`neonhub_nb.store.pg.queries`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
from duckdb import DuckDBPyConnection

from ..clock import parse_time
from ..errors import StoreError
from ..redaction import safe_value
from .dialect import is_postgres

if TYPE_CHECKING:
    from ..models import RunResult
    from ..records import RunRecord

__all__ = [
    "BOOKKEEPING_COLUMNS",
    "RUN_FILTERS",
    "RunDetail",
    "counts_by_agent_status",
    "drafts",
    "duration_percentiles",
    "first_record",
    "period_clause",
    "run_detail",
    "run_filter_clause",
    "runs",
    "runs_per_bucket",
    "timed_df",
    "without_bookkeeping",
]

Observers = Sequence[Any]
RUN_FILTERS = ("agent", "intent", "status", "mode", "experiment_id", "campaign", "variant")


def _pg() -> Any:
    from .pg import queries

    return queries


def timed_df(
    con: DuckDBPyConnection,
    query: str,
    params: Sequence[Any] | Mapping[str, Any] | None,
    observers: Observers,
    name: str,
) -> pd.DataFrame:
    start = time.perf_counter()
    frame: pd.DataFrame = con.execute(query, params or []).df()
    elapsed = time.perf_counter() - start
    for observe in observers:
        observe(name, elapsed)
    return frame


def run_filter_clause(
    since: datetime | str | None,
    until: datetime | str | None,
    filters: Mapping[str, str | Sequence[str] | None],
    *,
    postgres: bool,
) -> tuple[str, list[Any]]:
    """``WHERE ...`` (or ``""``) and its parameters for :func:`runs`' filters, on either
    engine: each filter takes a value or a list, as ``IN (?, ...)`` on DuckDB and as one
    array parameter (``= ANY(?)``) on PostgreSQL. Raises :class:`StoreError` naming an
    unknown filter."""
    unknown = set(filters) - set(RUN_FILTERS)
    if unknown:
        raise StoreError(
            f"filter: unknown run filter {sorted(unknown)}; known: {', '.join(RUN_FILTERS)}"
        )
    period, params = period_clause(since, until)
    where: list[str] = [period.removeprefix("WHERE ")] if period else []
    for name in RUN_FILTERS:
        value = filters.get(name)
        if value is None:
            continue
        values = [value] if isinstance(value, str) else list(value)
        if postgres:
            where.append(f"{name} = ANY(?)")
            params.append(values)
        else:
            where.append(f"{name} IN ({', '.join('?' for _ in values)})")
            params.extend(values)
    return (f"WHERE {' AND '.join(where)}" if where else ""), params


def runs(
    con: DuckDBPyConnection,
    *,
    limit: int | None = 50,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    observers: Observers = (),
    **filters: str | Sequence[str] | None,
) -> pd.DataFrame:
    """Runs newest first. Filters: ``agent``, ``intent``, ``status``, ``mode``,
    ``experiment_id``, ``campaign``, ``variant`` (a value or a list), ``since``/``until``."""
    if is_postgres(con):
        frame: pd.DataFrame = _pg().runs(
            con, limit=limit, since=since, until=until, observers=observers, **filters
        )
        return frame
    clause, params = run_filter_clause(since, until, filters, postgres=False)
    limit_clause = f"LIMIT {int(limit)}" if limit is not None else ""
    # Pick the page of runs first, then join only their metrics: at a million runs the
    # metrics table has millions of rows and must not be scanned for a 50-row page.
    query = f"""
        WITH page AS (
            SELECT run_id, started_at, agent, intent, status, mode, duration_ms,
                   model, prompt_name, prompt_version, experiment_id, campaign, variant, error
            FROM agent_runs {clause}
            ORDER BY started_at DESC, run_id DESC {limit_clause}
        ),
        totals AS (
            SELECT run_id,
                   max(value) FILTER (WHERE name = 'total_tokens') AS total_tokens,
                   max(value) FILTER (WHERE name = 'cost_usd') AS cost_usd
            FROM agent_run_metrics
            WHERE run_id IN (SELECT run_id FROM page) AND name IN ('total_tokens', 'cost_usd')
            GROUP BY run_id
        )
        SELECT page.* EXCLUDE (error), totals.total_tokens, totals.cost_usd, page.error
        FROM page LEFT JOIN totals USING (run_id)
        ORDER BY started_at DESC, run_id DESC"""
    return timed_df(con, query, params, observers, "runs")


def period_clause(since: object, until: object) -> tuple[str, list[Any]]:
    """``WHERE started_at >= ? AND started_at < ?`` (the parts that apply) and its params.

    ``since``/``until`` are ages, naive times (UTC) or aware times, made naive UTC by
    :func:`~neonhub_nb.clock.parse_time`: an aware value handed to DuckDB as such would be
    compared in the session's time zone with the naive-UTC column.
    """
    where: list[str] = []
    params: list[Any] = []
    start, end = parse_time(since, "since"), parse_time(until, "until")
    if start is not None:
        where.append("started_at >= ?")
        params.append(start)
    if end is not None:
        where.append("started_at < ?")
        params.append(end)
    return ("WHERE " + " AND ".join(where)) if where else "", params


def counts_by_agent_status(
    con: DuckDBPyConnection,
    since: datetime | None = None,
    until: datetime | None = None,
    observers: Observers = (),
) -> pd.DataFrame:
    """Runs per (agent, status) in the period."""
    if is_postgres(con):
        counts: pd.DataFrame = _pg().counts_by_agent_status(con, since, until, observers)
        return counts
    clause, params = period_clause(since, until)
    return timed_df(
        con,
        f"SELECT agent, status, count(*) AS runs FROM agent_runs {clause} "
        "GROUP BY agent, status ORDER BY agent, status",
        params,
        observers,
        "counts_by_agent_status",
    )


def duration_percentiles(
    con: DuckDBPyConnection,
    since: datetime | None = None,
    until: datetime | None = None,
    observers: Observers = (),
) -> pd.DataFrame:
    """p50 and p95 run duration (ms) of finished runs per agent."""
    if is_postgres(con):
        found: pd.DataFrame = _pg().duration_percentiles(con, since, until, observers)
        return found
    clause, params = period_clause(since, until)
    finished = ("AND" if clause else "WHERE") + " duration_ms IS NOT NULL"
    # One exact quantile call with a list sorts each group once instead of twice.
    frame = timed_df(
        con,
        f"""SELECT agent, count(*) AS runs,
                   quantile_cont(duration_ms, [0.5, 0.95]) AS quantiles
            FROM agent_runs {clause} {finished} GROUP BY agent ORDER BY agent""",
        params,
        observers,
        "duration_percentiles",
    )
    frame["p50_ms"] = [q[0] for q in frame["quantiles"]]
    frame["p95_ms"] = [q[1] for q in frame["quantiles"]]
    return frame.drop(columns=["quantiles"])


def runs_per_bucket(
    con: DuckDBPyConnection,
    since: datetime | None = None,
    until: datetime | None = None,
    bucket: str = "hour",
    observers: Observers = (),
) -> pd.DataFrame:
    """Runs per time bucket (``hour`` or ``day``) and agent, for trend charts."""
    if is_postgres(con):
        buckets: pd.DataFrame = _pg().runs_per_bucket(con, since, until, bucket, observers)
        return buckets
    if bucket not in {"hour", "day"}:
        raise StoreError(f"bucket: must be hour or day (got {safe_value(bucket)})")
    clause, params = period_clause(since, until)
    return timed_df(
        con,
        f"""SELECT date_trunc('{bucket}', started_at) AS bucket, agent, count(*) AS runs,
                   count(*) FILTER (WHERE status = 'failed') AS failed
            FROM agent_runs {clause} GROUP BY ALL ORDER BY bucket, agent""",
        params,
        observers,
        f"runs_per_{bucket}",
    )


@dataclass(frozen=True)
class RunDetail:
    """One run: its row, its tool executions, its metrics and its draft (if any)."""

    run: dict[str, Any]
    tool_executions: pd.DataFrame
    metrics: pd.DataFrame
    draft: dict[str, Any] | None

    def metric(self, name: str, default: float = 0.0) -> float:
        hits = self.metrics.loc[self.metrics["name"] == name, "value"]
        return float(hits.iloc[0]) if len(hits) else default

    def record(self) -> RunRecord:
        """The run's row as the typed record the store was given."""
        from ..records import RunRecord

        fields = RunRecord.model_fields
        row = {k: (None if _missing(v) else v) for k, v in self.run.items() if k in fields}
        row["input"] = row.get("input") or {}
        row["output"] = row.get("output") or {}
        row["redacted_fields"] = row.get("redacted_fields") or []
        return RunRecord.model_validate(row)

    def to_result(self) -> RunResult:
        """The run as a :class:`RunResult`, as it was returned when it ran (for reopening)."""
        from ..models import Metric, RunResult
        from ..records import ToolExecution

        draft = self.draft or {}
        tools = []
        for row in self.tool_executions.to_dict("records"):
            clean = {str(k): (None if _missing(v) else _loads(v)) for k, v in row.items()}
            tools.append(ToolExecution.model_validate(clean))
        metrics = tuple(
            Metric(name=str(r["name"]), value=float(r["value"]), unit=str(r["unit"] or ""))
            for r in self.metrics.to_dict("records")
        )
        return RunResult(
            **self.record().model_dump(),
            draft_id=draft.get("draft_id"),
            title=draft.get("title"),
            content=draft.get("content"),
            metadata=draft.get("metadata") or {},
            prompt_tokens=int(self.metric("prompt_tokens")),
            completion_tokens=int(self.metric("completion_tokens")),
            cost_usd=self.metric("cost_usd"),
            tool_executions=tuple(tools),
            metrics=metrics,
        )


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _loads(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


#: Columns the store keeps for its own bookkeeping (the exporter's counting on a team
#: store, migration 12), which no reader shows.
BOOKKEEPING_COLUMNS = ("ingest_xid",)


def without_bookkeeping(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` without :data:`BOOKKEEPING_COLUMNS` (a ``SELECT *`` of a run or a tool
    execution, whichever the engine)."""
    return frame.drop(columns=list(BOOKKEEPING_COLUMNS), errors="ignore")


def first_record(frame: pd.DataFrame) -> dict[str, Any]:
    """The first row of ``frame`` as plain values: datetimes, None for missing, JSON
    text parsed (how a run's or a draft's row is handed to callers)."""
    row = frame.iloc[0].to_dict()
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        elif value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
            value = None
        out[str(key)] = _loads(value)
    return out


def run_detail(con: DuckDBPyConnection, run_id: str, observers: Observers = ()) -> RunDetail:
    if is_postgres(con):
        detail: RunDetail = _pg().run_detail(con, run_id, observers)
        return detail
    run = timed_df(con, "SELECT * FROM agent_runs WHERE run_id = ?", [run_id], observers, "run")
    if run.empty:
        raise StoreError(f"run_id: no run {safe_value(run_id)} in the audit store")
    tools = timed_df(
        con,
        "SELECT * FROM tool_executions WHERE run_id = ? ORDER BY seq",
        [run_id],
        observers,
        "run_tools",
    )
    metrics = timed_df(
        con,
        "SELECT name, value, unit FROM agent_run_metrics WHERE run_id = ? ORDER BY name",
        [run_id],
        observers,
        "run_metrics",
    )
    draft = timed_df(
        con, "SELECT * FROM content_drafts WHERE run_id = ?", [run_id], observers, "run_draft"
    )
    return RunDetail(
        first_record(without_bookkeeping(run)),
        without_bookkeeping(tools),
        metrics,
        None if draft.empty else first_record(draft),
    )


def drafts(
    con: DuckDBPyConnection,
    *,
    status: str | None = None,
    limit: int = 50,
    observers: Observers = (),
) -> pd.DataFrame:
    if is_postgres(con):
        listed: pd.DataFrame = _pg().drafts(con, status=status, limit=limit, observers=observers)
        return listed
    clause = "WHERE status = ?" if status else ""
    params = [status] if status else []
    return timed_df(
        con,
        f"""SELECT draft_id, run_id, title, status, topic, primary_keyword, reviewer,
                   review_note, created_at, reviewed_at
            FROM content_drafts {clause} ORDER BY created_at DESC LIMIT {int(limit)}""",
        params,
        observers,
        "drafts",
    )
