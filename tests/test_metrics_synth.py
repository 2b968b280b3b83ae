"""Synthetic stores: reproducible, realistic enough, and counted exactly by the exporter."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from neonhub_nb.errors import StoreError
from neonhub_nb.metrics import StoreCollector
from neonhub_nb.store import LATEST_VERSION, AuditStore
from neonhub_nb.synth import SYNTH_END, generate_synthetic_store

TABLES = ("agent_runs", "tool_executions", "agent_run_metrics", "content_drafts")


def fingerprint(path: Path) -> dict[str, tuple[int, int]]:
    """Row count and an order-independent hash of every row, per table."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            table: tuple(
                con.execute(  # type: ignore[misc]
                    f"SELECT count(*), coalesce(sum(hash(t::VARCHAR)), 0) FROM {table} t"
                ).fetchone()
            )
            for table in TABLES
        }
    finally:
        con.close()


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_synthetic_store(tmp_path_factory.mktemp("synth") / "s.duckdb", 3000)


def test_same_seed_same_store_other_seed_other_store(tmp_path: Path, synthetic: Path) -> None:
    again = generate_synthetic_store(tmp_path / "again.duckdb", 3000)
    other = generate_synthetic_store(tmp_path / "other.duckdb", 3000, seed=1)
    assert fingerprint(again) == fingerprint(synthetic)
    assert fingerprint(other) != fingerprint(synthetic)
    with pytest.raises(StoreError, match="already exists"):
        generate_synthetic_store(again, 10)


def test_synthetic_store_looks_like_a_real_one(synthetic: Path) -> None:
    con = duckdb.connect(str(synthetic), read_only=True)
    try:
        assert con.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == (
            LATEST_VERSION
        )
        statuses = dict(
            con.execute("SELECT status, count(*) FROM agent_runs GROUP BY 1").fetchall()
        )
        assert set(statuses) == {"succeeded", "failed", "abandoned", "running"}
        assert 0.85 < statuses["succeeded"] / 3000 < 0.95
        tools_per_run = con.execute(
            "SELECT count(*) / (SELECT count(*) FROM agent_runs) FROM tool_executions"
        ).fetchone()[0]
        assert 4 <= tools_per_run <= 6
        first, last = con.execute(
            "SELECT min(started_at), max(started_at) FROM agent_runs"
        ).fetchone()
        assert last < SYNTH_END
        assert SYNTH_END - first == timedelta(days=30)
        orphans = con.execute(
            "SELECT count(*) FROM tool_executions t ANTI JOIN agent_runs r USING (run_id)"
        ).fetchone()[0]
        assert orphans == 0
    finally:
        con.close()


def test_the_exporter_counts_a_synthetic_store_exactly(synthetic: Path) -> None:
    result = StoreCollector(AuditStore(synthetic, read_only=True)).refresh()
    samples = result.samples
    con = duckdb.connect(str(synthetic), read_only=True)
    try:

        def total(name: str) -> float:
            return sum(v for (n, _), v in samples.items() if n == name)

        def sql(query: str) -> float:
            return float(con.execute(query).fetchone()[0])

        assert total("neonhub_agent_runs_total") == sql(
            "SELECT count(*) FROM agent_runs WHERE status <> 'running'"
        )
        assert total("neonhub_agent_run_duration_seconds_count") == sql(
            "SELECT count(duration_ms) FROM agent_runs"
        )
        assert total("neonhub_connector_requests_total") == sql(
            "SELECT count(*) FROM tool_executions WHERE tool LIKE 'connector.%'"
        )
        assert total("neonhub_rate_limit_hits_total") == sql(
            "SELECT count(*) FROM tool_executions WHERE response->>'rate_limited' IN ('true', '1')"
        )
        assert total("neonhub_circuit_breaker_failures_total") == sql(
            "SELECT sum(value) FROM agent_run_metrics WHERE name = 'breaker_failures'"
        )
        assert total("neonhub_queue_jobs_added_total") == sql(
            "SELECT count(experiment_id) FROM agent_runs"
        )
        assert sum(result.in_progress.values()) == sql(
            "SELECT count(*) FROM agent_runs WHERE status = 'running'"
        )
    finally:
        con.close()
