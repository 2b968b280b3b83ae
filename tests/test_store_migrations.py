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


def test_a_store_from_the_first_migration_6_records_endings(tmp_path: Path) -> None:
    """Migration 6 first shipped with ``finish_reason`` instead of ``ending``; such a file
    gets ``ending`` from migration 9 and new runs land (not quarantined)."""
    from neonhub_nb import run_agent
    from neonhub_nb.config import load_settings

    path = tmp_path / "v6.duckdb"
    con = duckdb.connect(str(path))
    apply_migrations(con, up_to=5)
    con.execute("ALTER TABLE agent_runs ADD COLUMN model_mode VARCHAR")
    con.execute("ALTER TABLE agent_runs ADD COLUMN connectors_mode VARCHAR")
    con.execute("ALTER TABLE agent_runs ADD COLUMN finish_reason VARCHAR")
    con.execute("INSERT INTO schema_migrations VALUES (6, 'model_and_connector_transports', now())")
    con.close()

    settings = load_settings({"NEONHUB_DB": str(path)})
    result = run_agent(
        "content.generate_article",
        {"topic": "Email", "primary_keyword": "newsletter", "word_count": 60},
        settings=settings,
    )
    store = AuditStore.from_settings(settings)
    row = store.sql("SELECT ending FROM agent_runs WHERE run_id = ?", [result.run_id])
    assert row["ending"].tolist() == ["complete"]
    assert store.sql("SELECT count(*) AS n FROM ingest_quarantine")["n"].tolist() == [0]
    store.close()
