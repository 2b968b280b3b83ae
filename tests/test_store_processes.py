"""Many processes, one DuckDB file: nothing lost, no lock errors, kill -9 survivable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from neonhub_nb.store import AuditStore

WRITER = Path(__file__).with_name("writer_process.py")


def start_writer(db: Path, runs: int, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(db), str(runs), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_four_writers_and_a_reader_lose_nothing_and_see_no_errors(tmp_path: Path) -> None:
    db = tmp_path / "shared.duckdb"
    writers = [start_writer(db, 60) for _ in range(4)]
    reader = AuditStore(db, read_only=True)
    reads, seen = 0, 0
    while any(w.poll() is None for w in writers):
        if db.exists():
            seen = int(reader.sql("SELECT count(*) AS n FROM agent_runs")["n"][0])
            reads += 1
        time.sleep(0.05)
    ids: list[str] = []
    for writer in writers:
        out, err = writer.communicate()
        assert writer.returncode == 0, err
        assert "Error" not in err and "lock" not in err.lower(), err
        ids += out.split()
    assert len(ids) == 240 and len(set(ids)) == 240
    assert reads > 0 and seen <= 240
    final = reader.sql("SELECT run_id, status FROM agent_runs")
    assert sorted(final["run_id"]) == sorted(ids)
    assert set(final["status"]) == {"succeeded"}
    counts = reader.sql(
        "SELECT (SELECT count(*) FROM tool_executions) AS tools, "
        "(SELECT count(*) FROM content_drafts) AS drafts, "
        "(SELECT count(DISTINCT run_id) FROM agent_run_metrics) AS metric_runs"
    ).iloc[0]
    assert (counts["tools"], counts["drafts"], counts["metric_runs"]) == (240, 240, 240)
    # Every writer exited cleanly, so its spool segments were ingested and removed.
    assert list((tmp_path / "shared.duckdb.spool").glob("*.jsonl")) == []


def test_a_reader_sees_a_finished_run_within_two_seconds(tmp_path: Path) -> None:
    from neonhub_nb import DraftParams, run_agent
    from neonhub_nb.config import load_settings

    db = tmp_path / "fresh.duckdb"
    settings = load_settings({"NEONHUB_DB": str(db)})
    writer = AuditStore.from_settings(settings)  # default 0.5 s ingestion interval
    result = run_agent(
        "content.generate_article",
        DraftParams(topic="t", primary_keyword="k", word_count=60),
        store=writer,
        settings=settings,
    )
    finished = time.monotonic()
    reader = AuditStore(db, read_only=True)
    while True:
        if db.exists():
            found = reader.sql("SELECT status FROM agent_runs WHERE run_id = ?", [result.run_id])
            if len(found) and found["status"][0] == "succeeded":
                break
        assert time.monotonic() - finished < 2.0, "run not visible to readers within 2 s"
        time.sleep(0.02)
    writer.close()


def test_kill_9_mid_run_keeps_finished_runs_and_marks_the_open_one_abandoned(
    tmp_path: Path,
) -> None:
    db = tmp_path / "killed.duckdb"
    writer = start_writer(db, 10, "--hang-after", "5")
    assert writer.stdout is not None
    finished = []
    for line in writer.stdout:
        if line.strip() == "HANGING":
            break
        finished.append(line.strip())
    os.kill(writer.pid, signal.SIGKILL)
    writer.communicate()
    assert len(finished) == 5

    survivor = AuditStore(db, background=False)
    report = survivor.flush()
    runs = survivor.sql("SELECT run_id, status, error FROM agent_runs ORDER BY started_at")
    assert runs["run_id"].tolist()[:5] == finished
    assert runs["status"].tolist() == ["succeeded"] * 5 + ["abandoned"]
    assert "exited before finishing" in runs["error"].tolist()[5]
    assert report.abandoned == 1
    # The hanging run's LLM call never returned, so it has no tool execution, but the
    # five finished runs keep theirs.
    assert survivor.sql("SELECT count(*) AS n FROM tool_executions")["n"][0] == 5
    assert list(survivor.spool_dir.glob("*.jsonl")) == []
    survivor.close()


def test_kill_9_during_ingestion_loses_nothing(tmp_path: Path) -> None:
    db = tmp_path / "ingest.duckdb"
    runs = 1500
    # A process that spools runs without ever ingesting, then dies without closing its
    # store: its spool is left for others, like a crashed kernel's.
    code = (
        "import os\n"
        "from neonhub_nb import DraftParams\n"
        "from neonhub_nb.config import load_settings\n"
        "from neonhub_nb.orchestrator import build_orchestrator\n"
        "from neonhub_nb.models import RunRequest\n"
        "from neonhub_nb.store import AuditStore\n"
        f"s = load_settings({{'NEONHUB_DB': {str(db)!r}}})\n"
        "st = AuditStore.from_settings(s, background=False)\n"
        "o = build_orchestrator(s, store=st)\n"
        f"for i in range({runs}):\n"
        "    o.run(RunRequest(intent='content.generate_article', "
        "params=DraftParams(topic=f't{i}', primary_keyword='k', word_count=60)))\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
    assert not db.exists()

    ingester = (
        "import duckdb\n"
        "from neonhub_nb.store import AuditStore, apply_migrations\n"
        # Create the schema first (without ingesting), so the kill lands in ingestion.
        f"con = duckdb.connect({str(db)!r}); apply_migrations(con); con.close()\n"
        f"store = AuditStore({str(db)!r}, background=False)\n"
        "print('start', flush=True)\n"
        "store.flush()\n"
        "print('done', flush=True)\n"
    )
    killed_mid_ingestion = 0
    for delay in (0.02, 0.1, 0.2):
        proc = subprocess.Popen([sys.executable, "-c", ingester], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "start"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate()
        killed_mid_ingestion += "done" not in rest
    assert killed_mid_ingestion >= 1

    store = AuditStore(db, background=False)
    store.flush()
    counts = (
        store.sql(
            "SELECT (SELECT count(*) FROM agent_runs) AS runs, "
            "(SELECT count(*) FROM agent_runs WHERE status = 'succeeded') AS ok, "
            "(SELECT count(*) FROM tool_executions) AS tools, "
            "(SELECT count(*) FROM content_drafts) AS drafts, "
            "(SELECT count(*) FROM agent_run_metrics) AS metrics"
        )
        .iloc[0]
        .tolist()
    )
    metrics_per_run = 7  # tokens x3, cost, tool_calls, word_count, reading_time
    assert counts == [runs, runs, runs, runs, runs * metrics_per_run]
    assert list(store.spool_dir.glob("*.jsonl")) == []
    store.close()
