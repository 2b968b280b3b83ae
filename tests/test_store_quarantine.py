"""Quarantine on ingest: a line the store cannot hold is set aside; the rest lands.

Each kind of bad line is written straight into a spool segment next to good runs from
another writer; ingestion must land every good run, quarantine the bad line with its
segment, offset and reason, and never raise, stop or spin.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import neonhub_nb.store.lines as lines_module
from neonhub_nb.store import AuditStore

from .audit_support import T0, good_run, line, neonhub, write_segment
from .backends import Backend

RUN = {
    "run_id": "run_bad",
    "agent": "content",
    "intent": "content.generate_article",
    "status": "succeeded",
    "mode": "mock",
    "started_at": T0.isoformat(),
}

BAD_LINES = {
    # Example 1 of the issue: NaN cost, which orjson writes as null.
    "non_finite": (
        line("metric", {"run_id": "run_bad", "name": "cost_usd", "value": float("nan")}),
        "agent_run_metrics.value: must be a number (got None)",
    ),
    "wrong_type": (
        line(
            "tool",
            {
                **RUN,
                "execution_id": "t1",
                "seq": "first",
                "tool": "llm",
                "operation": "x",
                "status": "succeeded",
                "duration_ms": 1.0,
            },
        ),
        "tool_executions.seq: must be a whole number (got 'first')",
    ),
    "out_of_range": (
        line("run", {**RUN, "seed": 2**40}, 1),
        "agent_runs.seed: must be at most 2147483647 (got 1099511627776)",
    ),
    "bad_status": (
        line("run", {**RUN, "status": "finished"}, 1),
        "agent_runs.status: must be one of 'queued', 'running', 'succeeded', 'failed', "
        "'abandoned' (got 'finished')",
    ),
    "missing_column": (
        line(
            "draft", {"draft_id": "d1", "created_at": T0.isoformat(), "updated_at": T0.isoformat()}
        ),
        "content_drafts.run_id: is required",
    ),
    "bad_time": (
        line("run", {**RUN, "started_at": "yesterday"}, 1),
        "agent_runs.started_at: must be an ISO 8601 time (got 'yesterday')",
    ),
    "unknown_table": (
        line("invoice", {"id": 1}),
        "unknown table: event type 'invoice'",
    ),
    "not_json": (b'{"t": "run", "row": {"run_id": \n', "not JSON: "),
    "not_an_event": (b"[1, 2, 3]\n", "not a spool event"),
    "oversized": (
        line("run", {**RUN, "error": "x" * (lines_module.MAX_LINE_BYTES + 10)}, 1),
        "oversized: ",
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD_LINES))
def test_each_kind_of_bad_line_is_quarantined_and_the_rest_lands(
    backend: Backend, kind: str
) -> None:
    bad, reason = BAD_LINES[kind]
    backend.write_segment("other", good_run("run_before", writer="other"))
    segment = backend.write_segment("sick", good_run("run_a", writer="sick") + bad)
    backend.write_segment("sick", good_run("run_b", writer="sick"))
    offset = segment.stat().st_size - len(bad) - len(good_run("run_b", writer="sick"))
    store = backend.store(background=False)

    report = store.flush()

    assert report.quarantined == 1
    runs = store.sql("SELECT run_id, status FROM agent_runs ORDER BY run_id")
    assert runs["run_id"].tolist() == ["run_a", "run_b", "run_before"]
    assert set(runs["status"]) == {"succeeded"}
    assert int(store.sql("SELECT count(*) AS n FROM agent_run_metrics")["n"][0]) == 6
    held = store.quarantine()
    assert held["segment"].tolist() == [backend.segment_key(segment)]
    assert held["line_offset"].tolist() == [offset]
    assert held["line_bytes"].tolist() == [len(bad) - 1]
    assert held["reason"][0].startswith(reason), held["reason"][0]
    assert list(backend.spool_dir.glob("*.jsonl")) == []  # segments finished
    assert store.quarantine_counts().open == 1
    store.close()


def test_a_secret_in_a_quarantined_line_is_redacted(backend: Backend) -> None:
    secret = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb3dEf6h"
    backend.write_segment("w", line("run", {**RUN, "error": f"key {secret}", "seed": -(2**40)}, 1))
    store = backend.store(background=False)
    store.flush()
    kept = store.quarantine()["line"][0]
    assert secret not in kept and "[REDACTED" in kept
    store.close()


def test_a_nan_cost_from_one_writer_does_not_stop_anyone(tmp_path: Path) -> None:
    """Issue example 1: the NaN metric lands in quarantine; every later run and every
    reader keeps working, and the background ingester keeps ingesting."""
    db = tmp_path / "s.duckdb"
    nan_metric = line("metric", {"run_id": "run_x", "name": "cost_usd", "value": float("nan")})
    write_segment(db, "poisoned", good_run("run_x", writer="poisoned") + nan_metric)
    store = AuditStore(db, ingest_interval=0.05)
    store.record_run_started({**RUN, "run_id": "run_live", "status": "running", "started_at": T0})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if store.quarantine_counts().open == 1 and len(store.runs()) == 2:
            break
        time.sleep(0.05)
    assert sorted(store.runs()["run_id"]) == ["run_live", "run_x"]
    assert store.quarantine_counts().open == 1
    assert store.ingest_failures == 0
    result = neonhub("runs", "--json", db=db)
    assert result.returncode == 0, result.stderr
    store.close()


def test_an_unreadable_segment_holds_up_no_other(backend: Backend) -> None:
    backend.write_segment("other", good_run("run_ok"))
    blocker = backend.spool_dir / "blocker.00001.jsonl"
    blocker.mkdir(parents=True)
    store = backend.store(background=False)
    report = store.flush()
    assert report.unreadable == ["blocker.00001.jsonl: Is a directory"]
    assert store.runs()["run_id"].tolist() == ["run_ok"]
    store.close()


def test_the_background_ingester_survives_an_error_and_keeps_going(tmp_path: Path) -> None:
    """While the store refuses every pass (its ledger table renamed away by someone
    else), the thread logs, backs off and keeps trying; once the table is back, the run
    spooled meanwhile lands."""
    import duckdb

    db = tmp_path / "s.duckdb"
    store = AuditStore(db, ingest_interval=0.02)
    store.flush()
    with store._io_lock:
        con = duckdb.connect(str(db))
        con.execute("ALTER TABLE spool_segments RENAME TO spool_segments_away")
        con.close()
    store.record_run_started({**RUN, "run_id": "run_1", "status": "running", "started_at": T0})
    deadline = time.monotonic() + 30
    while store.ingest_failures < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert store.ingest_failures >= 2
    assert store.last_ingest_error and "spool_segments" in store.last_ingest_error
    thread = store._thread
    assert thread is not None and thread.is_alive()
    with store._io_lock:
        con = duckdb.connect(str(db))
        con.execute("ALTER TABLE spool_segments_away RENAME TO spool_segments")
        con.close()
    failures = store.ingest_failures
    while time.monotonic() < deadline and store._pending():
        time.sleep(0.05)
    assert store.ingest_failures == failures
    read = AuditStore(db, read_only=True)
    assert read.runs()["run_id"].tolist() == ["run_1"]
    store.close()


def test_a_dead_writers_partial_last_line_is_quarantined_and_never_spins(
    backend: Backend,
) -> None:
    """Issue example 2: a writer died (full disk) mid-line. A read must finish, not loop:
    run it in a thread and give it a minute (it takes milliseconds)."""
    partial = line("run", {**RUN, "run_id": "run_cut"}, 1)[:40]
    backend.write_segment("dead", good_run("run_ok", writer="dead") + partial)
    store = backend.store(background=False)
    outcome: list[object] = []
    reader = threading.Thread(target=lambda: outcome.append(store.runs()), daemon=True)
    reader.start()
    reader.join(timeout=60)
    assert not reader.is_alive(), "a reader spun on the partial line"
    assert outcome and outcome[0]["run_id"].tolist() == ["run_ok"]  # type: ignore[index]
    held = store.quarantine()
    assert held["reason"][0].startswith("truncated: the line has no end")
    assert held["retryable"].tolist() == [False]
    assert held["line"][0] == partial.decode()
    store.close()


def test_a_live_writers_unfinished_line_waits_and_is_not_quarantined(backend: Backend) -> None:
    import fcntl

    segment = backend.write_segment("alive", good_run("run_ok", writer="alive") + b'{"t": "ru')
    holder = os.open(segment, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)  # its writer is alive and mid-write
    try:
        store = backend.store(background=False)
        store.flush()
        assert store.runs()["run_id"].tolist() == ["run_ok"]
        assert store.quarantine().empty
        assert segment.exists()
    finally:
        os.close(holder)
    store.close()


_KILLED_WRITER = """
import os, sys, time
from pathlib import Path
from neonhub_nb.store import AuditStore
store = AuditStore(Path(sys.argv[1]), background=False)
store.record_run_started({"run_id": "run_whole", "agent": "content",
    "intent": "content.generate_article", "status": "running", "mode": "mock",
    "started_at": "2026-03-01T12:00:00"})
