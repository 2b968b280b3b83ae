"""Audit-store benchmarks: logging overhead, peers, many processes, dashboard queries.

    .venv/bin/python bench/bench_store.py                      # everything (MLflow if installed)
    .venv/bin/python bench/bench_store.py --only logging,peers --runs 2000
    .venv/bin/python bench/bench_store.py --only redaction        # its share: redaction
    .venv/bin/python bench/bench_store.py --only checks,reads,first-run  # the audit trail's
    ./scripts/bench.sh store                                   # installs MLflow first

Prints one table per part. Figures are medians (and p99 where asked) on this machine;
compare ratios, not absolute numbers: shared machines are noisy.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from neonhub_nb.clock import utcnow
from neonhub_nb.ids import new_id
from neonhub_nb.models import Metric, ToolExecution
from neonhub_nb.store import AuditStore, queries

sys.path.insert(0, str(Path(__file__).parent))
import store_audit_parts as audit_parts  # a sibling file of this script

CACHE = Path(__file__).with_name("cache")


def payload(index: int) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """~1 KB input, ~4 KB output, 5 tool calls: the issue's reference run."""
    run_input = {
        "topic": f"topic {index}",
        "primary_keyword": "newsletter growth",
        "audience": "small business owners",
        "tone": "friendly",
        "word_count": 600,
        "brief": "Write about growing a newsletter. " * 26,
    }
    output = {"title": "How to grow a newsletter", "content": "Lorem ipsum dolor sit amet. " * 146}
    tools = [
        {
            "tool": "connector.gsc" if i else "llm",
            "operation": "query",
            "request": {"q": f"kw {i}"},
            "response": {"rows": i},
        }
        for i in range(5)
    ]
    return run_input, output, tools


def log_one(store: AuditStore, index: int) -> str:
    run_input, output, tools = payload(index)
    run_id, now = new_id("run"), utcnow()
    row = {
        "run_id": run_id,
        "agent": "content",
        "intent": "content.generate_article",
        "mode": "mock",
        "started_at": now,
        "input": run_input,
    }
    store.record_run_started({**row, "status": "running"})
    for seq, tool in enumerate(tools, 1):
        store.record_tool_execution(
            ToolExecution(
                execution_id=new_id("tex"),
                run_id=run_id,
                seq=seq,
                status="succeeded",
                started_at=now,
                duration_ms=1.0,
                **tool,
            )
        )
    store.record_run_finished(
        {**row, "status": "succeeded", "finished_at": now, "duration_ms": 12.0, "output": output},
        [
            Metric(name=n, value=v)
            for n, v in (
                ("prompt_tokens", 300),
                ("completion_tokens", 900),
                ("cost_usd", 0.0006),
                ("word_count", 600),
            )
        ],
    )
    return run_id


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


# ------------------------------------------------------------------- 1 + 2: logging
def bench_neonhub(tmp: Path, runs: int, fsync: bool) -> list[float]:
    store = AuditStore(tmp / f"nh-{fsync}.duckdb", fsync=fsync)
    times = []
    for i in range(runs):
        start = time.perf_counter()
        log_one(store, i)
        times.append((time.perf_counter() - start) * 1000)
    store.close()
    recorded = AuditStore(tmp / f"nh-{fsync}.duckdb", read_only=True).sql(
        "SELECT count(*) AS n FROM agent_runs"
    )["n"][0]
    assert recorded == runs, (recorded, runs)
    return times


