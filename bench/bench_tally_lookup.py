"""What counting new model calls costs a scrape, by store size: look their runs up by
primary key (the exporter's way) or join them to every run (the peer).

    .venv/bin/python bench/bench_tally_lookup.py --store bench/cache/synth-10000-seed0.duckdb
    .venv/bin/python bench/bench_tally_lookup.py --store /tmp/big.duckdb --rounds 20

The store (e.g. one written by ``neonhub-nb synth``) is copied to a temp dir. Each round
records ``--new`` mock runs (each with one model call) through the real store, then both
tallies, already caught up, refresh on one connection: the time of the refresh and of its
model-call queries is what a scrape pays for new model calls. Strategies alternate in
order each round so neither always goes first. Figures are milliseconds (median, p95)
on this machine; shared machines are noisy.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from neonhub_nb.api import run_agent
from neonhub_nb.config import load_settings
from neonhub_nb.metrics.tally import StoreTally
from neonhub_nb.store import AuditStore

_MODEL_QUERIES = ("model_calls", "tally_model_call_runs", "tally_model_call_agents")


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--store", type=Path, required=True, help="a store to copy and grow")
    parser.add_argument("--new", type=int, default=10, help="runs recorded between refreshes")
    parser.add_argument("--rounds", type=int, default=15, help="timed refreshes per strategy")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="neonhub-bench-") as tmp:
        path = Path(tmp) / "store.duckdb"
        shutil.copy(args.store, path)
        settings = load_settings({"NEONHUB_DB": str(path)})
        store = AuditStore(path, background=False, lock_timeout=120)
        tallies = {"lookup": StoreTally(), "join": StoreTally(index_lookup_max=0)}
        refresh: dict[str, list[float]] = defaultdict(list)
        queries: dict[str, list[float]] = defaultdict(list)
        spent: dict[str, float] = {}

        @contextlib.contextmanager
        def timer(name: str) -> Iterator[None]:
            start = time.perf_counter()
            yield
            if name in _MODEL_QUERIES:
                spent[name] = spent.get(name, 0.0) + (time.perf_counter() - start) * 1000

        with store.connect() as con:
            runs = int(con.execute("SELECT count(*) FROM agent_runs").fetchone()[0])
            for tally in tallies.values():
                tally.refresh(con)  # the full count an exporter makes at start-up
        for round_ in range(args.rounds):
            for index in range(args.new):
                run_agent(
                    "content.generate_article",
                    {"topic": "bench", "primary_keyword": "bench", "word_count": 50 + index},
                    store=store,
                    settings=settings,
                )
            store.flush()
            order = list(tallies) if round_ % 2 == 0 else list(reversed(tallies))
            with store.connect() as con:
                for name in order:
                    spent.clear()
                    start = time.perf_counter()
                    tallies[name].refresh(con, timer)
                    refresh[name].append((time.perf_counter() - start) * 1000)
                    queries[name].append(sum(spent.values()))
        with store.connect() as con:  # both strategies must count the same
            a, b = tallies["lookup"].refresh(con).samples, tallies["join"].refresh(con).samples
            # Float sums (cost, seconds) may differ in the last bits with summation order.
            same = a.keys() == b.keys() and all(
                abs(a[k] - b[k]) <= 1e-9 * max(1, abs(a[k])) for k in a
            )
            if not same:
                for k in sorted(set(a) | set(b)):
                    if abs(a.get(k, 0) - b.get(k, 0)) > 1e-9 * max(1, abs(a.get(k, 0))):
                        print("differs:", k, a.get(k), b.get(k))
        store.close()

    print(f"{runs:,} runs in the store, {args.new} new runs per refresh, {args.rounds} rounds")
    print(f"{'strategy':<8} {'refresh median':>15} {'p95':>8} {'model-call queries median':>26}")
    for name in tallies:
        print(
            f"{name:<8} {statistics.median(refresh[name]):>12.1f} ms {_p95(refresh[name]):>5.1f} ms"
            f" {statistics.median(queries[name]):>23.1f} ms"
        )
    ratio = statistics.median(queries["join"]) / max(statistics.median(queries["lookup"]), 1e-9)
    print(f"model-call queries, join / lookup: {ratio:.2f}x; same counts: {same}")


if __name__ == "__main__":
    main()
