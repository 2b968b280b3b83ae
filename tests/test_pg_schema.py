"""PostgreSQL migrations: the DuckDB store's tables, applied once under an advisory lock."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from neonhub_nb.errors import StoreError
from neonhub_nb.store import schema as duck_schema
from neonhub_nb.store.pg import (
    LATEST_VERSION,
    MIGRATIONS,
    apply_migrations,
    connect,
    schema_version,
)
from neonhub_nb.store.pg.migrations import MIGRATION_LOCK

from . import pg

pg_cluster, pg_url = pg.pg_cluster, pg.pg_url  # the fixtures, for this module's tests

TABLES = (
    "agent_runs",
    "tool_executions",
    "agent_run_metrics",
    "content_drafts",
    "spool_segments",
    "metric_baselines",
    "schema_migrations",
    "ingest_quarantine",
    "review_events",
    "dash_run_cells",
    "dash_tool_cells",
    "dash_error_cells",
    "dash_rollup_state",
    "writer_leases",
)
# DuckDB type -> the PostgreSQL type that holds the same values.
SAME_TYPE = {
    "VARCHAR": "text",
    "JSON": "jsonb",
    "TIMESTAMP": "timestamp with time zone",
    "DOUBLE": "double precision",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "BOOLEAN": "boolean",
    "DECIMAL(38,10)": "numeric",
}


def _pg_columns(url: str) -> dict[str, list[tuple[str, str, bool]]]:
    with connect(url) as con:
        rows = con.execute(
            """SELECT table_name, column_name, data_type, is_nullable = 'YES'
               FROM information_schema.columns WHERE table_schema = 'public'
               ORDER BY table_name, ordinal_position"""
        ).fetchall()
    found: dict[str, list[tuple[str, str, bool]]] = {}
    for table, column, kind, nullable in rows:
        found.setdefault(table, []).append((column, kind, nullable))
    return found


def _duck_columns(path: Path) -> dict[str, list[tuple[str, str, bool]]]:
    con = duckdb.connect(str(path))
    try:
        duck_schema.apply_migrations(con)
        rows = con.execute(
            """SELECT table_name, column_name, data_type, is_nullable = 'YES'
               FROM information_schema.columns ORDER BY table_name, ordinal_position"""
        ).fetchall()
    finally:
        con.close()
    found: dict[str, list[tuple[str, str, bool]]] = {}
    for table, column, kind, nullable in rows:
        found.setdefault(table, []).append((column, SAME_TYPE[kind], nullable))
    return found


def test_migrations_build_the_duckdb_stores_tables_in_postgres_types(
    pg_url: str, tmp_path: Path
) -> None:
    with connect(pg_url, autocommit=True) as con:
        applied = apply_migrations(con)
        assert schema_version(con) == LATEST_VERSION
        recorded = con.execute("SELECT version, name FROM schema_migrations ORDER BY 1").fetchall()
    assert applied == [m.name for m in MIGRATIONS]
    ours = [(m.version, m.name) for m in MIGRATIONS]
    assert ours == [(m.version, m.name) for m in duck_schema.MIGRATIONS]
    assert recorded == ours

    pg, duck = _pg_columns(pg_url), _duck_columns(tmp_path / "same.duckdb")
    assert sorted(pg) == sorted(TABLES) == sorted(duck)
    for table in TABLES:
        assert pg[table] == duck[table], table


def test_a_second_run_applies_nothing_and_up_to_stops_early(pg_url: str) -> None:
    with connect(pg_url, autocommit=True) as con:
        assert apply_migrations(con, up_to=2) == [m.name for m in MIGRATIONS[:2]]
        assert schema_version(con) == 2
        assert apply_migrations(con) == [m.name for m in MIGRATIONS[2:]]
        assert apply_migrations(con) == []
        assert schema_version(con) == LATEST_VERSION


def test_a_database_migrated_by_other_code_is_refused(pg_url: str) -> None:
    with connect(pg_url, autocommit=True) as con:
        apply_migrations(con, up_to=1)
        con.execute("UPDATE schema_migrations SET name = 'someone_elses' WHERE version = 1")
        with pytest.raises(StoreError, match="version 1 is 'someone_elses' in the database"):
            apply_migrations(con)
        assert schema_version(con) == 1


def _migrate(url: str, go: Any, results: Any, ready: Any = None) -> None:
    with connect(url, autocommit=True) as con:
        if ready is not None:
            ready.put(True)
        go.wait()
        results.put(apply_migrations(con))


def _waiting_for_lock(con: Any) -> int:
    row = con.execute(
        """SELECT count(*) FROM pg_locks
           WHERE locktype = 'advisory' AND NOT granted AND database = (
               SELECT oid FROM pg_database WHERE datname = current_database())"""
    ).fetchone()
    return int(row[0])


def test_a_second_machine_waits_for_the_migration_lock(pg_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    go, results = ctx.Event(), ctx.Queue()
    with connect(pg_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
        other = ctx.Process(target=_migrate, args=(pg_url, go, results))
        other.start()
        go.set()
        deadline = time.monotonic() + 30
        while _waiting_for_lock(holder) == 0:
            assert time.monotonic() < deadline, "the other process never asked for the lock"
            assert other.is_alive(), "the other process ended without waiting for the lock"
            time.sleep(0.02)
        time.sleep(0.2)
        assert schema_version(holder) == 0  # nothing was created while we held the lock
        holder.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK])
        other.join(60)
        assert other.exitcode == 0
        assert results.get(timeout=5) == [m.name for m in MIGRATIONS]


def test_two_machines_upgrading_at_once_apply_each_migration_once(pg_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    go, results, ready = ctx.Event(), ctx.Queue(), ctx.Queue()
    machines = [ctx.Process(target=_migrate, args=(pg_url, go, results, ready)) for _ in range(2)]
    for machine in machines:
        machine.start()
    for _ in machines:
        ready.get(timeout=60)  # both connected: released together
    go.set()
    for machine in machines:
        machine.join(60)
        assert machine.exitcode == 0
    outcomes = sorted((results.get(timeout=5) for _ in machines), key=len)
    assert outcomes == [[], [m.name for m in MIGRATIONS]]
    with connect(pg_url) as con:
        versions = con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
    assert versions == [(m.version,) for m in MIGRATIONS]