def sqlite_peer(path: Path, synchronous: str) -> sqlite3.Connection:
    """A SQLite database in WAL mode with the peers' three tables."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute(f"PRAGMA synchronous={synchronous}")
    con.execute(
        "CREATE TABLE runs (run_id TEXT PRIMARY KEY, agent TEXT, intent TEXT, "
        "status TEXT, started_at TEXT, input TEXT, output TEXT, duration_ms REAL)"
    )
    con.execute(
        "CREATE TABLE tools (id TEXT PRIMARY KEY, run_id TEXT, seq INT, tool TEXT, "
        "operation TEXT, request TEXT, response TEXT)"
    )
    con.execute("CREATE TABLE metrics (run_id TEXT, name TEXT, value REAL)")
    return con


METRIC_ROWS = (
    ("prompt_tokens", 300),
    ("completion_tokens", 900),
    ("cost_usd", 0.0006),
    ("word_count", 600),
)


def bench_sqlite(tmp: Path, runs: int, synchronous: str) -> list[float]:
    """SQLite in WAL mode, one transaction per run at its end."""
    con = sqlite_peer(tmp / f"peer-{synchronous}.sqlite", synchronous)
    times = []
    for i in range(runs):
        start = time.perf_counter()
        run_input, output, tools = payload(i)
        run_id = new_id("run")
        con.execute("BEGIN")
        con.execute(
            "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?)",
            (
                run_id,
                "content",
                "content.generate_article",
                "succeeded",
                utcnow().isoformat(),
                json.dumps(run_input),
                json.dumps(output),
                12.0,
            ),
        )
        con.executemany(
            "INSERT INTO tools VALUES (?,?,?,?,?,?,?)",
            [
                (
                    new_id("tex"),
                    run_id,
                    s,
                    t["tool"],
                    t["operation"],
                    json.dumps(t["request"]),
                    json.dumps(t["response"]),
                )
                for s, t in enumerate(tools, 1)
            ],
        )
        con.executemany(
            "INSERT INTO metrics VALUES (?,?,?)",
            [
                (run_id, "prompt_tokens", 300),
                (run_id, "completion_tokens", 900),
                (run_id, "cost_usd", 0.0006),
                (run_id, "word_count", 600),
            ],
        )
        con.execute("COMMIT")
        times.append((time.perf_counter() - start) * 1000)
    con.close()
    return times


def bench_sqlite_per_event(tmp: Path, runs: int) -> list[float]:
    """SQLite WAL ``synchronous=NORMAL`` committing each event as it happens (the run's
    start, each tool call, its end): what keeping every tool call through a kill -9
    costs SQLite, as the spool does."""
    con = sqlite_peer(tmp / "peer-NORMAL-per-event.sqlite", "NORMAL")
    times = []
    for i in range(runs):
        start = time.perf_counter()
        run_input, output, tools = payload(i)
        run_id = new_id("run")
        started = utcnow().isoformat()
        con.execute(
            "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?)",
            (run_id, "content", "content.generate_article", "running", started,
             json.dumps(run_input), None, None),
        )  # fmt: skip
        for s, t in enumerate(tools, 1):
            con.execute(
                "INSERT INTO tools VALUES (?,?,?,?,?,?,?)",
                (new_id("tex"), run_id, s, t["tool"], t["operation"],
                 json.dumps(t["request"]), json.dumps(t["response"])),
            )  # fmt: skip
        con.execute("BEGIN")
        con.execute(
            "INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?,?,?)",
            (run_id, "content", "content.generate_article", "succeeded", started,
             json.dumps(run_input), json.dumps(output), 12.0),
        )  # fmt: skip
        con.executemany(
            "INSERT INTO metrics VALUES (?,?,?)", [(run_id, n, v) for n, v in METRIC_ROWS]
        )
        con.execute("COMMIT")
        times.append((time.perf_counter() - start) * 1000)
    con.close()
    return times


def bench_mlflow(tmp: Path, runs: int) -> list[float] | None:
    try:
        import mlflow
    except ImportError:
        return None
    import logging

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    # Artifacts (log_text) go to a temp folder too, not ./mlruns.
    mlflow.create_experiment("bench", artifact_location=(tmp / "mlruns").as_uri())
    mlflow.set_experiment("bench")
    times = []
    for i in range(runs):
        run_input, output, tools = payload(i)
        start = time.perf_counter()
        mlflow.start_run()
        mlflow.log_params({k: str(v)[:250] for k, v in run_input.items()})
        mlflow.log_metrics(
            {"prompt_tokens": 300, "completion_tokens": 900, "cost_usd": 0.0006, "word_count": 600}
        )
        mlflow.log_text(json.dumps(output), "output.json")
        mlflow.log_text(json.dumps(tools), "tools.json")
        mlflow.end_run()
        times.append((time.perf_counter() - start) * 1000)
    return times


def part_logging(tmp: Path, runs: int, mlflow_runs: int) -> None:
    results: dict[str, list[float] | None] = {
        "neonhub-nb spool (kill -9 safe)": bench_neonhub(tmp, runs, fsync=False),
        "neonhub-nb spool + fsync (power-loss safe)": bench_neonhub(tmp, runs, fsync=True),
        "SQLite WAL, synchronous=NORMAL": bench_sqlite(tmp, runs, "NORMAL"),
        "SQLite WAL, synchronous=FULL": bench_sqlite(tmp, runs, "FULL"),
        "SQLite WAL, NORMAL, a commit per event (kill -9 safe)": bench_sqlite_per_event(tmp, runs),
        "MLflow 3 tracking, SQLite backend": bench_mlflow(tmp, mlflow_runs),
    }
    base = statistics.median(results["neonhub-nb spool (kill -9 safe)"] or [1])
    rows = []
    for name, times in results.items():
        if times is None:
            rows.append([name, "-", "-", "-", "not installed (./scripts/bench.sh store)"])
            continue
        p50 = statistics.median(times)
        rows.append(
            [name, str(len(times)), f"{p50:.3f}", f"{pct(times, 0.99):.3f}", f"{p50 / base:.1f}x"]
        )
    table(
        "1-2. logging one finished run (1 run, 5 tool calls, 4 metrics, ~1 KB in, ~4 KB out)",
        ["recorder", "runs", "p50 ms", "p99 ms", "p50 vs neonhub-nb"],
        rows,
    )


# ------------------------------------------------------------- 2b: redaction share
def redaction_calls(redactor: Any, index: int) -> None:
    """Run ``index``'s fields through ``Redactor.redact`` one by one: how the store
    redacted before it scanned whole spool lines, and the only way the old redactor can."""
    run_input, output, tools = payload(index)
    redactor.redact(run_input, "input")  # record_run_started
    for tool in tools:  # record_tool_execution (error is None: not redacted)
        redactor.redact(tool["request"], "request")
        redactor.redact(tool["response"], "response")
    redactor.redact(run_input, "input")  # record_run_finished
    redactor.redact(output, "output")


def spool_lines(index: int) -> list[bytes]:
    """The lines the store's quick check scans while log_one records run ``index``."""
    import orjson

    run_input, output, tools = payload(index)
    row = {"run_id": f"run_{index}", "agent": "content", "status": "running", "input": run_input}
    lines = [orjson.dumps({"t": "run", "rev": 0, "row": row})]
    lines += [orjson.dumps({"t": "tool", "row": {"run_id": f"run_{index}", **t}}) for t in tools]
    finished = {**row, "status": "succeeded", "output": output}
    return [*lines, orjson.dumps({"t": "run", "rev": 1, "row": finished})]


