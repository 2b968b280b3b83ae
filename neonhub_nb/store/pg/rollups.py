"""The dashboard's hourly cells in a PostgreSQL team store, kept current under
concurrent writers.

The cells and their SQL are the DuckDB file's (:mod:`neonhub_nb.store.rollups`, where
both engines' texts sit side by side), and so are the calls the write side makes; call
them through that module, which hands a psycopg connection here::

    create_rollups(con)                       # rebuild all (migration 13 builds them once)
    update_rollups(con, run_ids, draft_ids)   # in each ingestion transaction, after the rows
    hours = rollup_hours(con, where, params)  # prune: before deleting
    refresh_hours(con, hours)                 # prune: after deleting, same transaction

What differs is concurrency. A DuckDB file has one writer at a time; a team store has
one ingester per machine, and two of them often write runs of the same hour. A cell is
recomputed whole from the raw rows, so two transactions recomputing one hour at once
would each delete the cells the other could not yet see and both insert theirs: the hour
counted twice. So each hour is a transaction-level advisory lock, taken in hour order
(no deadlock) before its cells are touched and held until commit; the next writer's
statements then start after that commit and see its rows and cells (READ COMMITTED: each
statement reads what was committed when it started, which is why the transaction must
not be REPEATABLE READ or SERIALIZABLE). :func:`create_rollups` takes the cell tables in
SHARE ROW EXCLUSIVE mode, which waits for every maintaining writer and holds them off.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from ...clock import utcnow
from ...errors import StoreError
from ..dialect import execute, fetchall, fetchone
from ..rollups import CELL_TABLES, ROLLUP_VERSION, cells_sql

__all__ = [
    "HOUR_LOCK",
    "create_rollups",
    "drop_rollups",
    "raw_cells",
    "refresh_hours",
    "rollup_hours",
    "rollups_current",
    "update_rollups",
]

#: The first key of every hour's advisory lock (a signed 32-bit number; the second key is
#: the hour, in hours since 1970).
HOUR_LOCK = int.from_bytes(
    hashlib.sha256(b"neonhub_nb.store.pg.rollups.hour").digest()[:4], "big", signed=True
)
_HOUR = "date_trunc('hour', started_at, 'UTC')"
_EPOCH = datetime(1970, 1, 1)


def _hour_key(hour: datetime) -> int:
    naive = hour.astimezone(UTC).replace(tzinfo=None) if hour.tzinfo else hour
    return int((naive - _EPOCH).total_seconds() // 3600)


def _in_transaction(con: Any) -> Any:
    """The caller's transaction, or one of our own on an autocommit connection."""
    from contextlib import nullcontext

    return con.transaction() if con.autocommit else nullcontext()


def _take_hours(con: Any, hours: Sequence[datetime]) -> None:
    """Hold each hour's lock until the transaction ends (see the module's doc)."""
    execute(
        con, "LOCK TABLE dash_run_cells, dash_tool_cells, dash_error_cells IN ROW EXCLUSIVE MODE"
    )
    isolation, _ = fetchone(
        con,
        "SELECT current_setting('transaction_isolation'), "
        f"(SELECT count(pg_advisory_xact_lock({HOUR_LOCK}, h)) FROM unnest(?::int[]) h)",
        [sorted({_hour_key(h) for h in hours})],
    )
    if isolation != "read committed":
        raise StoreError(
            "roll-ups: need a READ COMMITTED transaction to see other writers' cells "
            f"(got {isolation})"
        )


def create_rollups(con: Any, now: datetime | None = None) -> None:
    """Fill the cell tables (migration 10 made them) from every row; idempotent.

    Runs in the caller's transaction, or in one of its own on an autocommit connection.
    """
    with _in_transaction(con):
        execute(
            con,
            "LOCK TABLE dash_run_cells, dash_tool_cells, dash_error_cells, dash_rollup_state "
            "IN SHARE ROW EXCLUSIVE MODE",
        )
        for table in CELL_TABLES:
            query, args = cells_sql(table, "TRUE", (), "TRUE", ())
            execute(con, f"DELETE FROM {table}")
            execute(con, f"INSERT INTO {table} {query.postgres}", args)
        execute(con, "DELETE FROM dash_rollup_state")
        execute(
            con, "INSERT INTO dash_rollup_state VALUES (?, ?)", [ROLLUP_VERSION, now or utcnow()]
        )


