"""Reading a PostgreSQL team store as the DuckDB file is read.

:func:`reading_cursor` gives the cursor every reader uses through
:func:`neonhub_nb.store.dialect.execute`: rows come back as DuckDB gives them, so the
dashboard, the exporter and the CLI handle one shape whatever the engine. The functions
below are the PostgreSQL side of :mod:`neonhub_nb.store.queries` (run lists, run
details, drafts); the dashboard's, the exporter's and the roll-ups' texts sit beside
DuckDB's in their own modules. pandas is imported only when a frame is built (the
dashboard's kernel never needs it).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.types.datetime import TimestamptzLoader
from psycopg.types.string import TextLoader

from ...errors import StoreError
from ..dialect import execute

if TYPE_CHECKING:
    import pandas as pd

    from ..queries import RunDetail

__all__ = [
    "counts_by_agent_status",
    "drafts",
    "duration_percentiles",
    "reading_cursor",
    "run_detail",
    "runs",
    "runs_per_bucket",
]


class _NaiveUtcLoader(TimestamptzLoader):
    """``timestamptz`` as a naive UTC datetime, as DuckDB's ``TIMESTAMP`` reads."""

    def load(self, data: Any) -> datetime:
        moment: datetime = super().load(data)
        return moment.astimezone(UTC).replace(tzinfo=None)


def reading_cursor(con: psycopg.Connection[Any]) -> psycopg.Cursor[Any]:
    """A cursor of ``con`` reading ``timestamptz`` as naive UTC and ``json``/``jsonb`` as
    their text (DuckDB reads JSON columns as text); the connection's own adapters are
    left as they are."""
    cursor = con.cursor()
    cursor.adapters.register_loader("timestamptz", _NaiveUtcLoader)
    cursor.adapters.register_loader("jsonb", TextLoader)
    cursor.adapters.register_loader("json", TextLoader)
    return cursor


# ---------------------------------------------------------------- store/queries.py
# The PostgreSQL side of neonhub_nb.store.queries, which hands a psycopg connection here:
# same signatures, same frames. Each text is DuckDB's with what PostgreSQL reads
# differently: explicit columns for EXCLUDE, percentile_cont for quantile_cont, explicit
# GROUP BY keys, date_trunc in UTC, and text ordered by its bytes (COLLATE "C") as
# DuckDB orders it.
Observers = Sequence[Any]


def _frame(
    con: psycopg.Connection[Any],
    query: str,
    params: Sequence[Any],
    observers: Observers,
    name: str,
) -> pd.DataFrame:
    import pandas as pd

    start = time.perf_counter()
    cursor = execute(con, query, params)
    columns = [column.name for column in cursor.description or ()]
    frame = pd.DataFrame(cursor.fetchall(), columns=columns)
    elapsed = time.perf_counter() - start
    for observe in observers:
        observe(name, elapsed)
    return frame


_PAGE_COLUMNS = (
    "run_id, started_at, agent, intent, status, mode, duration_ms, model, prompt_name, "
    "prompt_version, experiment_id, campaign, variant"
)


def runs(
    con: psycopg.Connection[Any],
    *,
    limit: int | None = 50,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    observers: Observers = (),
    **filters: str | Sequence[str] | None,
) -> pd.DataFrame:
    """:func:`neonhub_nb.store.queries.runs` on PostgreSQL."""
    from ..queries import RUN_FILTERS, period_clause

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
        where.append(f"{name} IN ({', '.join('?' for _ in values)})")
        params.extend(values)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    limit_clause = f"LIMIT {int(limit)}" if limit is not None else ""
    query = f"""
        WITH page AS (
            SELECT {_PAGE_COLUMNS}, error
            FROM agent_runs {clause}
            ORDER BY started_at DESC, run_id COLLATE "C" DESC {limit_clause}
        ),
        totals AS (
            SELECT run_id,
                   max(value) FILTER (WHERE name = 'total_tokens') AS total_tokens,
                   max(value) FILTER (WHERE name = 'cost_usd') AS cost_usd
            FROM agent_run_metrics
            WHERE run_id IN (SELECT run_id FROM page) AND name IN ('total_tokens', 'cost_usd')
            GROUP BY run_id
        )
        SELECT {", ".join(f"page.{c}" for c in _PAGE_COLUMNS.split(", "))},
               totals.total_tokens, totals.cost_usd, page.error
        FROM page LEFT JOIN totals USING (run_id)
        ORDER BY started_at DESC, run_id COLLATE "C" DESC"""
    return _frame(con, query, params, observers, "runs")