def part_redaction(runs: int, ref: str | None = None) -> None:
    from bench_redact import OLD_REDACTOR_REF, load_old  # same folder

    ref = ref or OLD_REDACTOR_REF

    from neonhub_nb.redact import Redactor

    rows = []
    for name, redactor in ((f"{ref}:neonhub_nb/redact.py", load_old(ref).Redactor()),
                           ("this tree, field by field", Redactor())):  # fmt: skip
        for i in range(50):
            redaction_calls(redactor, i)
        times = []
        for i in range(runs):
            start = time.perf_counter()
            redaction_calls(redactor, i)
            times.append((time.perf_counter() - start) * 1e6)
        rows.append([name, str(runs), f"{statistics.median(times):.1f}", f"{pct(times, 0.99):.1f}"])
    # What the store does now: one quick check per spool line (serialized anyway).
    check = Redactor().scanner.may_contain
    times = []
    for i in range(runs):
        lines = spool_lines(i)
        start = time.perf_counter()
        for line in lines:
            check(line)
        times.append((time.perf_counter() - start) * 1e6)
    rows.append(
        ["this tree, the store's check of 7 spool lines", str(runs),
         f"{statistics.median(times):.1f}", f"{pct(times, 0.99):.1f}"]
    )  # fmt: skip
    table(
        "2b. redaction inside logging one run (secret-free payload: no slow path)",
        ["redactor", "runs", "p50 us", "p99 us"],
        rows,
    )


# --------------------------------------------------------------- 3: many processes
def _writer(db: str, runs: int, ids_file: str, errors: Any) -> None:
    try:
        store = AuditStore(Path(db))
        with open(ids_file, "w") as out:
            for i in range(runs):
                out.write(log_one(store, i) + "\n")
        store.close()
    except Exception as exc:
        errors.put(f"writer: {exc!r}")


def _reader(db: str, stop: Any, errors: Any, reads: Any) -> None:
    store = AuditStore(Path(db), read_only=True)
    while not stop.is_set():
        try:
            if Path(db).exists():
                store.sql("SELECT count(*) FROM agent_runs")
                reads.value += 1
        except Exception as exc:
            errors.put(f"reader: {exc!r}")
        time.sleep(0.1)


