"""Named migrations of the PostgreSQL audit store, applied under an advisory lock.

Versions and names are those of the DuckDB store's (``store/schema.py``), so one number
says which schema a store has whatever its engine; the statements are PostgreSQL's:
``JSONB`` where DuckDB has ``JSON``, ``TIMESTAMPTZ`` (read back in UTC: see ``url.py``)
where it has ``TIMESTAMP``, and the indexes PostgreSQL needs where DuckDB relies on
zone maps. Never edit a migration that has shipped: add the next one, to both engines.

Two machines upgrading at once is safe: :func:`apply_migrations` holds a session-level
advisory lock while it reads the version and applies what is missing, each migration in
its own transaction, so the second machine waits, then finds nothing left to do.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import psycopg

from ...errors import StoreError

__all__ = [
    "LATEST_VERSION",
    "MIGRATIONS",
    "MIGRATION_LOCK",
    "READ_INDEXES",
    "Migration",
    "apply_migrations",
    "schema_version",
]


#: Indexes of migration 13, for the dashboard's reads that the roll-ups cannot answer.
READ_INDEXES = (
    # Exact duration percentiles of a scope, read from the index alone (no table rows).
    "CREATE INDEX IF NOT EXISTS agent_runs_durations ON agent_runs (mode, started_at) "
    "INCLUDE (agent, intent, status, duration_ms)",
    # The latest breaker transitions: a handful among millions of tool executions.
    "CREATE INDEX IF NOT EXISTS tool_executions_breaker ON tool_executions (started_at) "
    "WHERE tool = 'circuit_breaker'",
    # Drafts awaiting review, newest first, and how many there are.
    "CREATE INDEX IF NOT EXISTS content_drafts_pending ON content_drafts (created_at) "
    "WHERE status = 'draft'",
    # Breaker openings per bucket: one service among the connector cells.
    "CREATE INDEX IF NOT EXISTS dash_tool_cells_service ON dash_tool_cells (service, hour)",
)


def _fill_rollups() -> tuple[str, ...]:
    """Statements that build the dashboard's cells from every row (store/rollups.py's
    text for PostgreSQL) and record the roll-ups' version."""
    from ..rollups import CELL_TABLES, ROLLUP_VERSION, cells_sql

    statements = [
        "LOCK TABLE dash_run_cells, dash_tool_cells, dash_error_cells, dash_rollup_state "
        "IN SHARE ROW EXCLUSIVE MODE"
    ]
    for table in CELL_TABLES:
        query, args = cells_sql(table, "TRUE", (), "TRUE", ())
        assert not args and query.postgres is not None  # a whole-store text has no parameters
        statements += [f"DELETE FROM {table}", f"INSERT INTO {table} {query.postgres}"]
    statements += [
        "DELETE FROM dash_rollup_state",
        f"INSERT INTO dash_rollup_state VALUES ({int(ROLLUP_VERSION)}, now())",
    ]
    return tuple(statements)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


