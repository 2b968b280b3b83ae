"""The writer and reader roles: what each may do, enforced by PostgreSQL itself."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import errors

from neonhub_nb.errors import StoreError
from neonhub_nb.store.pg import (
    READER,
    WRITER,
    SegmentRange,
    apply_migrations,
    connect,
    ensure_roles,
    upsert_batch,
)

from . import pg
from .pg import PgCluster, as_role, run_rows

pg_cluster, pg_url = pg.pg_cluster, pg.pg_url  # the fixtures, for this module's tests

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
WRITER_PW = "writer-pw-Zq81"
READER_PW = "reader-pw-Lm40"


@pytest.fixture
def roles_db(pg_url: str, pg_cluster: PgCluster) -> str:
    """A migrated database with both roles; the superuser logs every statement meanwhile."""
    with connect(pg_url, autocommit=True) as con:
        apply_migrations(con)
        con.execute("SET log_statement = 'all'")
        ensure_roles(con, writer_password=WRITER_PW, reader_password=READER_PW)
        ensure_roles(con)  # idempotent, and keeps the passwords
    return pg_url


def test_passwords_work_and_never_travel_in_plain_text(
    roles_db: str, pg_cluster: PgCluster
) -> None:
    for role, password in ((WRITER, WRITER_PW), (READER, READER_PW)):
        with connect(as_role(roles_db, role, password)) as con:
            assert con.execute("SELECT current_user").fetchone() == (role,)
    with connect(roles_db) as con:
        stored = con.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname IN (%s, %s)", [WRITER, READER]
        ).fetchall()
    assert all(str(row[0]).startswith("SCRAM-SHA-256$4096:") for row in stored)
    log = (pg_cluster.folder / "postgres.log").read_text(errors="replace")
    assert "ALTER ROLE" in log  # statements were logged, the verifier only
    assert WRITER_PW not in log
    assert READER_PW not in log


def test_the_writer_inserts_and_updates_but_never_deletes_or_changes_tables(
    roles_db: str,
) -> None:
    with connect(as_role(roles_db, WRITER, WRITER_PW)) as con:
        done = upsert_batch(
            con, run_rows("run-w1"), [SegmentRange("laptop-1", "w.00001.jsonl", 0, 100)], now=NOW
        )
        assert done.committed
        assert con.execute("SELECT count(*) FROM agent_runs").fetchone() == (1,)
        con.commit()
        forbidden = [
            "DELETE FROM agent_runs",
            "DELETE FROM spool_segments",
            "TRUNCATE tool_executions",
            "DROP TABLE agent_run_metrics",
            "ALTER TABLE agent_runs ADD COLUMN sneaky TEXT",
            "CREATE TABLE public.sneaky (a INTEGER)",
            "INSERT INTO schema_migrations VALUES (99, 'sneaky', now())",
            "UPDATE metric_baselines SET value = 0",
        ]
        for statement in forbidden:
            with pytest.raises(errors.InsufficientPrivilege):
                con.execute(statement)
            con.rollback()
    with connect(roles_db) as con:
        assert con.execute("SELECT count(*) FROM agent_runs").fetchone() == (1,)


def test_the_reader_only_reads(roles_db: str) -> None:
    with connect(roles_db, autocommit=True) as admin:
        assert upsert_batch(admin, run_rows("run-r1"), now=NOW).committed
    with connect(as_role(roles_db, READER, READER_PW)) as con:
        for table in (
            "agent_runs",
            "tool_executions",
            "agent_run_metrics",
            "content_drafts",
            "spool_segments",
            "metric_baselines",
            "schema_migrations",
        ):
            con.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert con.execute("SELECT count(*) FROM tool_executions").fetchone() == (5,)
        # Read-only transactions by default ...
        with pytest.raises(errors.ReadOnlySqlTransaction):
            con.execute("UPDATE agent_runs SET status = 'failed'")
        con.rollback()
        # ... and no privilege even when it asks for a read-write one.
        for statement in (
            "UPDATE agent_runs SET status = 'failed'",
            "INSERT INTO agent_run_metrics VALUES ('run-r1', 'x', 1, NULL)",
            "DELETE FROM content_drafts",
        ):
            con.execute("BEGIN READ WRITE")
            with pytest.raises(errors.InsufficientPrivilege):
                con.execute(statement)
            con.rollback()


def test_role_names_are_checked_and_powerful_roles_refused(pg_url: str) -> None:
    with connect(pg_url, autocommit=True) as con:
        apply_migrations(con)
        with pytest.raises(StoreError, match="writer: a role name is"):
            ensure_roles(con, writer="Robert'); DROP TABLE agent_runs;--")
        with pytest.raises(StoreError, match="reader: must differ"):
            ensure_roles(con, writer="same_role", reader="same_role")
        with pytest.raises(StoreError, match="role postgres: it may create roles"):
            ensure_roles(con, writer="postgres")
        assert con.execute("SELECT count(*) FROM agent_runs").fetchone() == (0,)


def test_a_wrong_password_for_a_role_says_so_without_it(roles_db: str) -> None:
    with pytest.raises(StoreError, match="password authentication failed") as failed:
        connect(as_role(roles_db, WRITER, "not-the-writer-pw"))
    assert "not-the-writer-pw" not in str(failed.value)
    assert isinstance(failed.value.__context__, psycopg.OperationalError)
