"""Named migrations: an empty file gets every one; an older file upgrades and keeps its rows."""

from __future__ import annotations

from pathlib import Path

import duckdb

from neonhub_nb.store import LATEST_VERSION, MIGRATIONS, AuditStore, apply_migrations


def test_empty_file_gets_every_migration_in_order(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "new.duckdb", background=False)
    assert store.schema_version() == LATEST_VERSION
    applied = store.sql("SELECT version, name FROM schema_migrations ORDER BY version")
    assert applied["version"].tolist() == [m.version for m in MIGRATIONS]
    assert applied["name"].tolist() == [m.name for m in MIGRATIONS]
    tables = set(store.sql("SELECT table_name FROM information_schema.tables")["table_name"])
    assert {"agent_runs", "tool_executions", "agent_run_metrics", "content_drafts"} <= tables
    store.close()


def test_file_from_schema_version_1_upgrades_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    apply_migrations(con, up_to=1)
    con.execute(
        "INSERT INTO agent_runs (run_id, agent, intent, status, mode, started_at, input) "
        "VALUES ('run_old', 'content', 'content.generate_article', 'succeeded', 'mock', "
        "TIMESTAMP '2025-11-02 10:00:00', '{\"topic\": \"legacy\"}')"
    )
    con.close()

    store = AuditStore(path, background=False)
    assert store.schema_version() == LATEST_VERSION
    detail = store.run_detail("run_old")
    assert detail.run["input"] == {"topic": "legacy"}
    assert detail.run["prompt_version"] is None  # new column, empty for old rows
    store.close()


def test_migrating_twice_is_a_no_op(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "x.duckdb"))
    assert len(apply_migrations(con)) == len(MIGRATIONS)
    assert apply_migrations(con) == []
    con.close()