#: The advisory lock key (a signed 64-bit number) every migrating session takes.
MIGRATION_LOCK = int.from_bytes(
    hashlib.sha256(b"neonhub_nb.store.pg.migrations").digest()[:8], "big", signed=True
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "initial_audit_tables",
        (
            """CREATE TABLE agent_runs (
                run_id TEXT PRIMARY KEY,
                agent TEXT NOT NULL,
                intent TEXT NOT NULL,
                status TEXT NOT NULL,
                mode TEXT NOT NULL,
                started_at TIMESTAMPTZ NOT NULL,
                finished_at TIMESTAMPTZ,
                duration_ms DOUBLE PRECISION,
                input JSONB,
                output JSONB,
                error TEXT
            )""",
            """CREATE TABLE tool_executions (
                execution_id TEXT PRIMARY KEY,
                run_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                tool TEXT NOT NULL,
                operation TEXT NOT NULL,
                status TEXT NOT NULL,
                started_at TIMESTAMPTZ NOT NULL,
                duration_ms DOUBLE PRECISION,
                request JSONB,
                response JSONB,
                error TEXT
            )""",
            """CREATE TABLE agent_run_metrics (
                run_id TEXT NOT NULL,
                name TEXT NOT NULL,
                value DOUBLE PRECISION NOT NULL,
                unit TEXT,
                PRIMARY KEY (run_id, name)
            )""",
            """CREATE TABLE content_drafts (
                draft_id TEXT PRIMARY KEY,
                run_id TEXT NOT NULL,
                title TEXT,
                content TEXT,
                metadata JSONB,
                status TEXT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL
            )""",
            # DuckDB skips row groups by their min/max; PostgreSQL needs indexes for the
            # period filters of every dashboard query and for a run's detail page.
            "CREATE INDEX agent_runs_started_at ON agent_runs (started_at)",
            "CREATE INDEX tool_executions_run_id ON tool_executions (run_id, seq)",
            "CREATE INDEX tool_executions_started_at ON tool_executions (started_at)",
            "CREATE INDEX content_drafts_run_id ON content_drafts (run_id)",
            "CREATE INDEX content_drafts_created_at ON content_drafts (created_at)",
        ),
    ),
    Migration(
        2,
        "run_provenance_and_review",
        (
            "ALTER TABLE agent_runs ADD COLUMN model TEXT",
            "ALTER TABLE agent_runs ADD COLUMN prompt_name TEXT",
            "ALTER TABLE agent_runs ADD COLUMN prompt_version TEXT",
            "ALTER TABLE agent_runs ADD COLUMN experiment_id TEXT",
            "ALTER TABLE agent_runs ADD COLUMN campaign TEXT",
            "ALTER TABLE agent_runs ADD COLUMN variant TEXT",
            "ALTER TABLE agent_runs ADD COLUMN redacted_fields JSONB",
            "ALTER TABLE content_drafts ADD COLUMN topic TEXT",
            "ALTER TABLE content_drafts ADD COLUMN primary_keyword TEXT",
            "ALTER TABLE content_drafts ADD COLUMN reviewer TEXT",
            "ALTER TABLE content_drafts ADD COLUMN review_note TEXT",
            "ALTER TABLE content_drafts ADD COLUMN reviewed_at TIMESTAMPTZ",
        ),
    ),
    Migration(
        3,
        "spool_ingestion_ledger",
        (
            "ALTER TABLE agent_runs ADD COLUMN writer_id TEXT",
            # Finding a gone writer's unfinished runs must not scan every run.
            "CREATE INDEX agent_runs_unfinished ON agent_runs (writer_id) "
            "WHERE status IN ('queued', 'running')",
            # How far each machine's spool segment has been ingested (key "machine/segment"),
            # committed in the same transaction as the rows it produced.
            """CREATE TABLE spool_segments (
                segment TEXT PRIMARY KEY,
                ingested_bytes BIGINT NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL
            )""",
        ),
    ),
    Migration(
        4,
        "metric_baselines",
        (
            """CREATE TABLE metric_baselines (
                metric TEXT NOT NULL,
                labels TEXT NOT NULL,
                value DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (metric, labels)
            )""",
        ),
    ),
    Migration(5, "run_seed", ("ALTER TABLE agent_runs ADD COLUMN seed INTEGER",)),
    Migration(
        6,
        "model_and_connector_transports",
        (
            "ALTER TABLE agent_runs ADD COLUMN model_mode TEXT",
            "ALTER TABLE agent_runs ADD COLUMN connectors_mode TEXT",
            "ALTER TABLE agent_runs ADD COLUMN ending TEXT",
            "UPDATE agent_runs SET model_mode = mode WHERE model_mode IS NULL",
            """UPDATE agent_runs AS r SET connectors_mode = CASE
                   WHEN r.mode = 'replay' THEN 'replay'
                   WHEN t.exchanges > 0 THEN 'live'
                   ELSE 'mock' END
               FROM (SELECT run_id, count(*) FILTER (WHERE response ? 'http') AS exchanges
                     FROM tool_executions WHERE tool LIKE 'connector.%' GROUP BY run_id) AS t
               WHERE r.run_id = t.run_id AND r.connectors_mode IS NULL""",
        ),
    ),
    # 7 and 8 mirror the DuckDB store's (store/schema.py): the quarantine of spool lines
    # the store cannot hold, and review decisions as appended events.
    Migration(
        7,
        "ingest_quarantine",
        (
            """CREATE TABLE ingest_quarantine (
                segment TEXT NOT NULL,
                line_offset BIGINT NOT NULL,
                line_bytes BIGINT NOT NULL,
                event_type TEXT,
                reason TEXT NOT NULL,
                line TEXT NOT NULL,
                line_complete BOOLEAN NOT NULL,
                quarantined_at TIMESTAMPTZ NOT NULL,
                retried_at TIMESTAMPTZ,
                resolved_at TIMESTAMPTZ,
                PRIMARY KEY (segment, line_offset)
            )""",
        ),
    ),
    Migration(
        8,
        "review_events",
        (
            """CREATE TABLE review_events (
                event_id TEXT PRIMARY KEY,
                draft_id TEXT NOT NULL,
                decision TEXT NOT NULL,
                reviewer TEXT NOT NULL,
                decided_at TIMESTAMPTZ NOT NULL,
                reason TEXT,
                title TEXT,
                content TEXT,
                content_sha256 TEXT,
                content_bytes BIGINT
            )""",
            """INSERT INTO review_events
               SELECT 'rev_migrated_' || draft_id, draft_id,
                      CASE status WHEN 'approved' THEN 'approve'
                                  WHEN 'rejected' THEN 'reject' ELSE 'edit' END,
                      reviewer, reviewed_at, review_note,
                      CASE WHEN status NOT IN ('approved', 'rejected') THEN title END,
                      CASE WHEN status NOT IN ('approved', 'rejected') THEN content END,
                      CASE WHEN status NOT IN ('approved', 'rejected') AND content IS NOT NULL
                           THEN encode(sha256(convert_to(content, 'UTF8')), 'hex') END,
                      CASE WHEN status NOT IN ('approved', 'rejected') AND content IS NOT NULL
                           THEN octet_length(content) END
               FROM content_drafts
               WHERE reviewed_at IS NOT NULL AND reviewer IS NOT NULL""",
        ),
    ),
    Migration(
        9,
        "run_ending",
        ("ALTER TABLE agent_runs ADD COLUMN IF NOT EXISTS ending TEXT",),
    ),
    Migration(
        10,
        "dashboard_rollups",
        # The dashboard's hourly cells (store/rollups.py), in PostgreSQL's types. Built and
        # kept by the team store's ingestion exactly as by the DuckDB file's.
        (
            """CREATE TABLE IF NOT EXISTS dash_run_cells (
                hour TIMESTAMPTZ NOT NULL, agent TEXT NOT NULL, intent TEXT NOT NULL,
                status TEXT NOT NULL, mode TEXT NOT NULL, model TEXT, campaign TEXT,
                runs BIGINT NOT NULL, tokens DOUBLE PRECISION NOT NULL,
                cost_usd NUMERIC(38, 10) NOT NULL, drafts_pending BIGINT NOT NULL,
                drafts_approved BIGINT NOT NULL, drafts_rejected BIGINT NOT NULL)""",
            """CREATE TABLE IF NOT EXISTS dash_tool_cells (
                hour TIMESTAMPTZ NOT NULL, agent TEXT NOT NULL, intent TEXT NOT NULL,
                status TEXT NOT NULL, mode TEXT NOT NULL, service TEXT NOT NULL,
                call_status TEXT NOT NULL, rate_limited BOOLEAN NOT NULL, calls BIGINT NOT NULL)""",
            """CREATE TABLE IF NOT EXISTS dash_error_cells (
                hour TIMESTAMPTZ NOT NULL, agent TEXT NOT NULL, intent TEXT NOT NULL,
                status TEXT NOT NULL, mode TEXT NOT NULL, error TEXT NOT NULL,
                runs BIGINT NOT NULL, last_seen TIMESTAMPTZ NOT NULL)""",
            """CREATE TABLE IF NOT EXISTS dash_rollup_state (
                version INTEGER NOT NULL, built_at TIMESTAMPTZ NOT NULL)""",
        ),
    ),
    Migration(
        11,
        "writer_leases",
        # Each machine's ingester renews the lease of every live writer process it sees;
        # a lease not renewed for NEONHUB_LEASE_MINUTES (server clock) is expired by the
        # next ingester of any machine, and the writer's unfinished runs are abandoned.
        (
            """CREATE TABLE writer_leases (
                writer_id TEXT PRIMARY KEY,
                machine TEXT NOT NULL,
                heartbeat_at TIMESTAMPTZ NOT NULL,
                released_at TIMESTAMPTZ,
                expired_at TIMESTAMPTZ
            )""",
            "CREATE INDEX writer_leases_live ON writer_leases (heartbeat_at) "
            "WHERE released_at IS NULL AND expired_at IS NULL",
        ),
    ),
    Migration(
        12,
        "ingest_xid",
        # The exporter counts rows added since its last scrape (metrics/tally.py). DuckDB
        # gives appended rows higher rowids; PostgreSQL has no stable row number, and a
        # sequence's numbers are taken before commit, so a later number can be visible
        # before an earlier one. The inserting transaction's id can be read safely: every
        # id below the scrape's snapshot xmin belongs to a transaction that has ended.
        # Existing rows get this migration's id; inserts that name their columns (all of
        # upsert.py's) get their own. Updates keep the row's first id.
        (
            *(
                f"ALTER TABLE {table} ADD COLUMN ingest_xid BIGINT "
                "DEFAULT (pg_current_xact_id()::text::bigint)"
                for table in ("agent_runs", "tool_executions", "agent_run_metrics")
            ),
            *(
                f"CREATE INDEX {table}_ingest_xid ON {table} (ingest_xid)"
                for table in ("agent_runs", "tool_executions", "agent_run_metrics")
            ),
        ),
    ),
    Migration(
        13,
        "team_reads",
        # Migration 10 made the cell tables but left them empty, so the dashboard read the
        # raw rows; this fills them from the rows already here (the DuckDB file's migration
        # 10 did so). From here every ingestion and prune keeps them (pg/rollups.py).
        # The indexes serve the dashboard's reads that the cells cannot (measured by
        # bench/bench_team_reads.py, docs/team.md): DuckDB's zone maps make them
        # unnecessary there.
        (*_fill_rollups(), *READ_INDEXES),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version


def _applied(con: psycopg.Connection[Any]) -> dict[int, str]:
    exists = con.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return {}
    rows = con.execute("SELECT version, name FROM schema_migrations").fetchall()
    return {int(version): str(name) for version, name in rows}


def schema_version(con: psycopg.Connection[Any]) -> int:
    """The highest migration applied to the database (0 for an empty one)."""
    return max(_applied(con), default=0)


def apply_migrations(con: psycopg.Connection[Any], up_to: int | None = None) -> list[str]:
    """Apply every pending migration (or those up to ``up_to``); return their names.

    ``con`` must be in autocommit mode (each migration is its own transaction) and its
    role must be able to create tables (the database's owner, not the writer role).
    Waits while another session migrates. Raises
    :class:`~neonhub_nb.errors.StoreError` when the database records a migration under
    another name than this code's (it was migrated by something else).
    """
    if not con.autocommit:
        raise StoreError("apply_migrations: needs a connection in autocommit mode")
    con.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
    try:
        con.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                version INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                applied_at TIMESTAMPTZ NOT NULL
            )"""
        )
        applied = _applied(con)
        for migration in MIGRATIONS:
            recorded = applied.get(migration.version)
            if recorded is not None and recorded != migration.name:
                raise StoreError(
                    f"schema_migrations: version {migration.version} is {recorded!r} in the "
                    f"database but {migration.name!r} here: it was migrated by other code"
                )
        done: list[str] = []
        for migration in MIGRATIONS:
            if migration.version in applied or (up_to is not None and migration.version > up_to):
                continue
            with con.transaction():
                for statement in migration.statements:
                    con.execute(statement)
                con.execute(
                    "INSERT INTO schema_migrations VALUES (%s, %s, now())",
                    [migration.version, migration.name],
                )
            done.append(migration.name)
        return done
    finally:
        if not con.closed:
            con.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK])
