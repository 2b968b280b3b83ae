"""Read queries over the audit store, each returning pandas DataFrames.

They take an open DuckDB connection so the store decides how and when the file is
opened; ``observers`` receive ``(query_name, seconds)`` for the query-duration metric.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from ..errors import StoreError

__all__ = ["RUN_FILTERS", "RunDetail", "drafts", "run_detail", "runs", "timed_df"]

Observers = Sequence[Any]
RUN_FILTERS = ("agent", "intent", "status", "mode", "experiment_id", "campaign", "variant")


def timed_df(
    con: Any,
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


def runs(
    con: Any,
    *,
    limit: int | None = 50,
    since: datetime | None = None,
    until: datetime | None = None,
    observers: Observers = (),
    **filters: str | Sequence[str] | None,
) -> pd.DataFrame:
    """Runs newest first. Filters: ``agent``, ``intent``, ``status``, ``mode``,
    ``experiment_id``, ``campaign``, ``variant`` (a value or a list), ``since``/``until``."""
    unknown = set(filters) - set(RUN_FILTERS)
    if unknown:
        raise StoreError(
            f"filter: unknown run filter {sorted(unknown)}; known: {', '.join(RUN_FILTERS)}"
        )
    where: list[str] = []
    params: list[Any] = []
    for name in RUN_FILTERS:
        value = filters.get(name)
        if value is None:
            continue
        values = [value] if isinstance(value, str) else list(value)
        where.append(f"{name} IN ({', '.join('?' for _ in values)})")
        params.extend(values)
    if since is not None:
        where.append("started_at >= ?")
        params.append(since)
    if until is not None:
        where.append("started_at < ?")
        params.append(until)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    limit_clause = f"LIMIT {int(limit)}" if limit is not None else ""
    query = f"""
        SELECT run_id, started_at, agent, intent, status, mode, duration_ms,
               model, prompt_name, prompt_version, experiment_id, campaign, variant,
               (SELECT value FROM agent_run_metrics m
                 WHERE m.run_id = r.run_id AND m.name = 'total_tokens') AS total_tokens,
               (SELECT value FROM agent_run_metrics m
                 WHERE m.run_id = r.run_id AND m.name = 'cost_usd') AS cost_usd,
               error
        FROM agent_runs r {clause}
        ORDER BY started_at DESC, run_id DESC {limit_clause}"""
    return timed_df(con, query, params, observers, "runs")


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


def _loads(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _record(frame: pd.DataFrame) -> dict[str, Any]:
    row = frame.iloc[0].to_dict()
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        elif value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
            value = None
        out[str(key)] = _loads(value)
    return out


def run_detail(con: Any, run_id: str, observers: Observers = ()) -> RunDetail:
    run = timed_df(con, "SELECT * FROM agent_runs WHERE run_id = ?", [run_id], observers, "run")
    if run.empty:
        raise StoreError(f"run_id: no run {run_id!r} in the audit store")
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
    return RunDetail(_record(run), tools, metrics, None if draft.empty else _record(draft))


def drafts(
    con: Any, *, status: str | None = None, limit: int = 50, observers: Observers = ()
) -> pd.DataFrame:
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