def counts_by_agent_status(
    con: psycopg.Connection[Any],
    since: datetime | None = None,
    until: datetime | None = None,
    observers: Observers = (),
) -> pd.DataFrame:
    """:func:`neonhub_nb.store.queries.counts_by_agent_status` on PostgreSQL."""
    from ..queries import period_clause

    clause, params = period_clause(since, until)
    return _frame(
        con,
        f"SELECT agent, status, count(*) AS runs FROM agent_runs {clause} "
        'GROUP BY agent, status ORDER BY agent COLLATE "C", status COLLATE "C"',
        params,
        observers,
        "counts_by_agent_status",
    )


def duration_percentiles(
    con: psycopg.Connection[Any],
    since: datetime | None = None,
    until: datetime | None = None,
    observers: Observers = (),
) -> pd.DataFrame:
    """:func:`neonhub_nb.store.queries.duration_percentiles` on PostgreSQL."""
    from ..queries import period_clause

    clause, params = period_clause(since, until)
    finished = ("AND" if clause else "WHERE") + " duration_ms IS NOT NULL"
    frame = _frame(
        con,
        f"""SELECT agent, count(*) AS runs,
                   percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY duration_ms)
                     AS quantiles
            FROM agent_runs {clause} {finished} GROUP BY agent ORDER BY agent COLLATE "C" """,
        params,
        observers,
        "duration_percentiles",
    )
    frame["p50_ms"] = [q[0] for q in frame["quantiles"]]
    frame["p95_ms"] = [q[1] for q in frame["quantiles"]]
    return frame.drop(columns=["quantiles"])


def runs_per_bucket(
    con: psycopg.Connection[Any],
    since: datetime | None = None,
    until: datetime | None = None,
    bucket: str = "hour",
    observers: Observers = (),
) -> pd.DataFrame:
    """:func:`neonhub_nb.store.queries.runs_per_bucket` on PostgreSQL."""
    from ..queries import period_clause

    if bucket not in {"hour", "day"}:
        raise StoreError(f"bucket: must be hour or day (got {bucket!r})")
    clause, params = period_clause(since, until)
    return _frame(
        con,
        f"""SELECT date_trunc('{bucket}', started_at, 'UTC') AS bucket, agent,
                   count(*) AS runs, count(*) FILTER (WHERE status = 'failed') AS failed
            FROM agent_runs {clause} GROUP BY 1, 2 ORDER BY bucket, agent COLLATE "C" """,
        params,
        observers,
        f"runs_per_{bucket}",
    )


def run_detail(con: psycopg.Connection[Any], run_id: str, observers: Observers = ()) -> RunDetail:
    """:func:`neonhub_nb.store.queries.run_detail` on PostgreSQL."""
    from ..queries import RunDetail, _record

    run = _frame(con, "SELECT * FROM agent_runs WHERE run_id = ?", [run_id], observers, "run")
    if run.empty:
        raise StoreError(f"run_id: no run {run_id!r} in the audit store")
    tools = _frame(
        con,
        "SELECT * FROM tool_executions WHERE run_id = ? ORDER BY seq",
        [run_id],
        observers,
        "run_tools",
    )
    metrics = _frame(
        con,
        "SELECT name, value, unit FROM agent_run_metrics WHERE run_id = ? "
        'ORDER BY name COLLATE "C"',
        [run_id],
        observers,
        "run_metrics",
    )
    draft = _frame(
        con, "SELECT * FROM content_drafts WHERE run_id = ?", [run_id], observers, "run_draft"
    )
    return RunDetail(_record(run), tools, metrics, None if draft.empty else _record(draft))


def drafts(
    con: psycopg.Connection[Any],
    *,
    status: str | None = None,
    limit: int = 50,
    observers: Observers = (),
) -> pd.DataFrame:
    """:func:`neonhub_nb.store.queries.drafts` on PostgreSQL."""
    clause = "WHERE status = ?" if status else ""
    params = [status] if status else []
    return _frame(
        con,
        f"""SELECT draft_id, run_id, title, status, topic, primary_keyword, reviewer,
                   review_note, created_at, reviewed_at
            FROM content_drafts {clause} ORDER BY created_at DESC LIMIT {int(limit)}""",
        params,
        observers,
        "drafts",
    )
