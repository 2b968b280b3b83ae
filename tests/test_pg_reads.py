"""The read side of a team store against a real PostgreSQL: the dashboard's numbers and
the exporter's scrape equal the DuckDB file's for the same runs, and the roll-ups stay
exact while two machines' ingesters write runs of the same hour at once."""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.samples import Sample

from neonhub_nb.clock import FakeClock
from neonhub_nb.config import load_settings
from neonhub_nb.dashboard import AuditDashboard
from neonhub_nb.dashboard.aggregates import DashboardData, load_dashboard, runs_csv
from neonhub_nb.dashboard.data import Period, RunFilters, Scope
from neonhub_nb.experiments import load_experiment, load_inputs, run_grid
from neonhub_nb.metrics import start_exporter
from neonhub_nb.metrics.collector import StoreCollector
from neonhub_nb.models import Metric, ToolExecution
from neonhub_nb.replay import ReplayIndex, llm_key
from neonhub_nb.store import AuditStore
from neonhub_nb.store.base import Store
from neonhub_nb.store.dialect import fetchall
from neonhub_nb.store.pg import PgStore, PgUrl, apply_migrations, connect, upsert_batch
from neonhub_nb.store.pg.maintenance import prune
from neonhub_nb.store.pg.upsert import COLUMNS
from neonhub_nb.store.rollups import CELL_TABLES, create_rollups, rollups_current
from neonhub_nb.synth import SYNTH_END, generate_synthetic_store
from neonhub_nb.widgets import HistoryPanel

from . import pg

pg_cluster = pg.pg_cluster  # the fixture, for this module's tests

ROOT = Path(__file__).resolve().parents[1]

RUNS = 3_000  # over two days: about 60 runs an hour, every status, breakers, rate limits
SCOPES = {
    "30 days, live": Scope(Period.last("30d", SYNTH_END), RunFilters(mode="live")),
    "24 hours, all": Scope(Period.last("24h", SYNTH_END), RunFilters()),
    "all time, failed content": Scope(
        Period.last("all", SYNTH_END), RunFilters(agent="content", status="failed")
    ),
}


def _copy_into(duck_path: Path, url: str) -> None:
    """Every row of the DuckDB file into the team store, through the ingester's upsert,
    then the roll-ups built from them (as migration 13 does for rows already there)."""
    with duckdb.connect(str(duck_path), read_only=True) as duck:
        rows: dict[str, list[dict[str, Any]]] = {}
        for table in ("agent_runs", "tool_executions", "agent_run_metrics", "content_drafts"):
            columns = list(COLUMNS[table])
            cursor = duck.execute(f"SELECT {', '.join(columns)} FROM {table}")
            rows[table] = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    with connect(PgUrl(url), autocommit=True) as con:
        apply_migrations(con)
        result = upsert_batch(con, rows, now=datetime.now(UTC))
        assert result.committed
        create_rollups(con)


