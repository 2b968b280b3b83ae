"""Voila dashboard: navigation to "all KPI tiles and charts visible" at a million runs.

    .venv/bin/python bench/bench_dashboard.py                  # 1,000,000 runs, 7 repetitions
    .venv/bin/python bench/bench_dashboard.py --runs 100000 --reps 3
    ./scripts/bench.sh dashboard

Serves two notebooks with the same Voila command line as ``neonhub-nb dashboard``
(template, stripped sources, culling): (a) ``bench/one_widget.ipynb``, an almost empty
page with one widget, and (b) ``dashboards/audit_dashboard.ipynb`` over a synthetic store
of ``--runs`` runs (generated once a day into ``bench/cache/``: its last run starts at
midnight UTC, so the default "last 30 days" covers nearly all of it). Headless Chromium
(Debian's, never downloaded) opens each page in a fresh browser context, alternating (a)
and (b) so both see the same machine load, and times navigation to visible: (a) its
widget, (b) every KPI tile filled and the three charts drawn. Prints medians, the ratio
(goal: <= 1.3x), where the dashboard's time goes, and one viewer kernel's memory.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
import psutil
from nbformat.v4 import new_code_cell, new_notebook

from neonhub_nb.dashboard.server import NOTEBOOK, VoilaOptions, voila_command, voila_environment
from neonhub_nb.synth import generate_synthetic_store

BENCH = Path(__file__).resolve().parent
CACHE = BENCH / "cache"
ONE_WIDGET = BENCH / "one_widget.ipynb"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
EMPTY_READY = "document.querySelector('.bench-ready') !== null"
DASHBOARD_READY = (
    "document.querySelector('.nh-kpis[data-state=ready]') !== null && "
    "document.querySelectorAll('.nh-kpi').length === 9 && "
    "document.querySelectorAll('svg[data-chart][data-state=ready]').length === 3"
)


def write_one_widget_notebook() -> Path:
    """(a): the smallest page that still shows a widget, as the issue measured it."""
    cell = new_code_cell(
        "import ipywidgets as widgets\n\nwidgets.HTML(\"<b class='bench-ready'>one widget</b>\")"
    )
    nb = new_notebook(cells=[cell])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}  # fmt: skip
    cell["id"] = "one-widget"
    text = nbformat.writes(nb) + "\n"
    if not ONE_WIDGET.exists() or ONE_WIDGET.read_text() != text:
        ONE_WIDGET.write_text(text)
    return ONE_WIDGET


def synthetic_store(runs: int) -> Path:
    """Today's store of ``runs`` runs over 30 days, generated once (about 2 min at 1M)."""
    today = datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"dashboard-{runs}-{today:%Y%m%d}.duckdb"
    if not path.exists():
        for stale in CACHE.glob(f"dashboard-{runs}-*.duckdb"):
            stale.unlink()
        started = time.perf_counter()
        print(f"generating {runs:,} runs into {path} ...", flush=True)
        generate_synthetic_store(path, runs, end=today)
        print(f"(generated in {time.perf_counter() - started:.0f} s)", flush=True)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(
    notebook: Path, db: Path, log: Path, pool_size: int
) -> Iterator[tuple[str, psutil.Process]]:
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            voila_command(notebook, VoilaOptions(port=port, pool_size=pool_size)),
            env=voila_environment(db, os.environ),
            cwd=notebook.parent,
            stdout=out,
            stderr=subprocess.STDOUT,
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
        except psutil.NoSuchProcess:
            continue
    return found


def settle(servers: dict[psutil.Process, int], timeout: float = 60) -> None:
    """Wait until each server's kernels are ready and idle: a preheated pool refilled
    (kernel started, notebook run) and no kernel of an earlier visit still busy, so
    every visit starts from the same state, as a stakeholder arriving later would."""
    time.sleep(3.5)  # VoilaOptions.fill_delay: the refill starts 3 s after a visit
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        procs = [k for s in servers for k in kernels(s)] + list(servers)
        busy = 0.0
        for proc in procs:
            try:
                busy += proc.cpu_percent(interval=None)
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.5)
        busy = 0.0
        for proc in procs:
            try:
                busy += proc.cpu_percent(interval=None)
            except psutil.NoSuchProcess:
                continue
        if busy < 10 and all(len(kernels(s)) >= pool for s, pool in servers.items()):
            return
    print("  (servers still busy after waiting; measuring anyway)")


