"""Voila dashboard at a million runs: time to all tiles for 1 and 5 viewers, and a refresh.

    .venv/bin/neonhub-nb synth --runs 1000000 --out /tmp/big.duckdb     # once, ~2 min
    .venv/bin/python bench/bench_dashboard.py --db /tmp/big.duckdb
    .venv/bin/python bench/bench_dashboard.py --runs 100000 --reps 3   # a store made here
    ./scripts/bench.sh dashboard --db /tmp/big.duckdb

Serves ``dashboards/audit_dashboard.ipynb`` with the command line of ``neonhub-nb
dashboard`` in each configuration below, one at a time, and drives Debian's headless
Chromium (never downloaded) against it:

* **time to all tiles**: from navigation start in a fresh browser context to every KPI
  tile filled with numbers read *after* the request (a preheated kernel reads when the
  page has drawn it) and the three charts drawn, timed inside the page (a script polls
  every 20 ms), so five pages opened at the same moment are timed independently;
* **refresh**: on an open page, from choosing another period or filter to every tile and
  chart redrawn.

Configurations, in the same run so they share the machine's load: optionally the
dashboard as it was (``--before-code DIR``: a copy of an earlier commit's ``neonhub_nb``
and ``dashboards``, e.g. ``git archive d20d65e neonhub_nb dashboards | tar -x -C DIR``,
served with that commit's command line); the store as it is (no roll-ups), and a copy
holding the roll-ups the store keeps at ingest (``store.rollups``, built here as the
store's migration would) with no preheated
kernel left (a viewer who finds none), one (the default) and five. A "floor" comes
first: a page with one widget, served the same way, which is what Voila and Chromium
alone cost on this machine (the viewers' browsers share its cores here; a real viewer
brings their own). Prints medians, the goals (3 s, 0.5 s) and kernel memory.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import psutil

from neonhub_nb.dashboard.server import NOTEBOOK, VoilaOptions, voila_command, voila_environment
from neonhub_nb.store import rollups as rollup
from neonhub_nb.synth import generate_synthetic_store

BENCH = Path(__file__).resolve().parent
CACHE = BENCH / "cache"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
READY = (
    "document.querySelector('.nh-kpis[data-state=ready]') !== null && "
    "document.querySelectorAll('svg[data-chart][data-state=ready]').length === 3"
)
FLOOR_READY = "document.querySelector('.bench-ready') !== null"
FLOOR = BENCH / "one_widget.ipynb"  # a page with one HTML widget (class bench-ready)
# Injected into every page: the moment (ms since navigation start) it first showed all.
TIMER = """
(() => { const t = setInterval(() => {
  try { if (READY) { window.__readyAt = performance.now(); clearInterval(t); } }
  catch (e) {} }, 20); })();
"""
GOAL_TILES_S, GOAL_REFRESH_S = 3.0, 0.5


def synthetic_store(runs: int) -> Path:
    """Today's store of ``runs`` runs over 30 days, generated once a day into bench/cache."""
    today = datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"dashboard-{runs}-{today:%Y%m%d}.duckdb"
    if not path.exists():
        for stale in CACHE.glob(f"dashboard-{runs}-*.duckdb"):
            stale.unlink()
        print(f"generating {runs:,} runs into {path} ...", flush=True)
        generate_synthetic_store(path, runs, end=today)
    return path


def with_rollups(db: Path) -> tuple[Path, float | None]:
    """A copy of ``db`` with the roll-ups, made once per source file (and how long the
    roll-ups took to build, when built now)."""
    CACHE.mkdir(exist_ok=True)
    copy = CACHE / f"{db.stem}.rollups.duckdb"
    if copy.exists() and copy.stat().st_mtime >= db.stat().st_mtime:
        return copy, None
    shutil.copy(db, copy)
    con = duckdb.connect(str(copy))
    try:
        started = time.perf_counter()
        rollup.create_rollups(con)
        built = time.perf_counter() - started
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return copy, built