def drop_rollups(con: Any) -> None:
    """Empty the cell tables and forget the roll-ups' version: the dashboard then reads
    the raw rows until :func:`create_rollups` runs again."""
    with _in_transaction(con):
        for table in (*CELL_TABLES, "dash_rollup_state"):
            execute(con, f"DELETE FROM {table}")


def rollup_hours(con: Any, where: str, params: Sequence[Any] = ()) -> list[datetime]:
    """The hours (naive UTC) the runs matching ``where`` started in (before deleting them)."""
    rows = fetchall(con, f"SELECT DISTINCT {_HOUR} FROM agent_runs WHERE {where}", params)
    return sorted(r[0] for r in rows)


def refresh_hours(con: Any, hours: Iterable[datetime]) -> None:
    """Recompute every cell of ``hours`` from the raw rows, inside the caller's READ
    COMMITTED transaction, holding each hour's lock until it ends."""
    wanted = sorted(set(hours))
    if not wanted:
        return
    _take_hours(con, wanted)
    # The range lets the started_at index find the hours' runs; their rows in the other
    # tables are found through the run_id indexes.
    where = (
        "started_at >= ? AND started_at < ? + INTERVAL '1 hour' "
        f"AND {_HOUR} = ANY(?::timestamptz[])"
    )
    params = [wanted[0], wanted[-1], wanted]
    owned = f"run_id IN (SELECT run_id FROM agent_runs WHERE {where})"
    for table in CELL_TABLES:
        execute(con, f"DELETE FROM {table} WHERE hour = ANY(?::timestamptz[])", [wanted])
        query, args = cells_sql(table, where, params, owned, params)
        execute(con, f"INSERT INTO {table} {query.postgres}", args)


def update_rollups(
    con: Any, run_ids: Sequence[str] = (), draft_ids: Sequence[str] = ()
) -> list[datetime]:
    """Recompute the hours of these runs (and of these drafts' runs, for reviews) after
    their rows were written, in the same READ COMMITTED transaction; returns the hours."""
    if not run_ids and not draft_ids:
        return []
    hours = rollup_hours(
        con,
        "run_id = ANY(?::text[]) OR run_id IN "
        "(SELECT run_id FROM content_drafts WHERE draft_id = ANY(?::text[]))",
        [list(run_ids), list(draft_ids)],
    )
    refresh_hours(con, hours)
    return hours


def rollups_current(con: Any) -> bool:
    """Whether the store keeps roll-ups of this version that agree with its newest runs;
    a guard, not a proof.

    DuckDB's guard counts every run per status (about 10 ms at a million runs there);
    PostgreSQL reads every row for that (about 200 ms, bench/bench_team_reads.py). Here
    every writer keeps the cells in the transaction that writes the rows, and a writer
    of an older version (which would not) is refused by the schema version, so the guard
    checks the newest hour only, through the ``started_at`` index: the runs there must
    be the cells' runs of that hour.
    """
    if not fetchone(con, "SELECT to_regclass('dash_rollup_state') IS NOT NULL")[0]:
        return False  # a database migrated by a version before the roll-ups
    if fetchone(con, "SELECT max(version) FROM dash_rollup_state")[0] != ROLLUP_VERSION:
        return False
    raw, cells = fetchone(
        con,
        f"""WITH newest AS (SELECT {_HOUR} AS hour FROM agent_runs
                            ORDER BY started_at DESC LIMIT 1)
            SELECT (SELECT count(*) FROM agent_runs, newest
                    WHERE started_at >= newest.hour
                      AND started_at < newest.hour + INTERVAL '1 hour'),
                   (SELECT coalesce(sum(runs), 0) FROM dash_run_cells, newest
                    WHERE dash_run_cells.hour = newest.hour)""",
    )
    return int(raw) == int(cells)


def raw_cells(where: str, params: Sequence[Any]) -> dict[str, tuple[str, list[Any]]]:
    """Per cell table, a subquery (``(SELECT ...) AS name``) computing the cells of the
    runs matching ``where`` from the raw rows, and its parameters: what the dashboard
    reads on a PostgreSQL store whose roll-ups are not current (a reader may not create
    temp tables there)."""
    owned = f"run_id IN (SELECT run_id FROM agent_runs WHERE {where})"
    found: dict[str, tuple[str, list[Any]]] = {}
    for table in CELL_TABLES:
        query, args = cells_sql(table, where, params, owned, params)
        found[table] = (f"({query.postgres}) AS {table.removeprefix('dash_')}", args)
    return found