@pytest.fixture(scope="module")
def twins(pg_cluster: pg.PgCluster, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The same synthetic runs in a DuckDB file and in a team store, both read-only."""
    folder = tmp_path_factory.mktemp("twins")
    path = generate_synthetic_store(folder / "synth.duckdb", RUNS, days=2)
    url = pg_cluster.create_database()
    _copy_into(path, url)
    duck = AuditStore(path, read_only=True)
    team = PgStore(url, read_only=True, spool_root=folder / "spool")
    yield duck, team
    duck.close()
    team.close()
    pg_cluster.drop_database(url)


def _refresh(store: Store, scope: Scope, *, use_rollups: bool) -> DashboardData:
    with store.connect() as con:
        data = load_dashboard(con, scope, now=SYNTH_END, use_rollups=use_rollups)
    return dataclasses.replace(data, timings_ms={})


@pytest.mark.parametrize("scope_name", list(SCOPES))
def test_dashboard_numbers_are_the_same_on_both_backends(
    twins: tuple[AuditStore, PgStore], scope_name: str
) -> None:
    duck, team = twins
    scope = SCOPES[scope_name]
    with duck.connect() as con:
        assert rollups_current(con)
    with team.connect() as con:
        assert rollups_current(con)
    from_duck = _refresh(duck, scope, use_rollups=True)
    from_team = _refresh(team, scope, use_rollups=True)
    assert from_duck.source == from_team.source == "rollup"
    assert from_duck.kpis.runs > 0, "the scope must hold runs for the comparison to mean much"
    assert from_team == from_duck
    # Without roll-ups each engine computes the cells from the raw rows its own way
    # (DuckDB: temp tables; PostgreSQL: subqueries): still the same page.
    raw_duck = _refresh(duck, scope, use_rollups=False)
    raw_team = _refresh(team, scope, use_rollups=False)
    assert raw_duck.source == raw_team.source == "raw"
    assert raw_team == raw_duck
    assert dataclasses.replace(raw_team, source="rollup") == from_team


def test_csv_run_list_and_detail_are_the_same_on_both_backends(
    twins: tuple[AuditStore, PgStore],
) -> None:
    duck, team = twins
    scope = SCOPES["24 hours, all"]
    with duck.connect() as con:
        csv_duck = runs_csv(con, scope, 500)
    with team.connect() as con:
        csv_team = runs_csv(con, scope, 500)
    assert csv_duck[1] > 0
    assert csv_team == csv_duck
    listed_duck = duck.runs(limit=40, status="failed")
    listed_team = team.runs(limit=40, status="failed")
    assert len(listed_duck) == 40
    assert listed_team.to_dict("records") == listed_duck.to_dict("records")
    run_id = str(listed_duck["run_id"][0])
    detail_duck, detail_team = duck.run_detail(run_id), team.run_detail(run_id)
    assert detail_team.run == detail_duck.run
    # JSON columns are text on both; PostgreSQL's jsonb keeps the value, not the spacing
    # or the key order, so they are compared as values.
    assert _parsed(detail_team.tool_executions) == _parsed(detail_duck.tool_executions)
    assert detail_team.metrics.to_dict("records") == detail_duck.metrics.to_dict("records")


def _parsed(frame: Any) -> list[dict[str, Any]]:
    rows = frame.to_dict("records")
    for row in rows:
        for column in ("request", "response"):
            row[column] = json.loads(row[column]) if row[column] is not None else None
    return list(rows)


def _samples(store: Store) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    registry.register(StoreCollector(store))
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in registry.collect():
        for sample in family.samples:
            assert isinstance(sample, Sample)
            if sample.name.endswith("_created"):
                continue
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_the_scrape_is_the_same_on_both_backends(twins: tuple[AuditStore, PgStore]) -> None:
    duck, team = twins
    from_duck, from_team = _samples(duck), _samples(team)
    runs = sum(v for (name, _), v in from_duck.items() if name == "neonhub_agent_runs_total")
    finished = team.sql(
        "SELECT count(*) AS n FROM agent_runs WHERE status NOT IN ('queued', 'running')"
    )
    assert runs == int(finished["n"][0]) > 0
    assert from_team == from_duck


def _record_runs(store: Store, prefix: str, count: int, hour: datetime) -> list[str]:
    """``count`` finished runs started within ``hour``: an LLM call and a connector call
    (rate limited every third run), tokens and cost; every fifth one failed."""
    ids = []
    for index in range(count):
        run_id = f"run_{prefix}{index:06d}"
        started = hour + timedelta(seconds=(index * 7) % 3600)
        run = {
            "run_id": run_id,
            "agent": "content",
            "intent": "content.generate_article",
            "mode": "live",
            "started_at": started,
            "input": {"topic": f"{prefix} {index}"},
        }
        store.record_run_started({**run, "status": "running"})
        for seq, tool in enumerate(("llm", "connector.gsc"), 1):
            store.record_tool_execution(
                ToolExecution(
                    execution_id=f"tex_{prefix}{index:06d}{seq}",
                    run_id=run_id,
                    seq=seq,
                    tool=tool,
                    operation="call",
                    status="succeeded",
                    started_at=started,
                    duration_ms=30.0,
                    request={"q": index},
                    response={"text": "ok", "rate_limited": seq == 2 and index % 3 == 0},
                )
            )
        failed = index % 5 == 0
        store.record_run_finished(
            {
                **run,
                "status": "failed" if failed else "succeeded",
                "error": "LLMError: boom" if failed else None,
                "finished_at": started + timedelta(seconds=1),
                "duration_ms": 1000.0 + index,
            },
            metrics=[
                Metric(name="total_tokens", value=100.0 + index, unit="tokens"),
                Metric(name="cost_usd", value=0.0001 * (index + 1), unit="USD"),
            ],
        )
        ids.append(run_id)
    return ids


def test_the_exporter_scrapes_a_team_store_and_counts_new_runs(
    pg_cluster: pg.PgCluster, tmp_path: Path
) -> None:
    url = pg_cluster.create_database()
    try:
        with connect(PgUrl(url), autocommit=True) as con:
            apply_migrations(con)
        writer = PgStore(url, spool_root=tmp_path / "w", background=False)
        _record_runs(writer, "a", 12, datetime(2026, 5, 1, 9))
        writer.flush()
        reader = PgStore(url, read_only=True, spool_root=tmp_path / "r")
        exporter = start_exporter(reader, port=0, find_free_port=True)
        try:

            def runs_total() -> float:
                text = httpx.get(exporter.metrics_url, timeout=30).text
                return sum(
                    float(line.rsplit(" ", 1)[1])
                    for line in text.splitlines()
                    if line.startswith("neonhub_agent_runs_total{")
                )

            assert runs_total() == 12
            _record_runs(writer, "b", 7, datetime(2026, 5, 1, 10))
            writer.flush()
            assert runs_total() == 19
            assert runs_total() == 19  # a scrape with nothing new counts nothing twice
            health = httpx.get(exporter.health_url, timeout=30).json()
            assert health["status"] == "ok"
            assert health["store"]["backend"] == "postgresql"
            assert health["store"]["runs"] == 19
        finally:
            exporter.stop()
            reader.close()
            writer.close()
    finally:
        pg_cluster.drop_database(url)


def _cells(con: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: sorted(fetchall(con, f"SELECT * FROM {table}"), key=repr) for table in CELL_TABLES
    }


def test_rollups_stay_exact_under_two_ingesters_writing_the_same_hour_and_a_prune(
    pg_cluster: pg.PgCluster, tmp_path: Path
) -> None:
    url = pg_cluster.create_database()
    try:
        with connect(PgUrl(url), autocommit=True) as con:
            apply_migrations(con)
        hour = datetime(2026, 5, 1, 14)
        machines = [
            PgStore(url, spool_root=tmp_path / name, machine=name, background=False, batch_runs=3)
            for name in ("laptop-a", "laptop-b")
        ]
        for store, prefix in zip(machines, ("a", "b"), strict=True):
            _record_runs(store, prefix, 60, hour)  # spooled only: nothing ingested yet
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def ingest(store: PgStore) -> None:
            try:
                start.wait()
                store.flush()
            except BaseException as exc:  # reported below, with the other thread's
                errors.append(exc)

        threads = [threading.Thread(target=ingest, args=(m,)) for m in machines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not errors
        with connect(PgUrl(url), autocommit=True) as con:
            runs = fetchall(con, "SELECT count(*) FROM agent_runs")[0][0]
            assert runs == 120
            assert rollups_current(con)
            kept = _cells(con)
            assert sum(row[7] for row in kept["dash_run_cells"]) == 120
            create_rollups(con)  # every cell again from the raw rows, by one writer
            assert _cells(con) == kept
        # A prune of the runs of the first 3 minutes recomputes the hour's cells in its transaction.
        report = prune(
            machines[0], timedelta(0), now=hour + timedelta(minutes=3), include_unreviewed=True
        )
        assert 0 < report.runs < 120
        with connect(PgUrl(url), autocommit=True) as con:
            kept = _cells(con)
            assert sum(row[7] for row in kept["dash_run_cells"]) == 120 - report.runs
            create_rollups(con)
            assert _cells(con) == kept
        for store in machines:
            store.close()
    finally:
        pg_cluster.drop_database(url)


def test_experiments_replay_and_history_read_a_team_store(
    pg_cluster: pg.PgCluster, tmp_path: Path
) -> None:
    url = pg_cluster.create_database()
    try:
        with connect(PgUrl(url), autocommit=True) as con:
            apply_migrations(con)
        settings = load_settings({"NEONHUB_DB": url})
        team = PgStore(url, spool_root=tmp_path / "spool", background=False)
        inputs = load_inputs(ROOT / "data" / "experiment_inputs.json")[:2]
        exp = run_grid(
            "content.generate_article",
            ["v1", "v2"],
            inputs,
            store=team,
            settings=settings,
            progress=False,
            concurrency=1,
        )
        # The comparison rebuilt from the team store is the one the grid produced.
        again = load_experiment(team, exp.experiment_id)
        cols = ["checks_passed", "title_chars", "keyword_density_pct", "mean_tokens"]
        assert len(again.runs) == 4
        assert again.summary()[cols].equals(exp.summary()[cols])
        # Replay finds a live run's recorded model answer by its request.
        request = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        started = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=5)  # newest
        run = {
            "run_id": "run_live000001",
            "agent": "content",
            "intent": "content.generate_article",
            "mode": "live",
            "started_at": started,
            "input": {"topic": "replay"},
        }
        team.record_run_started({**run, "status": "running"})
        team.record_tool_execution(
            ToolExecution(
                execution_id="tex_live0000011",
                run_id="run_live000001",
                seq=1,
                tool="llm",
                operation="chat.completions",
                status="succeeded",
                started_at=started,
                duration_ms=12.0,
                request=request,
                response={"text": "recorded answer", "model": "gpt-4o-mini"},
            )
        )
        team.record_run_finished({**run, "status": "succeeded", "duration_ms": 20.0})
        index = ReplayIndex.from_store(team, run_ids=["run_live000001"])
        assert [a["text"] for a in index.llm[llm_key(request)]] == ["recorded answer"]
        # The widgets' History lists the newest runs, the live one first.
        history = HistoryPanel(team, on_open=lambda _: None, limit=3)
        assert history.refresh()
        assert history.runs.options[0][1] == "run_live000001"
        assert len(history.runs.options) == 3
        team.close()
    finally:
        pg_cluster.drop_database(url)


def test_the_voila_dashboard_reads_a_team_store_and_names_only_its_database(
    twins: tuple[AuditStore, PgStore], tmp_path: Path
) -> None:
    duck, team = twins
    page = AuditDashboard(team, clock=FakeClock(SYNTH_END), period="30d", mode="live")
    data = page.refresh()
    assert data is not None and page.error is None
    expected = _refresh(duck, page.selected_scope(), use_rollups=True)
    assert dataclasses.replace(data, timings_ms={}) == expected
    header = page.widget.children[0].value
    database = team.label.rsplit("/", 1)[-1]
    assert f"team store {database}" in header
    assert team.url.secrets  # the URL has a password, and the page must not show it
    for secret in (*team.url.secrets, "127.0.0.1", "postgres:"):
        assert secret not in header
    assert page.prepare_csv() == min(data.runs_matching, page.csv_limit)
    with pytest.raises(ValueError, match="only reads"):
        AuditDashboard(PgStore(team.url, spool_root=tmp_path, background=False))