fd = store._spool._fd
os.write(fd, b'{"t": "run", "rev": 1, "row": {"run_id": "run_whole", "sta')
print("HALF-WRITTEN", flush=True)
time.sleep(600)
"""


def test_a_writer_killed_mid_write_loses_nothing_it_finished(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    writer = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(db)], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "HALF-WRITTEN"
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    writer.stdout.close()

    result = neonhub("ingest", db=db)
    assert result.returncode == 0, result.stderr
    assert "1 lines quarantined now, 1 in quarantine" in result.stdout
    listed = neonhub("quarantine", db=db)
    assert "truncated: the line has no end" in listed.stdout
    store = AuditStore(db, read_only=True)
    run = store.sql("SELECT status, error FROM agent_runs WHERE run_id = 'run_whole'")
    assert run["status"].tolist() == ["abandoned"]  # its writer is gone: never "running"


def test_quarantined_lines_are_retried_after_a_fix(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line an older neonhub-nb did not know (here review events) waits in quarantine;
    once the code knows it (the patch is undone: the upgrade), a retry ingests it."""
    event = {
        "event_id": "rev_1",
        "draft_id": "draft_run_a",
        "decision": "approve",
        "reviewer": "Dana",
        "decided_at": T0.isoformat(),
    }
    backend.write_segment("w", good_run("run_a") + line("review_event", event))
    older = {k: v for k, v in lines_module.EVENT_RECORDS.items() if k != "review_event"}
    monkeypatch.setattr(lines_module, "EVENT_RECORDS", older)
    store = backend.store(background=False)
    assert store.flush().quarantined == 1
    assert store.sql("SELECT status FROM content_drafts")["status"].tolist() == ["draft"]
    monkeypatch.undo()

    result = backend.cli("quarantine", "--retry")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ingested 1 quarantined lines; 0 still refused")
    assert store.sql("SELECT status FROM content_drafts")["status"].tolist() == ["approved"]
    assert backend.cli("quarantine").stdout.strip() == "no lines in quarantine"
    everything = store.quarantine(include_resolved=True)
    assert everything["resolved_at"].notna().tolist() == [True]
    assert store.quarantine_counts().total == 1  # the counter never goes down
    store.close()


def test_health_and_the_exporter_count_quarantined_lines(tmp_path: Path) -> None:
    from prometheus_client import CollectorRegistry

    from neonhub_nb.metrics import MetricsApp
    from neonhub_nb.metrics.collector import StoreCollector

    db = tmp_path / "s.duckdb"
    write_segment(db, "w", good_run("run_a") + BAD_LINES["non_finite"][0])
    store = AuditStore(db, background=False)
    store.flush()
    code, body = MetricsApp(store).health()
    assert code == 200 and body["status"] == "ok"
    assert body["store"]["quarantined_lines"] == 1
    assert body["store"]["quarantined_lines_total"] == 1
    registry = CollectorRegistry()
    registry.register(StoreCollector(store))
    assert registry.get_sample_value("neonhub_ingest_quarantined_lines_total") == 1.0
    assert registry.get_sample_value("neonhub_ingest_quarantine_open_lines") == 1.0
    store.close()
