"""Hourly roll-ups of the audit store: what lets the dashboard answer in milliseconds.

Three "cell" tables hold, per UTC hour a run started in and per combination of the
columns the page filters and groups by, the sums every tile and chart needs:

* ``dash_run_cells``: runs, tokens, cost and drafts by review status, per
  (hour, agent, intent, status, mode, model, campaign);
* ``dash_tool_cells``: connector calls by service, call status and rate limiting, and
  circuit-breaker openings (service ``(breaker)``), per (hour, agent, intent, status, mode);
* ``dash_error_cells``: failed and abandoned runs per error text.

A cell is always recomputed whole from the raw rows of its hour (``refresh_hours``),
never patched with deltas: whatever the order writes arrive in, a cell equals what the
raw tables say. The same SQL builds the cells the dashboard computes on the fly
(:func:`create_raw_cells`) when a store has no roll-ups, so both paths share one
definition and the tests compare them.

The audit store keeps them (the dashboard only reads them)::

    create_rollups(con)                      # migration 10 (builds from the rows)
    update_rollups(con, run_ids, draft_ids)  # in each ingestion transaction (ingest.py)
    hours = rollup_hours(con, where, params) # prune: before deleting (maintenance.py)
    refresh_hours(con, hours)                # prune: after deleting

Each function takes a DuckDB or a PostgreSQL (psycopg) connection. The cells' SQL is
written here for both engines, side by side (:class:`~neonhub_nb.store.dialect.Sql`);
how a PostgreSQL store keeps them current under concurrent writers is in
:mod:`neonhub_nb.store.pg.rollups`, which these functions hand a PostgreSQL connection to.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from duckdb import DuckDBPyConnection

from ..clock import utcnow
from .connection import one_row
from .dialect import Sql, is_postgres

__all__ = [
    "CELL_TABLES",
    "ROLLUP_VERSION",
    "STATUS_COUNTS_DIFFER",
    "cells_sql",
    "create_raw_cells",
    "create_rollups",
    "drop_rollups",
    "pg_int",
    "rate_limited_pg",
    "refresh_hours",
    "rollup_hours",
    "rollups_current",
    "update_rollups",
]

ROLLUP_VERSION = 1
CELL_TABLES = ("dash_run_cells", "dash_tool_cells", "dash_error_cells")

# Same reading as the exporter's (store/baselines.py): true/false, or a count of 429s.
# Only responses that mention it are parsed (LLM responses hold whole articles).
_RATE_LIMITED = (
    "CASE WHEN t.response LIKE '%rate_limited%' THEN coalesce("
    "TRY_CAST(t.response->>'rate_limited' AS DOUBLE), "
    "TRY_CAST(t.response->>'rate_limited' AS BOOLEAN)::DOUBLE, 0) > 0 ELSE false END"
)
# DuckDB's TRY_CASTs read a JSON number as itself, true/false as 1/0, and a string that
# spells a number or a truth value (true, t, yes, y, 1 / false, f, no, 0) the same way;
# anything else counts 0. PostgreSQL has no TRY_CAST: test the JSON type first.
# (No "?" in the pattern: "?" is the placeholder of every text here.)
_NUMBER_TEXT = r"'^\s*[-+]{0,1}([0-9]+\.{0,1}[0-9]*|\.[0-9]+)([eE][-+]{0,1}[0-9]+){0,1}\s*$'"


def pg_int(text: str) -> str:
    """PostgreSQL SQL reading the text ``text`` as DuckDB's ``TRY_CAST(text AS INTEGER)``
    does: a number rounded half away from zero, NULL when it is not one or not in range."""
    return (
        f"CASE WHEN {text} ~ {_NUMBER_TEXT} THEN CASE WHEN abs({text}::numeric) < 2147483647.5 "
        f"THEN round({text}::numeric)::int END END"
    )


def rate_limited_pg(response: str) -> str:
    """PostgreSQL SQL for the number of 429s the JSONB ``response`` records (0 if none),
    read as the DuckDB texts read it."""
    value = f"({response}->'rate_limited')"
    text = f"({response}->>'rate_limited')"
    return (
        f"coalesce(CASE jsonb_typeof({value}) "
        f"WHEN 'number' THEN {text}::float8 "
        f"WHEN 'boolean' THEN {text}::boolean::int::float8 "
        f"WHEN 'string' THEN CASE WHEN {text} ~ {_NUMBER_TEXT} THEN {text}::float8 "
        f"WHEN lower({text}) IN ('true', 't', 'yes', 'y') THEN 1 END END, 0)"
    )


_DDL = (
    """CREATE TABLE IF NOT EXISTS dash_run_cells (
        hour TIMESTAMP NOT NULL, agent VARCHAR NOT NULL, intent VARCHAR NOT NULL,
        status VARCHAR NOT NULL, mode VARCHAR NOT NULL, model VARCHAR, campaign VARCHAR,
        runs BIGINT NOT NULL, tokens DOUBLE NOT NULL, cost_usd DECIMAL(38, 10) NOT NULL,
        drafts_pending BIGINT NOT NULL, drafts_approved BIGINT NOT NULL,
        drafts_rejected BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS dash_tool_cells (
        hour TIMESTAMP NOT NULL, agent VARCHAR NOT NULL, intent VARCHAR NOT NULL,
        status VARCHAR NOT NULL, mode VARCHAR NOT NULL, service VARCHAR NOT NULL,
        call_status VARCHAR NOT NULL, rate_limited BOOLEAN NOT NULL, calls BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS dash_error_cells (
        hour TIMESTAMP NOT NULL, agent VARCHAR NOT NULL, intent VARCHAR NOT NULL,
        status VARCHAR NOT NULL, mode VARCHAR NOT NULL, error VARCHAR NOT NULL,
        runs BIGINT NOT NULL, last_seen TIMESTAMP NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS dash_rollup_state (
        version INTEGER NOT NULL, built_at TIMESTAMP NOT NULL)""",
)


# The two engines' texts differ only where their SQL does: DuckDB's TIMESTAMP holds naive
# UTC, PostgreSQL's TIMESTAMPTZ is truncated to the hour in UTC whatever the session's
# zone; DOUBLE and DECIMAL are float8 and numeric; the JSON reading (see above).
_HOUR = Sql("date_trunc('hour', started_at)", "date_trunc('hour', started_at, 'UTC')")


def _run_cells_sql(runs_where: str, owned: str) -> Sql:
    """Cells of the runs selected by ``runs_where`` (a condition on ``agent_runs``);
    ``owned`` selects the same runs' rows in the other tables by ``run_id``."""

    def text(hour: str, double: str, decimal: str, bigint: str, group_by: str) -> str:
        return f"""
        WITH r AS (
          SELECT run_id, {hour} AS hour, agent, intent, status, mode, model, campaign
          FROM agent_runs WHERE {runs_where}),
        m AS (
          SELECT run_id, sum(value) FILTER (WHERE name = 'total_tokens') AS tokens,
                 -- DECIMAL: the total does not depend on the order of addition
                 sum(value::{decimal}) FILTER (WHERE name = 'cost_usd') AS cost
          FROM agent_run_metrics
          WHERE name IN ('total_tokens', 'cost_usd') AND {owned}
          GROUP BY run_id),
        d AS (
          SELECT run_id, count(*) FILTER (WHERE status = 'draft') AS pending,
                 count(*) FILTER (WHERE status = 'approved') AS approved,
                 count(*) FILTER (WHERE status = 'rejected') AS rejected
          FROM content_drafts WHERE {owned} GROUP BY run_id)
        SELECT r.hour, r.agent, r.intent, r.status, r.mode, r.model, r.campaign,
               count(*) AS runs, coalesce(sum(m.tokens), 0)::{double} AS tokens,
               coalesce(sum(m.cost), 0)::{decimal} AS cost_usd,
               coalesce(sum(d.pending), 0)::{bigint} AS drafts_pending,
               coalesce(sum(d.approved), 0)::{bigint} AS drafts_approved,
               coalesce(sum(d.rejected), 0)::{bigint} AS drafts_rejected
        FROM r LEFT JOIN m USING (run_id) LEFT JOIN d USING (run_id)
        GROUP BY {group_by}"""

    return Sql(
        duckdb=text(_HOUR.duckdb, "DOUBLE", "DECIMAL(38, 10)", "BIGINT", "ALL"),
        postgres=text(
            _HOUR.postgres or "", "float8", "numeric(38, 10)", "bigint", "1, 2, 3, 4, 5, 6, 7"
        ),
    )


def _tool_cells_sql(runs_where: str, owned: str) -> Sql:
    def text(hour: str, rate_limited: str, group_by: str) -> str:
        return f"""
        WITH r AS (
          SELECT run_id, {hour} AS hour, agent, intent, status, mode
          FROM agent_runs WHERE {runs_where})
        SELECT r.hour, r.agent, r.intent, r.status, r.mode,
               CASE WHEN t.tool = 'circuit_breaker' THEN '(breaker)'
                    ELSE substr(t.tool, 11) END AS service,
               t.status AS call_status,
               CASE WHEN t.tool = 'circuit_breaker' THEN false ELSE {rate_limited} END
                 AS rate_limited,
               count(*) AS calls
        FROM (SELECT run_id, tool, status, request, response FROM tool_executions
              WHERE {owned}) t
        JOIN r USING (run_id)
        WHERE t.tool LIKE 'connector.%'
           OR (t.tool = 'circuit_breaker' AND t.request->>'to' = 'open')
        GROUP BY {group_by}"""

    return Sql(
        duckdb=text(_HOUR.duckdb, _RATE_LIMITED, "ALL"),
        postgres=text(
            _HOUR.postgres or "", f"{rate_limited_pg('t.response')} > 0", "1, 2, 3, 4, 5, 6, 7, 8"
        ),
    )


def _error_cells_sql(runs_where: str, owned: str) -> Sql:
    def text(hour: str, group_by: str) -> str:
        return f"""
        SELECT {hour} AS hour, agent, intent, status, mode,
               coalesce(error, '(no message)') AS error, count(*) AS runs,
               max(started_at) AS last_seen
        FROM agent_runs
        WHERE status IN ('failed', 'abandoned') AND ({runs_where})
        GROUP BY {group_by}"""

    return Sql(text(_HOUR.duckdb, "ALL"), text(_HOUR.postgres or "", "1, 2, 3, 4, 5, 6"))


def cells_sql(
    table: str, where: str, params: Sequence[Any], owned: str, owned_params: Sequence[Any]
) -> tuple[Sql, list[Any]]:
    """The SELECT computing ``table``'s cells (one of :data:`CELL_TABLES`) for the runs
    matching ``where``, whose rows in the other tables ``owned`` selects by ``run_id``,
    for each engine, and its parameters in order."""
    if table == "dash_run_cells":
        return _run_cells_sql(where, owned), [*params, *owned_params, *owned_params]
    if table == "dash_tool_cells":
        return _tool_cells_sql(where, owned), [*params, *owned_params]
    return _error_cells_sql(where, owned), list(params)


def _cells(
    table: str, where: str, params: Sequence[Any], owned: str, owned_params: Sequence[Any]
) -> tuple[str, list[Any]]:
    """DuckDB's text of :func:`cells_sql`."""
    query, args = cells_sql(table, where, params, owned, owned_params)
    return query.duckdb, args


# Beyond this many runs, a list of ids costs more than the semi-join it saves.
_MAX_LISTED = 20_000


def create_raw_cells(
    con: DuckDBPyConnection, where: str, params: Sequence[Any], prefix: str
) -> None:
    """Temp tables ``{prefix}run_cells`` etc. computed from the raw rows of the runs that
    match ``where`` (a condition on ``agent_runs``): what the dashboard reads when the
    store keeps no roll-ups. Works on a read-only connection (temp tables live in memory).

    DuckDB only: a PostgreSQL reader may not create tables, so the dashboard reads
    :func:`cells_sql` as subqueries there (``dashboard/aggregates.py``).
    """
    ids = [r[0] for r in con.execute(
        f"SELECT run_id FROM agent_runs WHERE {where} LIMIT {_MAX_LISTED + 1}", list(params)
    ).fetchall()]  # fmt: skip
    # Few runs: name them (row groups skipped by run_id). Many: the joins with the runs
    # select their rows, cheaper than a semi-join on millions of run ids.
    owned, owned_params = ("list_contains(?::VARCHAR[], run_id)", [ids])
    if len(ids) > _MAX_LISTED:
        owned, owned_params = "TRUE", []
    for table in CELL_TABLES:
        name = prefix + table.removeprefix("dash_")
        sql, args = _cells(table, where, params, owned, owned_params)
        con.execute(f"DROP TABLE IF EXISTS {name}")
        con.execute(f"CREATE TEMP TABLE {name} AS {sql}", args)


def _pg_rollups() -> Any:
    from .pg import rollups

    return rollups


def create_rollups(con: Any, now: datetime | None = None) -> None:
    """Create the roll-up tables and fill them from every row (idempotent: rebuilds).

    For the store's migration; about 2 s at a million runs (bench_dashboard.py prints it).
    """
    if is_postgres(con):
        _pg_rollups().create_rollups(con, now)
        return
    for statement in _DDL:
        con.execute(statement)
    for table in CELL_TABLES:
        sql, args = _cells(table, "TRUE", (), "TRUE", ())
        con.execute(f"DELETE FROM {table}")
        con.execute(f"INSERT INTO {table} {sql}", args)
    con.execute("DELETE FROM dash_rollup_state")
    con.execute("INSERT INTO dash_rollup_state VALUES (?, ?)", [ROLLUP_VERSION, now or utcnow()])


def drop_rollups(con: Any) -> None:
    """Remove the roll-ups (the dashboard then reads the raw rows). On PostgreSQL the
    tables stay (a migration made them) and are emptied."""
    if is_postgres(con):
        _pg_rollups().drop_rollups(con)
        return
    for table in (*CELL_TABLES, "dash_rollup_state"):
        con.execute(f"DROP TABLE IF EXISTS {table}")


def rollup_hours(con: Any, where: str, params: Sequence[Any] = ()) -> list[datetime]:
    """The hours (naive UTC) the runs matching ``where`` started in (call it before
    deleting them)."""
    if is_postgres(con):
        hours: list[datetime] = _pg_rollups().rollup_hours(con, where, params)
        return hours
    rows = con.execute(
        f"SELECT DISTINCT date_trunc('hour', started_at) FROM agent_runs WHERE {where}",
        list(params),
    ).fetchall()
    return sorted(r[0] for r in rows)


def refresh_hours(con: Any, hours: Iterable[datetime]) -> None:
    """Recompute every cell of ``hours`` from the raw rows (inside the caller's
    transaction): cells of hours with no runs left disappear."""
    if is_postgres(con):
        _pg_rollups().refresh_hours(con, hours)
        return
    wanted = sorted(set(hours))
    if not wanted:
        return
    # The range lets DuckDB skip row groups by their started_at statistics; the hours go
    # in as a joined list (a hash lookup per row).
    among = "IN (SELECT unnest(?::TIMESTAMP[]))"
    where = (
        "started_at >= ? AND started_at < ? + INTERVAL 1 HOUR "
        f"AND date_trunc('hour', started_at) {among}"
    )
    params = [wanted[0], wanted[-1], wanted]
    ids = [
        r[0]
        for r in con.execute(
            f"SELECT run_id FROM agent_runs WHERE {where} LIMIT {_MAX_LISTED + 1}", params
        ).fetchall()
    ]
    # Few runs (the usual pass: the last hour or two): named in a list parameter, which
    # lets DuckDB skip the other tables' row groups by run_id (3-4x faster than a join
    # at a million runs). Many (a mass review of old drafts): a semi-join.
    owned = "list_contains(?::VARCHAR[], run_id)"
    owned_params: list[Any] = [ids]
    if len(ids) > _MAX_LISTED:
        owned, owned_params = f"run_id IN (SELECT run_id FROM agent_runs WHERE {where})", params
    for table in CELL_TABLES:
        con.execute(f"DELETE FROM {table} WHERE hour {among}", [wanted])
        sql, args = _cells(table, where, params, owned, owned_params)
        con.execute(f"INSERT INTO {table} {sql}", args)


def update_rollups(
    con: Any, run_ids: Sequence[str] = (), draft_ids: Sequence[str] = ()
) -> list[datetime]:
    """Bring the roll-ups up to date after rows of these runs (or these drafts, for a
    review) were written; returns the hours recomputed. Call it inside the same
    transaction as the writes, after them.

    On PostgreSQL the transaction must be READ COMMITTED (psycopg's default): concurrent
    writers take turns per hour (see :mod:`neonhub_nb.store.pg.rollups`).
    """
    if is_postgres(con):
        updated: list[datetime] = _pg_rollups().update_rollups(con, run_ids, draft_ids)
        return updated
    if not run_ids and not draft_ids:
        return []
    hours = rollup_hours(
        con,
        "list_contains(?::VARCHAR[], run_id) OR list_contains(?::VARCHAR[], run_id)",
        [list(run_ids), _draft_runs(con, draft_ids)],
    )
    refresh_hours(con, hours)
    return hours


def _draft_runs(con: DuckDBPyConnection, draft_ids: Sequence[str]) -> list[str]:
    if not draft_ids:
        return []
    rows = con.execute(
        "SELECT run_id FROM content_drafts WHERE list_contains(?::VARCHAR[], draft_id)",
        [list(draft_ids)],
    ).fetchall()
    return [r[0] for r in rows]


def rollups_current(con: Any) -> bool:
    """Whether the store keeps roll-ups of this version that agree with its runs.

    A cheap guard (about 10 ms at a million runs), not a proof: the run counts per
    status must match. A store that stopped maintaining them is caught here and the
    dashboard falls back to the raw rows.
    """
    if is_postgres(con):
        current: bool = _pg_rollups().rollups_current(con)
        return current
    found = one_row(
        con,
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'dash_rollup_state' "
        "AND NOT temporary",
    )[0]
    if not found:
        return False
    version = one_row(con, "SELECT max(version) FROM dash_rollup_state")[0]
    if version != ROLLUP_VERSION:
        return False
    differ = one_row(con, STATUS_COUNTS_DIFFER)[0]
    return int(differ) == 0


#: Statuses whose run count in the cells differs from ``agent_runs`` (0: they agree).
STATUS_COUNTS_DIFFER = """SELECT count(*) FROM (
             SELECT status, count(*) AS n FROM agent_runs GROUP BY status) raw
           FULL JOIN (
             SELECT status, sum(runs) AS n FROM dash_run_cells GROUP BY status) cells
           USING (status)
           WHERE raw.n IS DISTINCT FROM cells.n"""
