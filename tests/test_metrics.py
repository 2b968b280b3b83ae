"""Run-derived metrics: definitions, incremental counting, baselines and prune."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from neonhub_nb.metrics import StoreCollector, StoreTally, build_registry, metrics_table
from neonhub_nb.metrics.collector import STORE_UP
from neonhub_nb.models import Metric, ToolExecution
from neonhub_nb.store import AuditStore
from neonhub_nb.store.baselines import Samples, fold_into_baselines, labels_json, tool_samples

T0 = datetime(2026, 1, 1, 12, 0, 0)


class Recorder:
    """Writes runs through the store's public spool path, as agents do."""

    def __init__(self, store: AuditStore) -> None:
        self.store = store
        self.n = 0

    def start(
        self,
        agent: str = "content",
        intent: str = "content.generate_article",
        *,
        experiment_id: str | None = None,
        at: datetime = T0,
    ) -> dict[str, Any]:
        self.n += 1
        row = {
            "run_id": f"run_{self.n:06d}",
            "agent": agent,
            "intent": intent,
            "mode": "mock",
            "started_at": at + timedelta(seconds=self.n),
            "status": "running",
            "experiment_id": experiment_id,
            "input": {"topic": "t"},
            "model": "gpt-4o-mini",
        }
        self.store.record_run_started(row)
        return row

    def finish(
        self,
        row: Mapping[str, Any],
        status: str = "succeeded",
        duration_ms: float | None = 250.0,
        breaker_failures: float = 0,
        usage: tuple[int, int, float] | None = None,
    ) -> None:
        metrics = [Metric(name="total_tokens", value=10, unit="tokens")]
        if usage:
            prompt, completion, cost = usage
            metrics += [
                Metric(name="prompt_tokens", value=prompt, unit="tokens"),
                Metric(name="completion_tokens", value=completion, unit="tokens"),
                Metric(name="cost_usd", value=cost, unit="USD"),
            ]
        if breaker_failures:
            metrics.append(Metric(name="breaker_failures", value=breaker_failures))
        self.store.record_run_finished(
            {
                **row,
                "status": status,
                "duration_ms": duration_ms,
                "finished_at": row["started_at"] + timedelta(milliseconds=duration_ms or 0),
            },
            metrics,
        )

    def run(
        self,
        agent: str = "content",
        intent: str = "content.generate_article",
        status: str = "succeeded",
        duration_ms: float | None = 250.0,
        **kw: Any,
    ) -> str:
        breaker = kw.pop("breaker_failures", 0)
        usage = kw.pop("usage", None)
        row = self.start(agent, intent, **kw)
        self.finish(row, status, duration_ms, breaker, usage)
        return str(row["run_id"])

    def tool(
        self,
        run_id: str,
        tool: str,
        operation: str = "send",
        status: str = "succeeded",
        response: dict[str, Any] | None = None,
        request: dict[str, Any] | None = None,
        duration_ms: float = 12.5,
    ) -> None:
        self.n += 1
        self.store.record_tool_execution(ToolExecution(
            execution_id=f"tex_{self.n:06d}", run_id=run_id, seq=self.n, tool=tool,
            operation=operation, status=status, started_at=T0, duration_ms=duration_ms,
            request=request or {"q": 1}, response=response or {},
        ))  # fmt: skip


@pytest.fixture
def rec(store: AuditStore) -> Recorder:
    return Recorder(store)