def part_processes(tmp: Path, writers: int, per_writer: int) -> None:
    db = str(tmp / "multi.duckdb")
    ctx = mp.get_context("spawn")
    errors, stop, reads = ctx.Queue(), ctx.Event(), ctx.Value("i", 0)
    reader = ctx.Process(target=_reader, args=(db, stop, errors, reads))
    reader.start()
    ids_files = [str(tmp / f"ids-{w}.txt") for w in range(writers)]
    start = time.perf_counter()
    procs = [ctx.Process(target=_writer, args=(db, per_writer, f, errors)) for f in ids_files]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    elapsed = time.perf_counter() - start
    stop.set()
    reader.join()
    expected = {
        line.strip() for f in ids_files for line in Path(f).read_text().splitlines() if line.strip()
    }
    store = AuditStore(Path(db), background=False)
    stored = set(store.sql("SELECT run_id FROM agent_runs")["run_id"])
    store.close()
    problems = []
    while not errors.empty():
        problems.append(errors.get())
    total = writers * per_writer
    table(
        f"3. {writers} writer processes x {per_writer} runs, a reader querying every 100 ms",
        ["runs", "wall s", "runs/s", "lost", "errors", "reader queries"],
        [
            [
                str(total),
                f"{elapsed:.2f}",
                f"{total / elapsed:,.0f}",
                str(len(expected - stored) + (total - len(expected))),
                str(len(problems)),
                str(reads.value),
            ]
        ],
    )
    for problem in problems[:5]:
        print("   ", problem)


# ------------------------------------------------------------- 4: dashboard queries
def part_dashboard(runs: int, reps: int) -> None:
    from neonhub_nb.synth import SYNTH_END, generate_synthetic_store

    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"runs-{runs}.duckdb"
    if not path.exists():
        started = time.perf_counter()
        generate_synthetic_store(path, runs)
        print(f"\n(generated {path} in {time.perf_counter() - started:.0f} s)")
    store = AuditStore(path, read_only=True)
    since = SYNTH_END - timedelta(days=30)
    with store.connect() as con:
        some_run = con.execute(
            "SELECT run_id FROM agent_runs ORDER BY started_at DESC LIMIT 1 OFFSET 777"
        ).fetchone()[0]
        cases = {
            "counts by agent and status": lambda: queries.counts_by_agent_status(con),
            "p50/p95 duration by agent": lambda: queries.duration_percentiles(con),
            "runs per hour over 30 days": lambda: queries.runs_per_bucket(con, since=since),
            "latest 50, filtered (agent=seo, status=failed)": lambda: queries.runs(
                con, limit=50, agent="seo", status="failed"
            ),
            "one run with its tool executions": lambda: queries.run_detail(con, some_run),
        }
        rows = []
        for name, query in cases.items():
            query()  # warm the file cache
            times = []
            for _ in range(reps):
                start = time.perf_counter()
                query()
                times.append((time.perf_counter() - start) * 1000)
            rows.append([name, f"{statistics.median(times):.1f}", f"{pct(times, 0.95):.1f}"])
    opens = []
    for _ in range(reps):
        start = time.perf_counter()
        with store.connect() as con:
            con.execute("SELECT 1").fetchone()
        opens.append((time.perf_counter() - start) * 1000)
    rows.append(
        [
            "(open + close a read-only connection)",
            f"{statistics.median(opens):.1f}",
            f"{pct(opens, 0.95):.1f}",
        ]
    )
    table(
        f"4. dashboard queries over {runs:,} runs ({reps} repetitions each)",
        ["query", "median ms", "p95 ms"],
        rows,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only",
        default="logging,processes,dashboard",
        help="comma-separated parts: logging, redaction, processes, dashboard, checks, "
        "reads, first-run (store_audit_parts.py)",
    )
    parser.add_argument("--runs", type=int, default=2000, help="runs for the logging part")
    parser.add_argument("--mlflow-runs", type=int, default=100, help="runs logged with MLflow")
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--per-writer", type=int, default=2500)
    parser.add_argument("--dashboard-runs", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument(
        "--code", default=None, help="first-run: measure the neonhub_nb in this folder instead"
    )
    args = parser.parse_args(argv)
    parts = set(args.only.split(","))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="neonhub-bench-") as tmp_name:
        tmp = Path(tmp_name)
        if "logging" in parts:
            part_logging(tmp, args.runs, args.mlflow_runs)
        if "redaction" in parts:
            part_redaction(args.runs)
        if "processes" in parts:
            part_processes(tmp, args.writers, args.per_writer)
        if "checks" in parts:
            audit_parts.part_checks(tmp, args.runs, log_one, table)
        if "reads" in parts:
            audit_parts.part_reads(tmp, args.runs, args.reps, log_one, table)
    if "first-run" in parts:
        audit_parts.part_first_run(max(3, args.reps // 4), table, args.code)
    if "dashboard" in parts:
        part_dashboard(args.dashboard_runs, args.reps)


if __name__ == "__main__":
    main()
