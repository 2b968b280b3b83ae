"""Named migrations of the audit store, applied in order and recorded in ``schema_migrations``.

A new column is a new migration; files written by older versions upgrade when a writer
opens them. Never edit a migration that has shipped: add the next one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from duckdb import DuckDBPyConnection

from ..clock import utcnow
from .connection import one_row
from .rollups import create_rollups

__all__ = ["MIGRATIONS", "Migration", "apply_migrations", "rollback", "schema_version"]


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]
    #: Work SQL text cannot say (filling derived tables), run after the statements in the
    #: same transaction.
    run: Callable[[Any], None] | None = None


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "initial_audit_tables",
        (
            """CREATE TABLE agent_runs (
                run_id VARCHAR PRIMARY KEY,
                agent VARCHAR NOT NULL,
                intent VARCHAR NOT NULL,
                status VARCHAR NOT NULL,
                mode VARCHAR NOT NULL,
                started_at TIMESTAMP NOT NULL,
                finished_at TIMESTAMP,
                duration_ms DOUBLE,
                input JSON,
                output JSON,
                error VARCHAR
            )""",
            """CREATE TABLE tool_executions (
                execution_id VARCHAR PRIMARY KEY,
                run_id VARCHAR NOT NULL,
                seq INTEGER NOT NULL,
                tool VARCHAR NOT NULL,
                operation VARCHAR NOT NULL,
                status VARCHAR NOT NULL,
                started_at TIMESTAMP NOT NULL,
                duration_ms DOUBLE,
                request JSON,
                response JSON,
                error VARCHAR
            )""",
            """CREATE TABLE agent_run_metrics (
                run_id VARCHAR NOT NULL,
                name VARCHAR NOT NULL,
                value DOUBLE NOT NULL,
                unit VARCHAR,
                PRIMARY KEY (run_id, name)
            )""",
            """CREATE TABLE content_drafts (
                draft_id VARCHAR PRIMARY KEY,
                run_id VARCHAR NOT NULL,
                title VARCHAR,
                content VARCHAR,
                metadata JSON,
                status VARCHAR NOT NULL,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL
            )""",
        ),
    ),
    Migration(
        2,
        "run_provenance_and_review",
        (
            "ALTER TABLE agent_runs ADD COLUMN model VARCHAR",
            "ALTER TABLE agent_runs ADD COLUMN prompt_name VARCHAR",
            "ALTER TABLE agent_runs ADD COLUMN prompt_version VARCHAR",
            "ALTER TABLE agent_runs ADD COLUMN experiment_id VARCHAR",
            "ALTER TABLE agent_runs ADD COLUMN campaign VARCHAR",
            "ALTER TABLE agent_runs ADD COLUMN variant VARCHAR",
            "ALTER TABLE agent_runs ADD COLUMN redacted_fields JSON",
            "ALTER TABLE content_drafts ADD COLUMN topic VARCHAR",
            "ALTER TABLE content_drafts ADD COLUMN primary_keyword VARCHAR",
            "ALTER TABLE content_drafts ADD COLUMN reviewer VARCHAR",
            "ALTER TABLE content_drafts ADD COLUMN review_note VARCHAR",
            "ALTER TABLE content_drafts ADD COLUMN reviewed_at TIMESTAMP",
        ),
    ),
    Migration(
        3,
        "spool_ingestion_ledger",
        (
            # Which writer process produced a run: lets the ingester mark runs of dead
            # processes as abandoned.
            "ALTER TABLE agent_runs ADD COLUMN writer_id VARCHAR",
            # How far each spool segment has been ingested, committed in the same
            # transaction as the rows it produced, so ingestion is exactly-once.
            """CREATE TABLE spool_segments (
                segment VARCHAR PRIMARY KEY,
                ingested_bytes BIGINT NOT NULL,
                updated_at TIMESTAMP NOT NULL
            )""",
        ),
    ),
    Migration(
        4,
        "metric_baselines",
        (
            # What pruned rows had added to each Prometheus counter (see baselines.py):
            # the exporter shows baseline + live rows, so counters survive a prune.
            """CREATE TABLE metric_baselines (
                metric VARCHAR NOT NULL,
                labels VARCHAR NOT NULL,
                value DOUBLE NOT NULL,
                PRIMARY KEY (metric, labels)
            )""",
        ),
    ),
    Migration(
        5,
        "run_seed",
        # The seed a run asked the model for: replay mode must send the same request.
        ("ALTER TABLE agent_runs ADD COLUMN seed INTEGER",),
    ),
    Migration(
        6,
        "model_and_connector_transports",
        (
            # What answered a run's model calls and its connector requests (mock, live or
            # replay): the trail must never say "mock" while a vendor was called.
            "ALTER TABLE agent_runs ADD COLUMN model_mode VARCHAR",
            "ALTER TABLE agent_runs ADD COLUMN connectors_mode VARCHAR",
            # How the model's answers ended (complete, truncated, filtered ...): a cut-off
            # draft is told apart from a complete one.
            "ALTER TABLE agent_runs ADD COLUMN ending VARCHAR",
            # Older runs: the model followed the run's mode. Connectors are known from what
            # was recorded: only live connectors keep HTTP exchanges, replayed ones answer
            # from the store, mocks keep none. A run that called no connector says nothing.
            "UPDATE agent_runs SET model_mode = mode WHERE model_mode IS NULL",
            """UPDATE agent_runs AS r SET connectors_mode = CASE
                   WHEN r.mode = 'replay' THEN 'replay'
                   WHEN t.exchanges > 0 THEN 'live'
                   ELSE 'mock' END
               FROM (SELECT run_id,
                            count(*) FILTER (WHERE json_exists(response, '$.http')) AS exchanges
                     FROM tool_executions WHERE tool LIKE 'connector.%' GROUP BY run_id) AS t
               WHERE r.run_id = t.run_id AND r.connectors_mode IS NULL""",
        ),
    ),
    Migration(
        7,
        "ingest_quarantine",
        (
            # Spool lines the store cannot hold (wrong type, out of range, not finite,
            # truncated, unknown table, oversized): set aside, visible and retryable,
            # never allowed to block the lines around them. Rows are never deleted:
            # a retried line is marked resolved, so the count of lines ever quarantined
            # only grows (the exporter's counter).
            """CREATE TABLE ingest_quarantine (
                segment VARCHAR NOT NULL,
                line_offset BIGINT NOT NULL,
                line_bytes BIGINT NOT NULL,
                event_type VARCHAR,
                reason VARCHAR NOT NULL,
                line VARCHAR NOT NULL,
                line_complete BOOLEAN NOT NULL,
                quarantined_at TIMESTAMP NOT NULL,
                retried_at TIMESTAMP,
                resolved_at TIMESTAMP,
                PRIMARY KEY (segment, line_offset)
            )""",
        ),
    ),
    Migration(
        8,
        "review_events",
        (
            # Every review decision, appended: content_drafts.status is derived from them.
            """CREATE TABLE review_events (
                event_id VARCHAR PRIMARY KEY,
                draft_id VARCHAR NOT NULL,
                decision VARCHAR NOT NULL,
                reviewer VARCHAR NOT NULL,
                decided_at TIMESTAMP NOT NULL,
                reason VARCHAR,
                title VARCHAR,
                content VARCHAR,
                content_sha256 VARCHAR,
                content_bytes BIGINT
            )""",
            # Older files kept only the last decision on the draft's row: keep it as the
            # draft's one event (an edit carries the content it left).
            """INSERT INTO review_events
               SELECT 'rev_migrated_' || draft_id,
                      draft_id,
                      CASE status WHEN 'approved' THEN 'approve'
                                  WHEN 'rejected' THEN 'reject' ELSE 'edit' END,
                      reviewer,
                      reviewed_at,
                      review_note,
                      CASE WHEN status NOT IN ('approved', 'rejected') THEN title END,
                      CASE WHEN status NOT IN ('approved', 'rejected') THEN content END,
                      CASE WHEN status NOT IN ('approved', 'rejected') AND content IS NOT NULL
                           THEN sha256(content) END,
                      CASE WHEN status NOT IN ('approved', 'rejected') AND content IS NOT NULL
                           THEN octet_length(encode(content)) END
               FROM content_drafts
               WHERE reviewed_at IS NOT NULL AND reviewer IS NOT NULL""",
        ),
    ),
    Migration(
        9,
        "run_ending",
        (
            # Migration 6 first shipped with this column named finish_reason; a store built
            # by that version gets `ending` here (and keeps the empty old column).
            "ALTER TABLE agent_runs ADD COLUMN IF NOT EXISTS ending VARCHAR",
        ),
    ),
    Migration(
        10,
        "dashboard_rollups",
        # Hourly cells the dashboard reads instead of scanning every run (rollups.py);
        # built once here from the rows, kept current by every ingestion and prune.
        (),
        run=create_rollups,
    ),
    Migration(
        11,
        "writer_leases",
        # A team store's writers renew a lease per process from their machine's ingester;
        # a writer silent past the lease counts as gone (docs/team.md). A DuckDB file keeps
        # this table empty: on one machine, the spool's flock says who is alive.
        (
            """CREATE TABLE writer_leases (
                writer_id VARCHAR PRIMARY KEY,
                machine VARCHAR NOT NULL,
                heartbeat_at TIMESTAMP NOT NULL,
                released_at TIMESTAMP,
                expired_at TIMESTAMP
            )""",
        ),
    ),
    Migration(
        12,
        "ingest_xid",
        # On PostgreSQL each row records the id of the transaction that inserted it: the
        # exporter counts new rows by it (metrics/tally.py), because PostgreSQL has no
        # stable row number and a sequence's numbers commit out of order. A DuckDB file
        # counts by rowid and leaves the column empty; it exists so that both engines
        # have the same columns (a snapshot of a team store copies it).
        tuple(
            f"ALTER TABLE {table} ADD COLUMN ingest_xid BIGINT"
            for table in ("agent_runs", "tool_executions", "agent_run_metrics")
        ),
    ),
    Migration(
        13,
        "team_reads",
        # A team store's migration 10 made empty cell tables; its 13 fills them and adds
        # the indexes its dashboard reads need. A DuckDB file's migration 10 built its
        # cells already, every write keeps them, and zone maps do the indexes' work.
        (),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version


def rollback(con: DuckDBPyConnection) -> None:
    """Roll back the open transaction if there still is one. A failed commit (a full disk)
    may have ended it already, and the rollback's own error must not hide the first."""
    try:
        con.execute("ROLLBACK")
    except Exception:
        return


def schema_version(con: DuckDBPyConnection) -> int:
    """The highest migration applied to the open database (0 for an empty file)."""
    exists = one_row(
        con, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
    )[0]
    if not exists:
        return 0
    return int(one_row(con, "SELECT max(version) FROM schema_migrations")[0] or 0)


def apply_migrations(con: DuckDBPyConnection, up_to: int | None = None) -> list[str]:
    """Apply every pending migration (or those up to ``up_to``); return their names."""
    con.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            name VARCHAR NOT NULL,
            applied_at TIMESTAMP NOT NULL
        )"""
    )
    current = schema_version(con)
    applied: list[str] = []
    for migration in MIGRATIONS:
        if migration.version <= current or (up_to is not None and migration.version > up_to):
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            for statement in migration.statements:
                con.execute(statement)
            if migration.run is not None:
                migration.run(con)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                [migration.version, migration.name, utcnow()],
            )
            con.execute("COMMIT")
        except Exception:
            rollback(con)
            raise
        applied.append(migration.name)
    return applied