def value(samples: Mapping[tuple[str, Any], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def runs_total(
    samples: Mapping[tuple[str, Any], float],
    agent: str,
    intent: str,
    status: str,
    mode: str = "mock",
) -> float:
    return value(
        samples, "neonhub_agent_runs_total", agent=agent, intent=intent, status=status, mode=mode
    )


CONTENT = ("content", "content.generate_article")


def scrape(store: AuditStore) -> bytes:
    registry = CollectorRegistry()
    registry.register(StoreCollector(store))
    return generate_latest(registry)


def test_counts_follow_the_definitions(store: AuditStore, rec: Recorder) -> None:
    rec.run(duration_ms=80)
    rec.run(duration_ms=3000)
    failed = rec.run(status="failed", duration_ms=700, breaker_failures=2)
    rec.run("seo", "seo.audit_page", experiment_id="exp_1", duration_ms=20_000, breaker_failures=1)
    rec.start("seo", "seo.audit_page", experiment_id="exp_1")  # still running
    rec.tool(failed, "connector.slack", "post_message", "failed", {"rate_limited": True})
    rec.tool(failed, "connector.slack", "post_message", "succeeded", {"rate_limited": 2})
    rec.tool(failed, "connector.ga4", "run_report", response={"rows": 3})
    rec.tool(failed, "llm", "chat.completions", response={"text": "x", "rate_limited": 1})
    rec.tool(failed, "scorer", "readability", response={"rate_limited": 5})  # not a service

    result = StoreCollector(store).refresh()
    s = result.samples
    assert runs_total(s, *CONTENT, "succeeded") == 2
    assert runs_total(s, *CONTENT, "failed") == 1
    assert runs_total(s, "seo", "seo.audit_page", "succeeded") == 1
    assert sum(v for (name, _), v in s.items() if name == "neonhub_agent_runs_total") == 4
    content = {"agent": "content", "intent": "content.generate_article", "mode": "mock"}
    assert value(s, "neonhub_agent_run_duration_seconds_bucket", **content, le="0.1") == 1
    assert value(s, "neonhub_agent_run_duration_seconds_bucket", **content, le="1.0") == 2
    assert value(s, "neonhub_agent_run_duration_seconds_bucket", **content, le="2.5") == 2
    assert value(s, "neonhub_agent_run_duration_seconds_bucket", **content, le="5.0") == 3
    assert value(s, "neonhub_agent_run_duration_seconds_bucket", **content, le="+Inf") == 3
    assert value(s, "neonhub_agent_run_duration_seconds_count", **content) == 3
    assert value(s, "neonhub_agent_run_duration_seconds_sum", **content) == pytest.approx(3.78)
    assert value(s, "neonhub_circuit_breaker_failures_total", agent="content") == 2
    assert value(s, "neonhub_circuit_breaker_failures_total", agent="seo") == 1
    slack = {"service": "slack", "operation": "post_message"}
    assert value(s, "neonhub_connector_requests_total", **slack, status="failed") == 1
    assert value(s, "neonhub_connector_requests_total", **slack, status="succeeded") == 1
    assert (
        value(
            s,
            "neonhub_connector_requests_total",
            service="ga4",
            operation="run_report",
            status="succeeded",
        )
        == 1
    )
    assert value(s, "neonhub_rate_limit_hits_total", service="slack") == 3
    assert value(s, "neonhub_rate_limit_hits_total", service="llm") == 1
    assert value(s, "neonhub_rate_limit_hits_total", service="ga4") == 0
    assert not [
        k
        for k in s
        if k[0] == "neonhub_connector_requests_total" and dict(k[1])["service"] in ("scorer", "llm")
    ]
    assert value(s, "neonhub_queue_jobs_added_total") == 2  # the running one was added too
    assert (
        value(
            result.in_progress,
            "neonhub_agent_runs_in_progress",
            agent="seo",
            intent="seo.audit_page",
            status="running",
            mode="mock",
        )
        == 1
    )
    assert result.runs == 5


def test_label_sets_hold_no_run_ids_or_free_text(store: AuditStore, rec: Recorder) -> None:
    for i in range(30):
        run_id = rec.run(
            status=random.Random(i).choice(["succeeded", "failed"]),
            experiment_id=f"exp_{i}",
            breaker_failures=1,
        )
        rec.tool(run_id, "connector.email", "send", response={"error": f"quota {i} reached"})
    text = scrape(store).decode()
    assert "run_0" not in text and "tex_0" not in text
    assert "exp_" not in text
    assert "quota" not in text
    allowed = {"agent", "intent", "status", "le", "service", "operation", "mode", "model", "type"}
    for line in text.splitlines():
        if line.startswith("neonhub_") and "{" in line:
            names = {
                part.split("=")[0]
                for part in line[line.index("{") + 1 : line.index("}")].split(",")
            }
            assert names <= allowed, line


def test_a_run_counts_once_it_finishes_and_counters_never_go_down(
    store: AuditStore, rec: Recorder
) -> None:
    collector = StoreCollector(store)
    row = rec.start(experiment_id="exp_9")
    first = collector.refresh()
    assert runs_total(first.samples, *CONTENT, "running") == 0
    assert value(first.samples, "neonhub_queue_jobs_added_total") == 1
    assert sum(first.in_progress.values()) == 1

    rec.finish(row, "failed", 1200.0, breaker_failures=3)
    second = collector.refresh()
    assert runs_total(second.samples, *CONTENT, "failed") == 1
    assert value(second.samples, "neonhub_queue_jobs_added_total") == 1  # not twice
    assert value(second.samples, "neonhub_circuit_breaker_failures_total", agent="content") == 3
    assert sum(second.in_progress.values()) == 0
    assert collector.tally.recounts == 1  # the second scrape only counted what changed
    assert second.samples == StoreCollector(store).refresh().samples


def test_a_refresh_that_fails_halfway_counts_nothing_twice(
    store: AuditStore, rec: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import neonhub_nb.metrics.tally as tally_module

    tally = StoreTally()
    rec.run()
    with store.connect() as con:
        tally.refresh(con)
    rec.tool(rec.run(), "connector.x", "post")
    failures = iter([True])

    def flaky(*args: Any, **kwargs: Any) -> Samples:
        if next(failures, False):
            raise duckdb.IOException("the disk went away")
        return tool_samples(*args, **kwargs)

    monkeypatch.setattr(tally_module, "tool_samples", flaky)
    with store.connect() as con, pytest.raises(duckdb.IOException):
        tally.refresh(con)  # after the runs were counted, before the tools were
    with store.connect() as con:
        samples = tally.refresh(con).samples
    assert runs_total(samples, *CONTENT, "succeeded") == 2
    assert samples == StoreCollector(store).refresh().samples


def _store_ops(store: AuditStore, rec: Recorder, rnd: random.Random) -> Iterator[str]:
    """A random life of a store: runs start and finish, tools are called, prunes happen."""
    open_rows: list[dict[str, Any]] = []
    agents = [
        ("content", "content.generate_article"),
        ("seo", "seo.audit_page"),
        ("email", "email.compose_campaign"),
    ]
    for step in range(30):
        op = rnd.choice(
            ["start", "finish", "finish", "run", "tool", "tool", "prune"]
            if step > 5
            else ["start", "run", "tool"]
        )
        if op == "start":
            agent, intent = rnd.choice(agents)
            open_rows.append(rec.start(agent, intent, experiment_id=rnd.choice([None, "exp_a"])))
        elif op == "finish" and open_rows:
            row = open_rows.pop(rnd.randrange(len(open_rows)))
            rec.finish(
                row,
                rnd.choice(["succeeded", "failed", "abandoned"]),
                rnd.choice([None, 40.0, 900.0, 70_000.0]),
                rnd.choice([0, 0, 1, 2]),
            )
        elif op == "run":
            agent, intent = rnd.choice(agents)
            rec.run(
                agent,
                intent,
                rnd.choice(["succeeded", "failed"]),
                rnd.uniform(10, 20_000),
                breaker_failures=rnd.choice([0, 1]),
            )
        elif op == "tool":
            rec.tool(
                f"run_{rnd.randint(1, rec.n + 1):06d}",
                rnd.choice(["connector.slack", "connector.x", "llm"]),
                rnd.choice(["post", "read"]),
                rnd.choice(["succeeded", "failed"]),
                rnd.choice([{}, {"rate_limited": True}, {"rate_limited": 3}]),
            )
        elif op == "prune":
            _prune(
                store,
                "finished_at < ? AND status IN ('succeeded', 'failed', 'abandoned')",
                [T0 + timedelta(seconds=rnd.randint(0, rec.n))],
            )
        yield op


def _prune(store: AuditStore, where: str, params: list[Any]) -> None:
    """What a prune does: fold, then delete the runs and what they own, in one transaction."""
    with store.connect() as con:
        con.execute("BEGIN TRANSACTION")
        fold_into_baselines(con, where, params)
        owned = f"run_id IN (SELECT run_id FROM agent_runs WHERE {where})"
        for table in ("tool_executions", "agent_run_metrics", "content_drafts"):
            con.execute(f"DELETE FROM {table} WHERE {owned}", params)
        con.execute(f"DELETE FROM agent_runs WHERE {where}", params)
        con.execute("COMMIT")


@pytest.mark.parametrize("seed", [1, 2])
def test_incremental_counts_equal_a_full_count_and_stay_monotonic(
    store: AuditStore, rec: Recorder, seed: int
) -> None:
    tally = StoreTally()
    before: Samples = Samples()
    prunes = 0
    for op in _store_ops(store, rec, random.Random(seed)):
        prunes += op == "prune"
        if not prunes:
            # Until a prune, scrapes only count what was added; a prune recounts once,
            # and once more per table if DuckDB's vacuum then renumbers its rowids.
            assert tally.recounts <= 1
        with store.connect() as con:
            now = tally.refresh(con).samples
            fresh = StoreTally().refresh(con).samples
        assert now.keys() == fresh.keys(), op
        for key, counted in now.items():
            assert counted == pytest.approx(fresh[key], abs=1e-9), (op, key)
        for key, earlier in before.items():
            assert now.get(key, 0.0) >= earlier - 1e-9, (op, key)
        before = now
    assert prunes
    assert tally.recounts <= 1 + 4 * prunes


def test_fold_then_delete_leaves_the_exposition_unchanged(store: AuditStore, rec: Recorder) -> None:
    for i in range(12):
        run_id = rec.run(
            *[("content", "content.generate_article"), ("seo", "seo.audit_page")][i % 2],
            status=["succeeded", "failed", "abandoned"][i % 3],
            duration_ms=[None, 90.0, 1500.0, 45_000.0][i % 4],
            experiment_id="exp_x" if i % 3 else None,
            breaker_failures=i % 2,
        )
        rec.tool(run_id, "connector.reddit", "submit", response={"rate_limited": i % 2 == 0})
        rec.tool(run_id, "llm", "chat.completions", response={"rate_limited": 0})
    keep_running = rec.start(experiment_id="exp_x")
    exporter_view = StoreCollector(store)
    before = scrape(store)
    assert exporter_view.refresh().samples  # an exporter that has counted everything

    _prune(store, "started_at < ? AND status <> 'running'", [T0 + timedelta(days=1)])
    with store.connect() as con:
        assert con.execute("SELECT count(*) FROM agent_runs").fetchone()[0] == 1
        assert con.execute("SELECT count(*) FROM tool_executions").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM metric_baselines").fetchone()[0] > 10
    assert scrape(store) == before
    assert exporter_view.refresh().samples == StoreCollector(store).refresh().samples

    rec.finish(keep_running, "succeeded", 300.0)  # still counted after everything else left
    after = StoreCollector(store).refresh().samples
    assert runs_total(after, *CONTENT, "succeeded") == 3
    assert value(after, "neonhub_queue_jobs_added_total") == 9


def test_store_prune_keeps_counters(store: AuditStore, rec: Recorder) -> None:
    maintenance = pytest.importorskip("neonhub_nb.store.maintenance")
    for _ in range(5):
        rec.tool(rec.run(breaker_failures=1), "connector.x", "post", response={"rate_limited": 1})
    before = scrape(store)
    report = maintenance.prune(store, timedelta(days=1), now=T0 + timedelta(days=3))
    assert report.runs == 5
    assert scrape(store) == before


def test_baseline_labels_are_canonical_json() -> None:
    assert labels_json((("intent", "a"), ("agent", "b"))) == '{"agent":"b","intent":"a"}'
    assert labels_json(()) == "{}"


def test_an_unreadable_store_reports_down_not_stale_numbers(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "missing.duckdb", read_only=True)
    registry = CollectorRegistry()
    collector = StoreCollector(store)
    registry.register(collector)  # registering does not read the store
    assert registry.get_sample_value(STORE_UP) == 0
    assert registry.get_sample_value("neonhub_queue_jobs_added_total") is None
    assert collector.last_error is not None
    assert "no audit store" in collector.last_error


def test_a_read_only_exporter_sees_what_writers_ingested(
    tmp_path: Path, store: AuditStore, rec: Recorder
) -> None:
    rec.run()
    store.flush()
    reader = AuditStore(store.path, read_only=True)
    registry = build_registry(reader)
    assert registry.get_sample_value(STORE_UP) == 1
    assert (
        registry.get_sample_value(
            "neonhub_agent_runs_total",
            {
                "agent": "content",
                "intent": "content.generate_article",
                "status": "succeeded",
                "mode": "mock",
            },
        )
        == 1
    )


def test_a_store_older_than_the_baselines_table_still_counts(tmp_path: Path) -> None:
    from neonhub_nb.store.connection import open_duckdb
    from neonhub_nb.store.schema import apply_migrations

    path = tmp_path / "v3.duckdb"
    con = open_duckdb(path, read_only=False)
    apply_migrations(con, up_to=3)
    con.execute("""INSERT INTO agent_runs (run_id, agent, intent, status, mode, started_at,
                   duration_ms) VALUES ('r1', 'content', 'content.x', 'succeeded', 'mock',
                   TIMESTAMP '2026-01-01 00:00:00', 10)""")
    con.close()
    result = StoreCollector(AuditStore(path, read_only=True)).refresh()
    assert runs_total(result.samples, "content", "content.x", "succeeded") == 1


def test_metrics_table_shows_the_same_numbers(store: AuditStore, rec: Recorder) -> None:
    rec.run()
    rec.run(status="failed", breaker_failures=1)
    table = metrics_table(store)
    runs = table[table.metric == "neonhub_agent_runs_total"]
    assert sorted(runs.status) == ["failed", "succeeded"]
    assert runs.value.sum() == 2
    assert list(table.columns[:1]) == ["metric"]
    assert table.columns[-1] == "value"
    registry = CollectorRegistry()
    registry.register(StoreCollector(store))
    for row in table.to_dict("records"):
        labels = {k: v for k, v in row.items() if k not in ("metric", "value") and v == v}
        assert registry.get_sample_value(row["metric"], labels) == row["value"]


def test_metrics_table_defaults_to_this_process_store(store: AuditStore) -> None:
    # NEONHUB_DB points at an empty temp store: the table exists, with zero queue jobs.
    table = metrics_table()
    assert table[table.metric == "neonhub_queue_jobs_added_total"].value.tolist() == [0.0]


def test_modules_export_what_they_define_and_the_package_all_of_it() -> None:
    import importlib

    import neonhub_nb.metrics as package

    submodules = ["collector", "command", "exporter", "tally"]
    names = ["neonhub_nb.store.baselines", "neonhub_nb.synth"]
    names += [f"neonhub_nb.metrics.{name}" for name in submodules]
    for name in names:
        module = importlib.import_module(name)
        assert all(hasattr(module, item) for item in module.__all__), name
        defined = {
            key
            for key, item in vars(module).items()
            if not key.startswith("_") and getattr(item, "__module__", None) == name
        }
        assert defined <= set(module.__all__), (name, defined - set(module.__all__))
    exported = {
        item
        for sub in submodules
        for item in importlib.import_module(f"{package.__name__}.{sub}").__all__
    }
    assert set(package.__all__) == exported
