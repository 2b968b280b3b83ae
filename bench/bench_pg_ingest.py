"""Several machines pushing runs into PostgreSQL while a dashboard reads; DuckDB as the peer.

    .venv/bin/python bench/bench_pg_ingest.py                    # 4 writers x 2,500 runs
    .venv/bin/python bench/bench_pg_ingest.py --writers 2 --runs 500 --pg-url postgresql://...

PostgreSQL: each writer process is one simulated machine. Per batch of ``--batch`` runs
(1 run + 5 tool executions + 4 metrics each, about 4 KB of JSON) it appends the events to
its own local spool file, then pushes the rows with that file's byte range through
``store.pg.upsert_batch`` (one transaction with the offsets), as the ``writer`` role.
A reader process, as the ``reader`` role on one kept connection, runs the dashboard's
tile query and the newest-50 page every 100 ms. The server is a local cluster from
``scripts/postgres.sh`` (unless ``--pg-url`` names one whose user may create databases
and roles).

DuckDB (the peer, same run, same machine): the same writers each use an ``AuditStore``
on one local file (spool, then ``flush()``: the product's ingestion with its file locks)
and the reader opens the file read-only for each query, as the dashboard does.

Prints per backend: runs/s (all runs / wall time until the last writer is done), lost (run
ids written but not in the store afterwards), errors, conflicts, reader queries and
their median and p95 latency (ms).
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
PG_SCRIPT = ROOT / "scripts" / "postgres.sh"
WRITER_PW = "bench-writer-pw"
READER_PW = "bench-reader-pw"
TILES = """SELECT count(*), count(*) FILTER (WHERE status = 'failed'),
                  count(*) FILTER (WHERE status = 'succeeded') FROM agent_runs"""
PAGE = """SELECT run_id, started_at, agent, status, duration_ms FROM agent_runs
          ORDER BY started_at DESC, run_id DESC LIMIT 50"""


def make_rows(machine: int, index: int) -> dict[str, list[dict[str, Any]]]:
    run_id = f"m{machine}-run-{index:06d}"
    started = datetime(2026, 5, 1, tzinfo=UTC) + timedelta(seconds=index * 4 + machine)
    stamp = started.isoformat()
    status = "failed" if index % 13 == 0 else "succeeded"
    run = {
        "run_id": run_id,
        "agent": ("content", "seo", "email", "social")[index % 4],
        "intent": "content.generate_article",
        "status": status,
        "mode": "mock",
        "started_at": stamp,
        "finished_at": (started + timedelta(seconds=2)).isoformat(),
        "duration_ms": 2000.0 + index % 997,
        "input": {"topic": f"topic {index}", "word_count": 600},
        "output": {"title": f"Title {index}", "words": 600},
        "error": "model timed out" if status == "failed" else None,
        "model": "mock-writer",
        "redacted_fields": [],
        "writer_id": f"machine-{machine}",
        "seed": index,
    }
    tools = [
        {
            "execution_id": f"{run_id}-t{seq}",
            "run_id": run_id,
            "seq": seq,
            "tool": "llm" if seq == 0 else "connector.gsc",
            "operation": "chat" if seq == 0 else "query",
            "status": "succeeded",
            "started_at": stamp,
            "duration_ms": 15.0 + seq,
            "request": {"prompt": "p" * 280, "seq": seq},
            "response": {"text": "r" * 280, "rate_limited": False},
            "error": None,
        }
        for seq in range(5)
    ]
    metrics = [
        {"run_id": run_id, "name": name, "value": value, "unit": unit}
        for name, value, unit in (
            ("prompt_tokens", 400.0, "tokens"),
            ("completion_tokens", 800.0, "tokens"),
            ("total_tokens", 1200.0, "tokens"),
            ("cost_usd", 0.0012, "usd"),
        )
    ]
    return {"agent_runs": [run], "tool_executions": tools, "agent_run_metrics": metrics}


def _merge(batches: list[dict[str, list[dict[str, Any]]]]) -> dict[str, list[dict[str, Any]]]:
    merged: dict[str, list[dict[str, Any]]] = {}
    for batch in batches:
        for table, rows in batch.items():
            merged.setdefault(table, []).extend(rows)
    return merged


# ------------------------------------------------------------------------ PostgreSQL
def pg_writer(url: str, machine: int, runs: int, batch: int, spool: str, go: Any, out: Any) -> None:
    from neonhub_nb.errors import StoreError
    from neonhub_nb.store.pg import SegmentRange, connect, upsert_batch

    errors = conflicts = 0
    segment = f"machine_{machine}-1-bench.00001.jsonl"
    offset = 0
    with connect(url) as con, open(spool, "ab") as file:
        out.put(("ready",))
        go.wait()
        for first in range(0, runs, batch):
            rows = [make_rows(machine, i) for i in range(first, min(first + batch, runs))]
            data = b"".join(orjson.dumps({"t": "batch", "rows": r}) + b"\n" for r in rows)
            file.write(data)
            file.flush()
            part = SegmentRange(f"host-{machine}", segment, offset, offset + len(data))
            while True:
                try:
                    done = upsert_batch(con, _merge(rows), [part], now=datetime.now(UTC))
                except StoreError:
                    errors += 1
                    time.sleep(0.05)
                    continue
                if not done.committed:  # only this machine writes its segment: never
                    conflicts += 1
                break
            offset += len(data)
    out.put(("writer", errors, conflicts))


def pg_reader(url: str, stop: Any, out: Any) -> None:
    from neonhub_nb.store.pg import connect

    latencies: list[float] = []
    errors = 0
    with connect(url, autocommit=True) as con:
        while not stop.is_set():
            start = time.perf_counter()
            try:
                con.execute(TILES).fetchone()
                con.execute(PAGE).fetchall()
                latencies.append(time.perf_counter() - start)
            except Exception:
                errors += 1
            stop.wait(max(0.0, 0.1 - (time.perf_counter() - start)))
    out.put(("reader", latencies, errors))


# ---------------------------------------------------------------------------- DuckDB
def duck_writer(path: str, machine: int, runs: int, batch: int, go: Any, out: Any) -> None:
    from neonhub_nb.errors import StoreError
    from neonhub_nb.store import AuditStore

    errors = 0
    store = AuditStore(path, background=False)
    out.put(("ready",))
    go.wait()
    for first in range(0, runs, batch):
        events: list[dict[str, Any]] = []
        for i in range(first, min(first + batch, runs)):
            rows = make_rows(machine, i)
            events.append({"t": "run", "rev": 1, "row": rows["agent_runs"][0]})
            events += [{"t": "tool", "row": r} for r in rows["tool_executions"]]
            events += [{"t": "metric", "row": r} for r in rows["agent_run_metrics"]]
        store._append(events)  # the spool write record_run_finished() makes
        while True:
            try:
                store.flush()
                break
            except StoreError:
                errors += 1
    store.close()
    out.put(("writer", errors, 0))


def duck_reader(path: str, stop: Any, out: Any) -> None:
    from neonhub_nb.store import AuditStore

    latencies: list[float] = []
    errors = 0
    store = AuditStore(path, read_only=True)
    while not stop.is_set():
        start = time.perf_counter()
        try:
            with store.connect() as con:
                con.execute(TILES).fetchone()
                con.execute(PAGE).fetchall()
            latencies.append(time.perf_counter() - start)
        except Exception:
            errors += 1
        stop.wait(max(0.0, 0.1 - (time.perf_counter() - start)))
    out.put(("reader", latencies, errors))


# ---------------------------------------------------------------------------- driver
def drive(writers: list[Any], reader: Any, go: Any, stop: Any, out: Any) -> dict[str, Any]:
    """Start every process, then time from the moment all writers are ready to go."""
    reader.start()
    for writer in writers:
        writer.start()
    for _ in writers:
        assert out.get(timeout=300) == ("ready",)
    start = time.perf_counter()
    go.set()
    results = [out.get(timeout=1800) for _ in writers]
    wall = time.perf_counter() - start
    for writer in writers:
        writer.join(60)
    stop.set()
    _, latencies, reader_errors = out.get(timeout=60)
    reader.join(60)
    return {
        "wall": wall,
        "errors": sum(r[1] for r in results),
        "conflicts": sum(r[2] for r in results),
        "latencies": latencies,
        "reader_errors": reader_errors,
    }


def expected_ids(machines: int, runs: int) -> set[str]:
    return {f"m{m}-run-{i:06d}" for m in range(machines) for i in range(runs)}


def bench_pg(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from neonhub_nb.store.pg import READER, WRITER, apply_migrations, connect, ensure_roles

    cluster = Path(tempfile.mkdtemp(prefix="bench-pg-ingest-", dir="/tmp"))
    try:
        admin = (
            args.pg_url
            or subprocess.run(
                [str(PG_SCRIPT), "start", str(cluster)], check=True, capture_output=True, text=True
            ).stdout.strip()
        )
        with connect(admin, autocommit=True) as con:
            con.execute("DROP DATABASE IF EXISTS bench_ingest")
            con.execute("CREATE DATABASE bench_ingest")
        url = admin.rsplit("/", 1)[0] + "/bench_ingest"
        with connect(url, autocommit=True) as con:
            apply_migrations(con)
            ensure_roles(con, writer_password=WRITER_PW, reader_password=READER_PW)
        host = url.split("@", 1)[1]
        writer_url = f"postgresql://{WRITER}:{WRITER_PW}@{host}"
        reader_url = f"postgresql://{READER}:{READER_PW}@{host}"
        ctx = multiprocessing.get_context("spawn")
        go, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
        writers = [
            ctx.Process(
                target=pg_writer,
                args=(
                    writer_url,
                    m,
                    args.runs,
                    args.batch,
                    str(work / f"spool-{m}.jsonl"),
                    go,
                    out,
                ),
            )
            for m in range(args.writers)
        ]
        result = drive(
            writers, ctx.Process(target=pg_reader, args=(reader_url, stop, out)), go, stop, out
        )
        with connect(url) as con:
            found = {r[0] for r in con.execute("SELECT run_id FROM agent_runs").fetchall()}
            tools = con.execute("SELECT count(*) FROM tool_executions").fetchone()
        result["lost"] = len(expected_ids(args.writers, args.runs) - found)
        result["rows_ok"] = tools == (args.writers * args.runs * 5,)
        return result
    finally:
        if not args.pg_url:
            subprocess.run([str(PG_SCRIPT), "stop", str(cluster)], check=False, capture_output=True)
        shutil.rmtree(cluster, ignore_errors=True)


def bench_duckdb(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    import duckdb

    path = work / "peer.duckdb"
    ctx = multiprocessing.get_context("spawn")
    go, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
    writers = [
        ctx.Process(target=duck_writer, args=(str(path), m, args.runs, args.batch, go, out))
        for m in range(args.writers)
    ]
    result = drive(
        writers, ctx.Process(target=duck_reader, args=(str(path), stop, out)), go, stop, out
    )
    con = duckdb.connect(str(path), read_only=True)
    found = {r[0] for r in con.execute("SELECT run_id FROM agent_runs").fetchall()}
    tools = con.execute("SELECT count(*) FROM tool_executions").fetchone()
    con.close()
    result["lost"] = len(expected_ids(args.writers, args.runs) - found)
    result["rows_ok"] = tools == (args.writers * args.runs * 5,)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--runs", type=int, default=2500, help="runs per writer")
    parser.add_argument("--batch", type=int, default=100, help="runs per transaction")
    parser.add_argument("--pg-url", help="an existing server (else a local one is started)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-pg-ingest-work-"))
    try:
        results = {"PostgreSQL": bench_pg(args, work), "DuckDB file": bench_duckdb(args, work)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    total = args.writers * args.runs
    print(
        f"{args.writers} writers x {args.runs} runs (1 run + 5 tool executions + 4 metrics), "
        f"batches of {args.batch}, reader every 100 ms"
    )
    print(
        f"{'backend':12} {'runs/s':>8} {'wall s':>7} {'lost':>5} {'errors':>6} "
        f"{'conflicts':>9} {'all rows':>8} {'reads':>6} {'read errs':>9} "
        f"{'read p50 ms':>11} {'read p95 ms':>11}"
    )
    for name, r in results.items():
        lat = sorted(r["latencies"]) or [float("nan")]
        p95 = lat[min(len(lat) - 1, int(len(lat) * 0.95))]
        print(
            f"{name:12} {total / r['wall']:8.0f} {r['wall']:7.1f} {r['lost']:5d} "
            f"{r['errors']:6d} {r['conflicts']:9d} {'yes' if r['rows_ok'] else 'NO':>8} "
            f"{len(r['latencies']):6d} {r['reader_errors']:9d} "
            f"{statistics.median(lat) * 1000:11.1f} {p95 * 1000:11.1f}"
        )
    pg, duck = results["PostgreSQL"], results["DuckDB file"]
    print(f"ratio PostgreSQL/DuckDB: runs/s {duck['wall'] / pg['wall']:.2f}x")


if __name__ == "__main__":
    main()