def maintenance(rolled: Path, batch: int = 400, reps: int = 5) -> None:
    """What keeping the roll-ups costs the store at ingest: ``update_rollups`` for a batch
    of the newest runs (the usual ingestion pass), and for runs spread over the whole
    history (a mass review of old drafts); each in a transaction rolled back."""
    con = duckdb.connect(str(rolled))
    try:
        newest = [
            r[0]
            for r in con.execute(
                f"SELECT run_id FROM agent_runs ORDER BY started_at DESC LIMIT {batch}"
            ).fetchall()
        ]
        spread = [
            r[0]
            for r in con.execute(
                f"SELECT run_id FROM agent_runs USING SAMPLE {batch} ROWS (reservoir, 7)"
            ).fetchall()
        ]
        con.execute("BEGIN TRANSACTION")
        started = time.perf_counter()
        rollup.create_rollups(con)  # what the store's migration does once
        print(f"create_rollups (all runs): {time.perf_counter() - started:.1f} s")
        con.execute("ROLLBACK")
        for label, ids in (("newest", newest), ("spread over 30 days", spread)):
            times, hours = [], 0
            for _ in range(reps):
                con.execute("BEGIN TRANSACTION")
                started = time.perf_counter()
                hours = len(rollup.update_rollups(con, ids))
                times.append(time.perf_counter() - started)
                con.execute("ROLLBACK")
            print(f"update_rollups, {batch} runs ({label}, {hours} hours): median "
                  f"{statistics.median(times) * 1000:.0f} ms of {reps}")  # fmt: skip
    finally:
        con.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def before_command(code: Path, port: int, pool_size: int) -> tuple[list[str], dict[str, str]]:
    """How commit d20d65e served its dashboard (plain Voila), run from the copy ``code``."""
    notebook = code / "dashboards" / "audit_dashboard.ipynb"
    argv = [
        sys.executable, "-m", "voila", str(notebook), "--no-browser", "--Voila.ip=127.0.0.1",
        f"--port={port}", "--Voila.port_retries=0", "--strip_sources=True",
        "--VoilaConfiguration.show_tracebacks=False", "--template=neonhub", "--theme=light",
        "--MappingKernelManager.cull_idle_timeout=120",
        "--MappingKernelManager.cull_interval=30",
        "--MappingKernelManager.cull_connected=False", "--preheat_kernel=True",
        f"--pool_size={pool_size}", "--VoilaKernelManager.fill_delay=3.0",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(code), "JUPYTER_PATH": str(code / "neonhub_nb")}
    return argv, env


