"""Reads at team size: the dashboard's aggregates and the exporter's scrape at 1,000,000
runs, on a PostgreSQL team store against the local DuckDB file, in the same run.

    .venv/bin/python bench/bench_team_reads.py                     # 1,000,000 runs
    .venv/bin/python bench/bench_team_reads.py --runs 20000 --repeat 5

The DuckDB file is ``neonhub_nb.synth``'s (cached in bench/cache/); the team store is
``bench/pg_synth.py``'s, the same distributions generated inside PostgreSQL, in a local
cluster started by ``scripts/postgres.sh`` (kept in ``--pg-dir`` between runs, so the
second run skips the hours of generation; ``--pg-url`` uses another server instead).
Both stores then keep their roll-ups as the product does (built once, then by ingestion).

What is timed, each ``--repeat`` times, alternating the engines:

* ``dashboard``: one refresh, :func:`neonhub_nb.dashboard.aggregates.load_dashboard` on a
  connection from ``store.connect()``, as the page does, for the default scope (30 days,
  live runs) and for every run of the last 24 hours; with the roll-ups (the product) and,
  once, without (every sum from the raw rows: what a store without roll-ups would pay);
* ``scrape``: one Prometheus scrape, ``generate_latest`` over a registry holding the
  exporter's :class:`~neonhub_nb.metrics.collector.StoreCollector`, as ``GET /metrics``
  serves it: ``cold`` is the first scrape of a new exporter (it counts the whole store),
  ``steady`` the later ones (only what arrived since), ``+10 runs`` with ten runs
  ingested between scrapes (a machine's ingester at work).

Medians and p95 in milliseconds, and PostgreSQL / DuckDB. The machine is shared; read
the ratios with that in mind. Checks, printed: both scrapes count every finished run.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from prometheus_client import CollectorRegistry, generate_latest

from neonhub_nb.dashboard.aggregates import load_dashboard
from neonhub_nb.dashboard.data import Period, RunFilters, Scope
from neonhub_nb.metrics.collector import StoreCollector
from neonhub_nb.models import ToolExecution
from neonhub_nb.store import AuditStore
from neonhub_nb.store.base import Store
from neonhub_nb.store.pg.rollups import refresh_hours, rollup_hours
from neonhub_nb.store.pg.setup import init_database
from neonhub_nb.store.pg.store import PgStore
from neonhub_nb.synth import SYNTH_END, generate_synthetic_store

sys.path.insert(0, str(Path(__file__).parent))
from pg_synth import generate_pg_store

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(__file__).with_name("cache")


def duckdb_store(runs: int) -> Path:
    """The cached synthetic DuckDB file of ``runs`` runs (built on first use)."""
    path = CACHE / f"synth-{runs}-seed0.duckdb"
    if not path.exists():
        start = time.perf_counter()
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        generate_synthetic_store(partial, runs)
        partial.rename(path)
        print(f"  built {path.name} in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return path


def pg_server(folder: Path) -> str:
    """Start (or find running) the local cluster in ``folder``; its superuser's URL."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o777)  # the postgres user owns the cluster when we run as root
    done = subprocess.run(
        [str(ROOT / "scripts" / "postgres.sh"), "start", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"scripts/postgres.sh start failed:\n{done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


def pg_store(url: str, runs: int) -> None:
    """Migrate the database and fill it with ``runs`` synthetic runs unless it holds them;
    remove the runs an earlier benchmark recorded."""
    init_database(url)
    with psycopg.connect(url, autocommit=True) as con:
        with con.transaction():
            earlier = "run_id LIKE 'run_bench%'"
            hours = rollup_hours(con, earlier)
            for table in ("tool_executions", "agent_run_metrics", "content_drafts", "agent_runs"):
                con.execute(f"DELETE FROM {table} WHERE {earlier}")
            refresh_hours(con, hours)
        row = con.execute("SELECT count(*) FROM agent_runs").fetchone()
        held = int(row[0]) if row else 0
        if held == runs:
            return
        if held:
            sys.exit(f"the team store holds {held:,} runs, not {runs:,}: use another --pg-dir")
        start = time.perf_counter()
        generate_pg_store(con, runs)
        print(f"  built the team store in {time.perf_counter() - start:.0f} s", file=sys.stderr)


def timed(work: Callable[[], Any]) -> float:
    start = time.perf_counter()
    work()
    return (time.perf_counter() - start) * 1000


def refresh(store: Store, scope: Scope, *, use_rollups: bool = True) -> Any:
    with store.connect() as con:
        return load_dashboard(con, scope, now=SYNTH_END, use_rollups=use_rollups)


def record_runs(store: Store, count: int, start: int) -> None:
    """``count`` finished runs (an LLM call with a 4 KB answer, two connector calls)."""
    for index in range(start, start + count):
        run_id = f"run_bench{index:012d}"
        now = SYNTH_END + timedelta(seconds=index)
        run = {
            "run_id": run_id,
            "agent": "content",
            "intent": "content.generate_article",
            "mode": "live",
            "started_at": now,
            "input": {"topic": f"bench {index}"},
        }
        store.record_run_started({**run, "status": "running"})
        for seq, tool in enumerate(("llm", "connector.gsc", "connector.slack"), 1):
            store.record_tool_execution(
                ToolExecution(
                    execution_id=f"tex_bench{index:012d}{seq}",
                    run_id=run_id,
                    seq=seq,
                    tool=tool,
                    operation="call",
                    status="succeeded",
                    started_at=now,
                    duration_ms=40.0,
                    request={"q": index},
                    response={"text": "x" * 4000, "rate_limited": seq == 3},
                )
            )
        store.record_run_finished(
            {
                **run,
                "status": "succeeded",
                "finished_at": now + timedelta(seconds=2),
                "duration_ms": 2000.0,
            },
            metrics=[],
        )
    store.flush()


def finished_runs(store: Store) -> int:
    frame = store.sql(
        "SELECT count(*) AS n FROM agent_runs WHERE status NOT IN ('queued', 'running')"
    )
    return int(frame["n"][0])


def scrape_total(text: bytes) -> float:
    total = 0.0
    for line in text.decode().splitlines():
        if line.startswith("neonhub_agent_runs_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def row(name: str, pg: list[float], duck: list[float]) -> str:
    def cell(values: list[float]) -> str:
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        return f"{statistics.median(values):>9.1f} {p95:>9.1f}"

    ratio = statistics.median(pg) / max(statistics.median(duck), 1e-9)
    return f"{name:<34} {cell(pg)} {cell(duck)} {ratio:>8.1f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--pg-dir", type=Path, default=Path("/tmp/neonhub-bench-team-reads"))
    parser.add_argument("--pg-url", default=None, help="an existing server's database")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="team-reads-"))
    try:
        source = duckdb_store(args.runs)
        copy = folder / source.name  # the exporter ingests into (and checkpoints) its store
        shutil.copy(source, copy)
        url = args.pg_url or pg_server(args.pg_dir / f"runs-{args.runs}")
        pg_store(url, args.runs)
        stores: dict[str, Store] = {
            "pg": PgStore(url, spool_root=folder / "spool", background=False),
            "duck": AuditStore(copy, background=False),
        }
        readers: dict[str, Store] = {
            "pg": PgStore(url, read_only=True, spool_root=folder / "spool-r"),
            "duck": AuditStore(copy, read_only=True),
        }
        scopes = {
            "dashboard 30 days, live": Scope(
                Period.last("30d", SYNTH_END), RunFilters(mode="live")
            ),
            "dashboard 24 hours, all modes": Scope(Period.last("24h", SYNTH_END), RunFilters()),
        }
        figures: dict[str, dict[str, list[float]]] = {}

        def add(name: str, engine: str, value: float) -> None:
            figures.setdefault(name, {"pg": [], "duck": []})[engine].append(value)

        for engine in ("pg", "duck"):  # warm both caches alike
            for scope in scopes.values():
                refresh(readers[engine], scope)
        parts: dict[str, dict[str, list[float]]] = {}
        for _ in range(args.repeat):
            for engine in ("pg", "duck"):
                for name, scope in scopes.items():
                    data = None

                    def work(scope: Scope = scope, reader: Store = readers[engine]) -> None:
                        nonlocal data
                        data = refresh(reader, scope)

                    add(name, engine, timed(work))
                    if name.startswith("dashboard 30"):
                        for part, ms in data.timings_ms.items():  # type: ignore[attr-defined]
                            parts.setdefault(part, {"pg": [], "duck": []})[engine].append(ms)
        for engine in ("pg", "duck"):
            scope = scopes["dashboard 30 days, live"]
            for _ in range(3):
                add("  (no roll-ups: raw rows)", engine, timed(
                    lambda e=engine, s=scope: refresh(readers[e], s, use_rollups=False)
                ))  # fmt: skip

        collectors = {engine: StoreCollector(readers[engine]) for engine in ("pg", "duck")}
        registries = {}
        for engine, collector in collectors.items():
            registry = CollectorRegistry()
            registry.register(collector)
            registries[engine] = registry
        totals: dict[str, float] = {}
        for engine in ("pg", "duck"):
            add("scrape cold (first, counts all)", engine, timed(
                lambda e=engine: generate_latest(registries[e])
            ))  # fmt: skip
        for _ in range(args.repeat):
            for engine in ("pg", "duck"):
                add("scrape steady", engine, timed(lambda e=engine: generate_latest(registries[e])))
        recorded = 0
        for _ in range(args.repeat):
            for engine in ("pg", "duck"):
                record_runs(stores[engine], 10, recorded)
                add("scrape +10 runs", engine, timed(
                    lambda e=engine: totals.__setitem__(e, scrape_total(generate_latest(
                        registries[e])))
                ))  # fmt: skip
            recorded += 10
        print(f"\nReads at {args.runs:,} runs: PostgreSQL team store vs local DuckDB file")
        print(
            f"(ms; {args.repeat} repeats, alternating engines; PostgreSQL at {url.split('@')[-1]})"
        )
        print(
            f"{'':<34} {'PG median':>9} {'PG p95':>9} {'DK median':>9} {'DK p95':>9} {'PG/DK':>9}"
        )
        for name, values in figures.items():
            print(row(name, values["pg"], values["duck"]))
        print("\nparts of one 30-day refresh (medians):")
        for part, values in parts.items():
            print(row(f"  {part}", values["pg"], values["duck"]))
        for engine in ("pg", "duck"):
            expected = finished_runs(readers[engine])
            print(
                f"check {engine}: scrape counts {totals[engine]:,.0f} finished runs, "
                f"the store holds {expected:,} ({'ok' if totals[engine] == expected else 'WRONG'})"
            )
        for store in (*stores.values(), *readers.values()):
            store.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
