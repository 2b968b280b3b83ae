"""Snapshot, export and prune on the team store.

* :func:`snapshot` pulls the runs of a period (with their tool executions, metrics,
  drafts and review events) into a new local DuckDB file: a complete neonhub-nb store
  (migrated, roll-ups built) for fast offline analysis with ``NEONHUB_DB=that.duckdb``.
  It reads in one repeatable-read transaction, so the tables agree with each other.
* :func:`export_store` writes the same files as the DuckDB store's export: it snapshots
  the period into a temporary file and exports that, so both engines export through one
  code path and one set of ``COPY`` statements.
* :func:`prune` needs a role that may delete: the database owner's URL. The writer and
  reader roles never can (``roles.py``), so no analyst's machine can shorten the trail.
  Before deleting, the runs' contribution to every Prometheus counter is folded into
  ``metric_baselines``, computed by the DuckDB store's own definitions
  (``store/baselines.py``) over a copy of exactly those rows, in the same transaction.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import duckdb
import psycopg
import pyarrow as pa

from ...clock import parse_time
from ...errors import InvalidInputError, StoreError
from ..maintenance import PruneReport, prunable_runs
from ..recognise import one_line

if TYPE_CHECKING:
    from .store import PgStore

__all__ = ["SNAPSHOT_TABLES", "export_store", "prune", "refresh_rollup_hours", "snapshot"]

#: What a snapshot copies, in order, and how each table's rows are chosen from the runs
#: of the period (``r``).
SNAPSHOT_TABLES: dict[str, str] = {
    "agent_runs": "SELECT r.* FROM agent_runs r WHERE {period}",
    "tool_executions": (
        "SELECT t.* FROM tool_executions t JOIN agent_runs r ON r.run_id = t.run_id WHERE {period}"
    ),
    "agent_run_metrics": (
        "SELECT m.* FROM agent_run_metrics m JOIN agent_runs r ON r.run_id = m.run_id "
        "WHERE {period}"
    ),
    "content_drafts": (
        "SELECT d.* FROM content_drafts d JOIN agent_runs r ON r.run_id = d.run_id WHERE {period}"
    ),
    "review_events": (
        "SELECT e.* FROM review_events e JOIN content_drafts d ON d.draft_id = e.draft_id "
        "JOIN agent_runs r ON r.run_id = d.run_id WHERE {period}"
    ),
}
_CHUNK = 20_000
ExportFormat = Literal["parquet", "csv", "jsonl"]


def _period(since: object, until: object) -> tuple[str, list[Any]]:
    start, end = parse_time(since, "since"), parse_time(until, "until")
    where, params = ["TRUE"], []
    if start is not None:
        where.append("r.started_at >= %s")
        params.append(start)
    if end is not None:
        where.append("r.started_at < %s")
        params.append(end)
    return " AND ".join(where), params


def _copy(
    con: psycopg.Connection[Any],
    duck: duckdb.DuckDBPyConnection,
    table: str,
    query: str,
    params: Sequence[Any],
) -> int:
    """Rows of ``query`` (PostgreSQL, in the caller's transaction) into DuckDB's
    ``table``, in chunks through Arrow; how many."""
    copied = 0
    with con.cursor(name=f"copy_{table}") as cursor:
        cursor.execute(query, list(params))
        while rows := cursor.fetchmany(_CHUNK):
            names = [column.name for column in cursor.description or ()]
            columns = list(zip(*rows, strict=True))
            staged = pa.table(
                {name: pa.array(list(values)) for name, values in zip(names, columns, strict=True)}
            )
            duck.register("staged_copy", staged)
            duck.execute(f"INSERT INTO {table} BY NAME SELECT * FROM staged_copy")
            duck.unregister("staged_copy")
            copied += len(rows)
    return copied


def snapshot(
    store: PgStore,
    destination: Path,
    *,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
) -> dict[str, int]:
    """Pull the runs started in ``[since, until)`` (all when both are None) and
    everything they own into a new DuckDB file at ``destination``; rows per table.

    The file appears whole or not at all (written under another name, then renamed).
    Raises :class:`InvalidInputError` when ``destination`` exists, :class:`StoreError`
    (one line, password masked) when the server is away.
    """
    from ..rollups import create_rollups, drop_rollups
    from ..schema import apply_migrations

    if destination.exists():
        raise InvalidInputError("destination", f"{destination} exists; choose a new file name")
    period, params = _period(since, until)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.{os.getpid()}.partial")
    counts: dict[str, int] = {}
    duck = duckdb.connect(str(partial))
    try:
        apply_migrations(duck)
        with store.connect() as con, con.transaction():
            con.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            for table, query in SNAPSHOT_TABLES.items():
                counts[table] = _copy(con, duck, table, query.format(period=period), params)
        # The dashboard's cells, built from what the file now holds.
        drop_rollups(duck)
        create_rollups(duck)
        duck.execute("CHECKPOINT")
    except BaseException:
        duck.close()
        partial.unlink(missing_ok=True)
        raise
    duck.close()
    os.replace(partial, destination)
    return counts


def export_store(
    store: PgStore,
    out_dir: Path,
    fmt: ExportFormat = "parquet",
    *,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
) -> dict[str, Path]:
    """The four audit tables of the runs started in ``[since, until)`` as files, exactly
    as :func:`neonhub_nb.store.maintenance.export_store` writes them."""
    from ..audit import AuditStore
    from ..maintenance import export_store as export_duckdb

    folder = Path(tempfile.mkdtemp(prefix="neonhub-export-"))
    try:
        copy = folder / "period.duckdb"
        snapshot(store, copy, since=since, until=until)
        with AuditStore(copy, read_only=True, redactor=store.redactor) as local:
            return export_duckdb(local, out_dir, fmt)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def refresh_rollup_hours(con: psycopg.Connection[Any], hours: list[datetime]) -> None:
    """Recompute the dashboard's roll-up cells of ``hours`` after a prune, in its
    transaction, each hour under its advisory lock (``store/pg/rollups.py``)."""
    from . import rollups

    rollups.refresh_hours(con, hours)


def _fold_into_baselines(con: psycopg.Connection[Any], run_ids: list[str]) -> None:
    """Add the counters' share of ``run_ids`` to ``metric_baselines``, computed by the
    DuckDB store's definitions over an in-memory copy of exactly those rows."""
    from ..baselines import fold_into_baselines
    from ..schema import apply_migrations

    duck = duckdb.connect(":memory:")
    try:
        apply_migrations(duck)
        owned = "run_id = ANY(%s)"
        for table in ("agent_runs", "tool_executions", "agent_run_metrics"):
            _copy(con, duck, table, f"SELECT * FROM {table} WHERE {owned}", [run_ids])
        fold_into_baselines(duck, "TRUE", [])
        rows = duck.execute("SELECT metric, labels, value FROM metric_baselines").fetchall()
    finally:
        duck.close()
    if rows:
        with con.cursor() as cursor:
            cursor.executemany(
                """INSERT INTO metric_baselines VALUES (%s, %s, %s)
                   ON CONFLICT (metric, labels) DO UPDATE
                   SET value = metric_baselines.value + excluded.value""",
                rows,
            )


def prune(
    store: PgStore,
    older_than: timedelta,
    *,
    now: datetime | None = None,
    include_unreviewed: bool = False,
    dry_run: bool = False,
) -> PruneReport:
    """Delete finished runs started before ``now - older_than`` with everything they own,
    in one transaction, after folding their counts into ``metric_baselines``; runs whose
    drafts await review stay unless ``include_unreviewed``, and ``dry_run`` rolls back
    (see :func:`neonhub_nb.store.maintenance.prune`).

    Needs the database owner's URL: raises :class:`StoreError` saying so for the writer's
    or the reader's (neither may delete, by design).
    """
    cutoff = (now or store.clock.now()) - older_than
    where, kept_where = prunable_runs("%s", include_unreviewed=include_unreviewed)
    counted: dict[str, int] = {}
    kept = 0
    with store.connect(write=True) as con:
        allowed = con.execute(
            "SELECT has_table_privilege(current_user, 'agent_runs', 'DELETE')"
        ).fetchone()
        if not allowed or not allowed[0]:
            raise StoreError(
                f"prune: {store.label} may not delete runs (the writer and reader roles never "
                "can): run prune with the database owner's URL in NEONHUB_DB"
            )
        try:
            with con.transaction():
                row = con.execute(
                    f"SELECT count(*) FROM agent_runs WHERE {kept_where}", [cutoff]
                ).fetchone()
                kept = int(row[0]) if row else 0
                run_ids = [
                    str(row[0])
                    for row in con.execute(
                        f"SELECT run_id FROM agent_runs WHERE {where} FOR UPDATE", [cutoff]
                    ).fetchall()
                ]
                hours = [
                    row[0]
                    for row in con.execute(
                        "SELECT DISTINCT date_trunc('hour', started_at) FROM agent_runs "
                        "WHERE run_id = ANY(%s)",
                        [run_ids],
                    ).fetchall()
                ]
                if run_ids:
                    _fold_into_baselines(con, run_ids)
                # A pruned draft's review trail goes with it (prune is the one deletion).
                cursor = con.execute(
                    "DELETE FROM review_events WHERE draft_id IN (SELECT draft_id FROM "
                    "content_drafts WHERE run_id = ANY(%s))",
                    [run_ids],
                )
                counted["review_events"] = cursor.rowcount
                for table in ("tool_executions", "agent_run_metrics", "content_drafts"):
                    cursor = con.execute(f"DELETE FROM {table} WHERE run_id = ANY(%s)", [run_ids])
                    counted[table] = cursor.rowcount
                cursor = con.execute("DELETE FROM agent_runs WHERE run_id = ANY(%s)", [run_ids])
                counted["agent_runs"] = cursor.rowcount
                refresh_rollup_hours(con, hours)
                if dry_run:
                    raise psycopg.Rollback()  # leaves the block, undoing all of it
        except psycopg.Error as exc:
            raise StoreError(f"prune: {one_line(exc)}") from None
    return PruneReport(
        cutoff=cutoff,
        runs=counted["agent_runs"],
        tool_executions=counted["tool_executions"],
        metrics=counted["agent_run_metrics"],
        drafts=counted["content_drafts"],
        review_events=counted["review_events"],
        kept_unreviewed=kept,
        dry_run=dry_run,
    )