def measure(browser: Any, url: str, ready: str) -> dict[str, float]:
    """One first visit: fresh context (no cache), navigation start to ``ready``."""
    context = browser.new_context(viewport={"width": 1280, "height": 1400})
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if "//127.0.0.1" not in r.url else None)
    try:
        start = time.perf_counter()
        page.goto(url, wait_until="commit", timeout=120_000)
        try:
            page.wait_for_function(ready, timeout=120_000, polling=50)
        except Exception:
            shot = CACHE / "logs" / "timeout.png"
            page.screenshot(path=str(shot))
            raise RuntimeError(f"{url} never became ready; see {shot}") from None
        visible = time.perf_counter() - start
        if ready == DASHBOARD_READY:  # the status line is drawn last: wait for its marks
            page.wait_for_function(
                "document.querySelector('[data-status]').dataset.readMs !== '0'", timeout=30_000
            )
        timing = page.evaluate(
            "(() => { const n = performance.getEntriesByType('navigation')[0];"
            " const s = document.querySelector('[data-status]');"
            " const d = s ? s.dataset : {};"
            " return [n.responseStart, n.responseEnd, n.loadEventEnd,"
            "  d.built - performance.timeOrigin, d.rendered - performance.timeOrigin,"
            "  Number(d.readMs), d.started - performance.timeOrigin]; })()"
        )
    finally:
        # As a viewer leaving: Voila's beforeunload handler shuts the page's kernel down.
        page.close(run_before_unload=True)
        context.close()
    if outside:
        raise RuntimeError(f"the page requested something beyond 127.0.0.1: {outside[:3]}")
    # Kernel-side marks (same machine, same clock): dashboard object built, first
    # refresh drawn into the widgets, and the refresh's query time.
    return {
        "visible": visible,
        "first_byte": timing[0] / 1000,
        "html_done": timing[1] / 1000,
        "load": timing[2] / 1000,
        "built": (timing[3] or float("nan")) / 1000,
        "data_drawn": (timing[4] or float("nan")) / 1000,
        "queries": (timing[5] or float("nan")) / 1000,
        "data_started": (timing[6] or float("nan")) / 1000,
    }