@contextmanager
def serve(
    db: Path, log: Path, pool_size: int, notebook: Path = NOTEBOOK, before: Path | None = None
) -> Iterator[tuple[str, psutil.Process]]:
    port = free_port()
    options = VoilaOptions(port=port, pool_size=pool_size)
    argv, env = voila_command(notebook, options), voila_environment(db, os.environ)
    if before is not None:
        argv, env = before_command(before, port, pool_size)
        env["NEONHUB_DB"] = str(db)
        notebook = before / "dashboards" / "audit_dashboard.ipynb"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, env=env, cwd=notebook.parent, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                with socket.socket() as sock:
                    if sock.connect_ex(("127.0.0.1", port)) == 0:
                        break
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"Voila did not start; see {log}")
                time.sleep(0.1)
            yield f"http://127.0.0.1:{port}/", psutil.Process(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def kernels(server: psutil.Process) -> list[psutil.Process]:
    found = []
    for child in server.children(recursive=True):
        try:
            if "ipykernel" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


def settle(server: psutil.Process, pool: int, timeout: float = 120) -> None:
    """Wait until the pool is refilled and every kernel idle, so each visit starts from
    the same state, as a stakeholder arriving later would."""
    time.sleep(VoilaOptions().fill_delay + 0.5)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        procs = [server, *kernels(server)]
        for proc in procs:
            try:
                proc.cpu_percent(interval=None)
            except psutil.Error:
                continue
        time.sleep(0.7)
        busy = 0.0
        for proc in procs:
            try:
                busy += proc.cpu_percent(interval=None)
            except psutil.Error:
                continue
        if busy < 10 and len(kernels(server)) >= pool:
            return
    print("  (server still busy after waiting; measuring anyway)", flush=True)


def open_pages(browser: Any, url: str, count: int, ready: str = READY) -> list[float]:
    """``count`` viewers open the page at the same moment; seconds each took to show
    all tiles (navigation start to ``ready``, timed in the page)."""
    contexts = [browser.new_context(viewport={"width": 1280, "height": 1400}) for _ in range(count)]
    pages = []
    try:
        for context in contexts:
            context.add_init_script(TIMER.replace("READY", ready))
            pages.append(context.new_page())
        for page in pages:  # each returns once its response starts: all ask together
            page.goto(url, wait_until="commit", timeout=120_000)
        seconds = []
        for page in pages:
            page.wait_for_function("window.__readyAt !== undefined", timeout=180_000)
            seconds.append(page.evaluate("window.__readyAt") / 1000)
        return seconds
    finally:
        for page in pages:
            page.close(run_before_unload=True)
        for context in contexts:
            context.close()


def refreshes(browser: Any, url: str, count: int) -> tuple[list[float], list[float]]:
    """Seconds from choosing another period or filter to all tiles redrawn, ``count``
    times on one page; and the kernel's query time of each (seconds)."""
    context = browser.new_context(viewport={"width": 1280, "height": 1400})
    page = context.new_page()
    try:
        page.goto(url, timeout=120_000)
        page.wait_for_function(READY, timeout=180_000)
        period = page.locator(".widget-dropdown", has_text="Period").locator("select")
        agent = page.locator(".widget-dropdown", has_text="Agent").locator("select")
        changes = [
            (period, "Last 7 days"), (period, "Last 30 days"), (agent, "seo"), (agent, "(any)"),
            (period, "Last 24 hours"), (period, "Last 30 days"),
        ]  # fmt: skip
        took, read = [], []
        for i in range(count):
            control, label = changes[i % len(changes)]
            before = int(page.locator(".nh-kpis").get_attribute("data-refreshes"))
            started = time.perf_counter()
            control.select_option(label=label)
            page.wait_for_function(
                f"Number(document.querySelector('.nh-kpis').dataset.refreshes) > {before} "
                f"&& {READY}",
                timeout=60_000,
                polling=10,
            )
            took.append(time.perf_counter() - started)
            read.append(float(page.locator("[data-status]").get_attribute("data-read-ms")) / 1000)
        return took, read
    finally:
        page.close(run_before_unload=True)
        context.close()


def kernel_memory(browser: Any, url: str, server: psutil.Process) -> str:
    """RSS of the preheated kernel waiting for a viewer, and of one serving an open page."""
    mib = 1024 * 1024
    waiting = [k.memory_info().rss for k in kernels(server)]
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(url, timeout=120_000)
        page.wait_for_function(READY, timeout=180_000)
        kernel_id = page.evaluate(
            "JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId"
        )
        serving = [k for k in kernels(server) if kernel_id in " ".join(k.cmdline())]
        rss = serving[0].memory_info().rss if serving else 0
    finally:
        page.close(run_before_unload=True)
        context.close()
    return (
        f"{max(waiting, default=0) / mib:.0f} MiB preheated and waiting, "
        f"{rss / mib:.0f} MiB serving a page at 1 refresh"
    )


def table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", type=Path, help="an existing store (default: one made here)")
    parser.add_argument("--runs", type=int, default=1_000_000, help="without --db")
    parser.add_argument("--reps", type=int, default=5, help="visits per measurement")
    parser.add_argument("--viewers", type=int, default=5, help="simultaneous viewers")
    parser.add_argument("--refreshes", type=int, default=12, help="changes per refresh figure")
    parser.add_argument(
        "--maintenance", action="store_true", help="only time the roll-ups' upkeep at ingest"
    )
    parser.add_argument("--before-code", type=Path, help="a copy of an earlier commit's code")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: apt-get install chromium")
    db = args.db.absolute() if args.db else synthetic_store(args.runs)
    rolled, built = with_rollups(db)
    con = duckdb.connect(str(db), read_only=True)
    runs = con.execute("SELECT count(*) FROM agent_runs").fetchone()[0]
    con.close()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; store {db} "
          f"({runs:,} runs, {db.stat().st_size / 1e9:.1f} GB); load average "
          f"{os.getloadavg()[0]:.1f} (other processes share these cores)")  # fmt: skip
    if built is not None:
        print(f"roll-ups built in {built:.1f} s (what the store's migration would take once)")
    if args.maintenance:
        maintenance(rolled)
        return
    logs = CACHE / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    configs: list[tuple[str, Path, int, Path | None]] = [
        ("floor: one-widget page (Voila + Chromium alone)", db, args.viewers, FLOOR),
        ("now, store without roll-ups, 1 preheated kernel", db, 1, NOTEBOOK),
        ("now, roll-ups, no preheated kernel left", rolled, 0, NOTEBOOK),
        ("now, roll-ups, 1 preheated kernel (default)", rolled, 1, NOTEBOOK),
        (f"now, roll-ups, {args.viewers} preheated kernels", rolled, args.viewers, NOTEBOOK),
    ]
    if args.before_code:
        configs.insert(1, ("before (d20d65e), 1 preheated kernel", db, 1, None))
    results: list[list[str]] = []
    memory = memory_before = ""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for index, (label, store, pool, notebook) in enumerate(configs):
            print(f"\n{label}", flush=True)
            ready = FLOOR_READY if notebook == FLOOR else READY
            before = args.before_code.absolute() if notebook is None else None
            with serve(store, logs / f"voila-{index}.log", pool, notebook or NOTEBOOK, before) as (
                url,
                server,
            ):
                settle(server, pool)
                open_pages(browser, url, 1, ready)  # unmeasured: bytecode and file caches
                settle(server, pool)
                one, many = [], []
                for rep in range(args.reps):
                    one += open_pages(browser, url, 1, ready)
                    settle(server, pool)
                    times = open_pages(browser, url, args.viewers, ready)
                    many.append(times)
                    settle(server, pool)
                    print(f"  rep {rep + 1}: 1 viewer {one[-1]:.2f} s; {args.viewers} viewers "
                          + " ".join(f"{t:.2f}" for t in sorted(times)), flush=True)  # fmt: skip
                took: list[float] = []
                read: list[float] = []
                if notebook != FLOOR:
                    took, read = refreshes(browser, url, args.refreshes)
                if pool == 1 and store == rolled:
                    memory = kernel_memory(browser, url, server)
                elif before is not None:
                    memory_before = kernel_memory(browser, url, server)
            fifth = [max(t) for t in many]
            results.append([
                label, f"{statistics.median(one):.2f}",
                f"{statistics.median(t for ts in many for t in ts):.2f}",
                f"{statistics.median(fifth):.2f}",
                f"{statistics.median(took):.2f}" if took else "–",
                f"{statistics.median(read) * 1000:.0f}" if read else "–",
            ])  # fmt: skip
        browser.close()
    print(f"\n{runs:,} runs; medians of {args.reps} visits (fresh browser context each) and "
          f"{args.refreshes} period/filter changes; seconds")  # fmt: skip
    table(["configuration", "1 viewer", f"{args.viewers} viewers: each", "slowest of them",
           "refresh", "kernel queries (ms)"], results)  # fmt: skip
    print(f"goals: every viewer <= {GOAL_TILES_S:.1f} s, refresh <= {GOAL_REFRESH_S:.1f} s")
    for row in results[1:]:
        verdicts = [
            f"1 viewer {'met' if float(row[1]) <= GOAL_TILES_S else 'NOT met'}",
            f"{args.viewers} viewers {'met' if float(row[3]) <= GOAL_TILES_S else 'NOT met'}",
            f"refresh {'met' if float(row[4]) <= GOAL_REFRESH_S else 'NOT met'}",
        ]
        print(f"  {row[0]}: {', '.join(verdicts)}")
    print(f"\nmemory (RSS) of a dashboard kernel: {memory}")
    if memory_before:
        print(f"  before (d20d65e): {memory_before}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
