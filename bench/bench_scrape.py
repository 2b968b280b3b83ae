"""Scrape time of the metrics exporter as the audit store grows.

    .venv/bin/python bench/bench_scrape.py                          # 10k and 1M runs
    .venv/bin/python bench/bench_scrape.py --runs 10000 --scrapes 50

For each size it builds (once, cached in bench/cache/) a synthetic store with
``neonhub_nb.synth.generate_synthetic_store``, copies it to a temp dir, starts the real
exporter on 127.0.0.1 and times ``GET /metrics`` over HTTP:

* ``cold``: the first scrape of a fresh exporter (a full count of the store; the CLI
  pays it at start-up, before it serves);
* ``read-write``: later scrapes of the default exporter, nothing new in the store;
* ``read-write+new``: ``--churn`` runs (each with a 4 KB LLM answer and two connector
  calls) recorded and ingested by another writer between scrapes, as live writers do;
* ``read-write+ingest``: the same, but the exporter ingests them itself (what it does for
  writers that died): the scrape also pays for the ingestion and DuckDB's checkpoint;
* ``read-only`` / ``read-only+new``: an exporter started with ``--read-only`` (one file
  open per scrape instead of two: ingest, then read).

Figures are milliseconds on this machine (median and p95); shared machines are noisy.
The last column checks the scrape against a direct SQL count of finished runs.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import duckdb
import httpx

from neonhub_nb.clock import utcnow
from neonhub_nb.ids import new_id
from neonhub_nb.metrics import start_exporter
from neonhub_nb.models import Metric, ToolExecution
from neonhub_nb.store import AuditStore
from neonhub_nb.synth import generate_synthetic_store

CACHE = Path(__file__).with_name("cache")


def cached_store(runs: int, cache: Path) -> Path:
    path = cache / f"synth-{runs}-seed0.duckdb"
    if not path.exists():
        start = time.perf_counter()
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        generate_synthetic_store(partial, runs)
        partial.rename(path)
        print(f"  built {path} in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return path


def record_run(store: AuditStore, index: int) -> None:
    run_id, now = new_id("run"), utcnow()
    row = {
        "run_id": run_id,
        "agent": "content",
        "intent": "content.generate_article",
        "mode": "mock",
        "started_at": now,
        "input": {"topic": f"bench {index}"},
    }
    store.record_run_started({**row, "status": "running"})
    for seq, (tool, operation) in enumerate(
        [("llm", "chat.completions"), ("connector.gsc", "query"), ("connector.slack", "post")], 1
    ):
        store.record_tool_execution(ToolExecution(
            execution_id=new_id("tex"), run_id=run_id, seq=seq, tool=tool, operation=operation,
            status="succeeded", started_at=now, duration_ms=40.0,
            request={"q": index}, response={"text": "x" * 4000, "rate_limited": seq == 3},
        ))  # fmt: skip
    store.record_run_finished(
        {
            **row,
            "status": "succeeded",
            "finished_at": now + timedelta(seconds=2),
            "duration_ms": 2000.0,
        },
        [Metric(name="total_tokens", value=1200, unit="tokens")],
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def finished_runs(path: Path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return int(con.execute(
            "SELECT count(*) FROM agent_runs WHERE status NOT IN ('queued', 'running')"
        ).fetchone()[0])  # fmt: skip
    finally:
        con.close()


def scraped_runs(text: str) -> int:
    return round(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                     if line.startswith("neonhub_agent_runs_total{")))  # fmt: skip


def bench(
    path: Path, read_only: bool, scrapes: int, churn: int, writer_ingests: bool
) -> dict[str, float | str]:
    store = AuditStore(path, read_only=read_only, background=False)
    writer = AuditStore(path, background=False) if churn else None
    exporter = start_exporter(store, port=0, warm=False)
    times: list[float] = []
    try:
        with httpx.Client(timeout=600) as client:
            start = time.perf_counter()
            client.get(exporter.metrics_url).raise_for_status()
            cold = (time.perf_counter() - start) * 1000
            for i in range(scrapes):
                if writer is not None:
                    for j in range(churn):
                        record_run(writer, i * churn + j)
                    if writer_ingests:
                        writer.flush()  # as a live writer's background ingester does
                start = time.perf_counter()
                response = client.get(exporter.metrics_url)
                times.append((time.perf_counter() - start) * 1000)
                response.raise_for_status()
    finally:
        exporter.stop()
        if writer is not None:
            writer.close()
        store.close()
    exact = scraped_runs(response.text) == finished_runs(path)
    return {
        "cold": cold,
        "median": statistics.median(times),
        "p95": percentile(times, 0.95),
        "series": sum(1 for line in response.text.splitlines() if line[:1] != "#"),
        "check": "exact" if exact else "MISMATCH",
    }


MODES = {
    # name: (read_only, churn?, the writer ingests its own runs?)
    "read-write": (False, False, False),
    "read-write+new": (False, True, True),
    "read-write+ingest": (False, True, False),
    "read-only": (True, False, False),
    "read-only+new": (True, True, True),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--runs",
        default="10000,1000000",
        help="comma-separated store sizes (default: 10000,1000000)",
    )
    parser.add_argument("--scrapes", type=int, default=30, help="timed scrapes per mode")
    parser.add_argument("--churn", type=int, default=10, help="runs recorded between scrapes")
    parser.add_argument("--cache", type=Path, default=CACHE, help="where stores are kept")
    args = parser.parse_args(argv)
    sizes = [int(size.replace("_", "")) for size in args.runs.split(",")]
    args.cache.mkdir(parents=True, exist_ok=True)

    header = (
        f"{'runs':>9} {'mode':<17} {'store MB':>8} {'cold ms':>8} {'median ms':>9} "
        f"{'p95 ms':>7} {'series':>6}  check"
    )
    print(f"{args.scrapes} scrapes per mode; '+new' modes record {args.churn} runs between scrapes")
    print(header)
    print("-" * len(header))
    for runs in sizes:
        base = cached_store(runs, args.cache)
        with tempfile.TemporaryDirectory(dir=args.cache) as tmp:
            work = Path(tmp) / "store.duckdb"
            shutil.copyfile(base, work)
            for mode, (read_only, new_runs, writer_ingests) in MODES.items():
                churn = args.churn if new_runs else 0
                result = bench(work, read_only, args.scrapes, churn, writer_ingests)
                size_mb = work.stat().st_size / 1e6
                print(
                    f"{runs:>9} {mode:<17} {size_mb:>8.0f} {result['cold']:>8.0f} "
                    f"{result['median']:>9.1f} {result['p95']:>7.1f} {result['series']:>6}  "
                    f"{result['check']}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