def memory(
    browser: Any, url: str, ready: str, server: psutil.Process, refreshes: int, pool: int
) -> str:
    """RSS of the kernel serving one open page, after load and after ``refreshes`` clicks
    (and of the warm kernel waiting for the next viewer, when there is a pool)."""
    mib = 1024 * 1024
    before = {k.pid: k.memory_info().rss for k in kernels(server)}
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(url, timeout=120_000)
        page.wait_for_function(ready, timeout=120_000)
        time.sleep(1)
        kernel_id = page.evaluate(
            "JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId"
        )
        (kernel,) = [k for k in kernels(server) if kernel_id in " ".join(k.cmdline())] or [
            k for k in kernels(server) if k.pid not in before
        ]
        after_load = kernel.memory_info().rss
        button = page.get_by_role("button", name="↻ Refresh")
        refreshes = refreshes if button.count() else 0
        peak = after_load
        for n in range(refreshes):
            button.click()
            page.wait_for_function(
                f"document.querySelector('.nh-kpis').dataset.refreshes > {n + 1}", timeout=60_000
            )
            peak = max(peak, kernel.memory_info().rss)
        settled = kernel.memory_info().rss
    finally:
        page.close(run_before_unload=True)
        context.close()
    text = f"{after_load / mib:.0f} MiB after load"
    if refreshes:
        text += f", {settled / mib:.0f} MiB after {refreshes} refreshes (peak {peak / mib:.0f} MiB)"
    if pool and kernel.pid in before:  # the warm kernel this page was handed, before it
        text += f"; {before[kernel.pid] / mib:.0f} MiB while it waited, preheated"
    return text


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
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--refreshes", type=int, default=5, help="for the memory figure")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: apt-get install chromium")
    db = synthetic_store(args.runs)
    empty = write_one_widget_notebook()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, store {db.name} "
          f"({db.stat().st_size / 1e9:.1f} GB)")  # fmt: skip
    logs = CACHE / "logs"
    logs.mkdir(exist_ok=True)
    targets = {
        # name: (label, notebook, pool size, ready)
        "plain": ("(a) one-widget page, plain Voila (no preheat)", empty, 0, EMPTY_READY),
        "empty": ("(a') one-widget page, served as the dashboard", empty, 1, EMPTY_READY),
        "dashboard": ("(b) audit dashboard (neonhub-nb dashboard)", NOTEBOOK, 1,
                      DASHBOARD_READY),
        "cold": ("(b0) audit dashboard, --pool-size 0 (no preheat)", NOTEBOOK, 0,
                 DASHBOARD_READY),
    }  # fmt: skip
    results: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
    with ExitStack() as stack:
        servers = {
            name: stack.enter_context(serve(nb, db, logs / f"voila-{name}.log", pool))
            for name, (_, nb, pool, _) in targets.items()
        }
        playwright = stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        processes = {server: targets[name][2] for name, (_, server) in servers.items()}
        settle(processes)
        # One unmeasured visit each: Python's bytecode cache, the OS file cache.
        for name, (url, _) in servers.items():
            measure(browser, url, targets[name][3])
            settle(processes)
        for rep in range(args.reps):
            # Rotate the order so no target always follows another one's refill.
            names = list(targets)
            names = names[rep % len(names) :] + names[: rep % len(names)]
            for name in names:
                results[name].append(measure(browser, servers[name][0], targets[name][3]))
                settle(processes)
            print(f"  rep {rep + 1}: " + ", ".join(
                f"{n} {results[n][-1]['visible']:.2f} s" for n in targets), flush=True)  # fmt: skip
        mem = {
            name: memory(browser, servers[name][0], targets[name][3], servers[name][1],
                         args.refreshes if name == "dashboard" else 0, targets[name][2])
            for name in ("plain", "dashboard")
        }  # fmt: skip
        browser.close()

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name])

    print(f"\nnavigation to visible, {args.runs:,} runs, median of {args.reps} first visits "
          "(fresh browser context each), seconds after navigation start")  # fmt: skip
    rows = []
    for name, (label, *_) in targets.items():
        times = [r["visible"] for r in results[name]]
        rows.append([
            label, f"{med(name, 'visible'):.2f}", f"{min(times):.2f}", f"{max(times):.2f}",
            f"{med(name, 'first_byte'):.2f}", f"{med(name, 'html_done'):.2f}",
            f"{med(name, 'load'):.2f}",
        ])  # fmt: skip
    table(["page", "visible", "min", "max", "first byte", "HTML done", "load event"], rows)
    print(
        f"\ndashboard kernel: first refresh started at {med('dashboard', 'data_started'):.2f} s"
        f", drawn into the widgets at {med('dashboard', 'data_drawn'):.2f} s; its queries took "
        f"{med('dashboard', 'queries') * 1000:.0f} ms (while the page's scripts loaded)"
    )
    print(
        f"without preheat (b0): kernel started and imports done, widgets built at "
        f"{med('cold', 'built'):.2f} s; first refresh drawn at {med('cold', 'data_drawn'):.2f} s "
        f"(queries {med('cold', 'queries') * 1000:.0f} ms)"
    )
    for page, base in (("dashboard", "plain"), ("dashboard", "empty"), ("cold", "plain")):
        ratio = med(page, "visible") / med(base, "visible")
        verdict = "met" if ratio <= 1.3 else "NOT met"
        print(f"ratio {targets[page][0].split()[0]}/{targets[base][0].split()[0]}: "
              f"{ratio:.2f}x  (goal <= 1.30x: {verdict})")  # fmt: skip
    print("\nmemory of one viewer's kernel (RSS)")
    table(["page", "kernel RSS"], [[targets[n][0], mem[n]] for n in mem])


if __name__ == "__main__":
    main()
