"""The audit-trail parts of bench_store.py: line checks, reads under a held file, first run.

.venv/bin/python bench/bench_store.py --only checks --runs 2000
.venv/bin/python bench/bench_store.py --only reads --reps 20
.venv/bin/python bench/bench_store.py --only first-run --reps 5
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from neonhub_nb.store import AuditStore
from neonhub_nb.store.ingest import DRAFTS, METRICS, RUNS, TOOLS, ingest_segments
from neonhub_nb.store.lines import check_line


def _spooled_lines(tmp: Path, runs: int, log_one: Callable[[AuditStore, int], str]) -> list[bytes]:
    """The spool lines of ``runs`` reference runs, as the store writes them."""
    store = AuditStore(tmp / "lines.duckdb", background=False)
    for index in range(runs):
        log_one(store, index)
    assert store._spool.path is not None
    data = store._spool.path.read_bytes()
    store.close()
    return [line for line in data.split(b"\n") if line]


def _median_us(fn: Callable[[], Any], count: int, reps: int = 5) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) / count * 1e6)
    return statistics.median(times)


_TABLES = {"run": RUNS, "tool": TOOLS, "metric": METRICS, "draft": DRAFTS}


def _arrow_cast(lines: list[bytes]) -> None:
    """The peer: cast each table's rows to its Arrow schema in one batch per table (the
    cast catches wrong types and non-numbers, but not ranges, statuses or lengths)."""
    rows: dict[str, list[dict[str, Any]]] = {kind: [] for kind in _TABLES}
    for line in lines:
        event = orjson.loads(line)
        rows[event["t"]].append(event["row"])
    for kind, table in _TABLES.items():
        staged = [
            {c.name: _arrow_value(row.get(c.name), c.kind) for c in table.columns}
            for row in rows[kind]
        ]
        pa.Table.from_pylist(staged, schema=table.schema())


def _arrow_value(value: Any, kind: str) -> Any:
    if kind == "json":
        return None if value is None else orjson.dumps(value).decode()
    if kind == "timestamp" and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def part_checks(
    tmp: Path, runs: int, log_one: Callable[[AuditStore, int], str], table: Callable[..., None]
) -> None:
    lines = _spooled_lines(tmp, runs, log_one)
    count = len(lines)
    parse = _median_us(lambda: [orjson.loads(line) for line in lines], count)
    models = _median_us(lambda: [check_line(line, "s", 0) for line in lines], count)
    arrow = _median_us(lambda: _arrow_cast(lines), count)

    def ingest(checked: bool, reps: int = 5) -> float:
        times = []
        for rep in range(reps):
            db = tmp / f"ingest-{checked}-{rep}-{time.monotonic_ns()}.duckdb"
            spool = db.with_name(db.name + ".spool")
            spool.mkdir(parents=True)
            data = b"\n".join(lines) + b"\n"
            (spool / "w.00001.jsonl").write_bytes(data)
            store = AuditStore(db, background=False)
            with store._open(read_only=False) as con:
                start = time.perf_counter()
                if checked:
                    ingest_segments(con, spool, store.clock.now(), budget=len(data) + 1)
                else:
                    with _Unchecked():
                        ingest_segments(con, spool, store.clock.now(), budget=len(data) + 1)
                times.append((time.perf_counter() - start) / count * 1e6)
            store.close()
        return statistics.median(times)

    ingest(True, reps=1)  # warm-up: first DuckDB file, imports, caches
    pairs = [(ingest(False, reps=1), ingest(True, reps=1)) for _ in range(5)]  # interleaved
    unchecked_ingest = statistics.median(p[0] for p in pairs)
    checked_ingest = statistics.median(p[1] for p in pairs)
    table(
        f"Checking spool lines before ingestion ({runs} reference runs, {count} lines; "
        "median µs per line)",
        ["what", "µs/line", "vs JSON parse alone"],
        [
            ["JSON parse alone (no check)", f"{parse:.1f}", "1.00x"],
            ["record models (pydantic, chosen)", f"{models:.1f}", f"{models / parse:.2f}x"],
            ["Arrow casts per table (peer)", f"{arrow:.1f}", f"{arrow / parse:.2f}x"],
            ["whole ingestion, lines not checked", f"{unchecked_ingest:.1f}", ""],
            [
                "whole ingestion, lines checked",
                f"{checked_ingest:.1f}",
                f"{checked_ingest / unchecked_ingest:.2f}x of unchecked",
            ],
        ],
    )


class _Raw:
    """A parsed row standing in for a record: what ingestion did before lines were checked."""

    def __init__(self, row: dict[str, Any]) -> None:
        self._row = row
        self.run_id = row.get("run_id")

    def model_dump(self) -> dict[str, Any]:
        return self._row


_TIMES = ("started_at", "finished_at", "created_at", "updated_at", "decided_at")


class _Unchecked:
    """Ingestion with the line check replaced by a parse and an unvalidated record."""

    def __enter__(self) -> None:
        import neonhub_nb.store.ingest as ingest_module
        from neonhub_nb.store.lines import SpooledEvent

        self._module = ingest_module
        self._saved = ingest_module.check_line

        def parse_only(line: bytes, segment: str, offset: int) -> Any:
            event = orjson.loads(line)
            row = event["row"]
            for name in _TIMES:
                if isinstance(row.get(name), str):
                    row[name] = datetime.fromisoformat(row[name])
            return SpooledEvent(event["t"], _Raw(row), segment, offset, event.get("rev", 0))

        ingest_module.check_line = parse_only  # type: ignore[assignment]

    def __exit__(self, *exc: object) -> None:
        self._module.check_line = self._saved  # type: ignore[assignment]


_HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print("HOLDING", flush=True)
time.sleep(600)
"""


def part_reads(
    tmp: Path, runs: int, reps: int, log_one: Callable[[AuditStore, int], str],
    table: Callable[..., None],
) -> None:  # fmt: skip
    db = tmp / "reads.duckdb"
    writer = AuditStore(db, background=False)
    for index in range(runs):
        log_one(writer, index)
    writer.close()
    size_mb = db.stat().st_size / 1e6
    rows = []
    baseline = 0.0
    for label, mode in (
        ("nobody else holds the file: ingest, then read", None),
        ("an analyst's read-only session: last ingested state", "ro"),
        ("a read-write holder outside neonhub-nb: a copy", "rw"),
    ):
        holder = None
        if mode:
            holder = subprocess.Popen(
                [sys.executable, "-c", _HOLDER, str(db), mode], stdout=subprocess.PIPE, text=True
            )
            assert holder.stdout is not None and holder.stdout.readline().strip() == "HOLDING"
        store = AuditStore(db, background=False)
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            store.runs(limit=50)
            times.append((time.perf_counter() - start) * 1000)
        source = store.last_read.source
        store.close()
        if holder is not None:
            holder.kill()
            holder.wait()
            assert holder.stdout is not None
            holder.stdout.close()
        median = statistics.median(times)
        baseline = baseline or median
        rows.append([label, source, f"{median:.1f}", f"{median / baseline:.2f}x"])
    table(
        f"A 50-run page while another process holds the store ({runs} runs, "
        f"{size_mb:.1f} MB file, median of {reps})",
        ["situation", "answer from", "ms", "vs free"],
        rows,
    )


_FIRST_RUN = """
import json, time
from neonhub_nb import DraftParams, run_agent
durations = []
for i in range(6):
    r = run_agent("content.generate_article",
                  DraftParams(topic=f"Email marketing {i}", primary_keyword="bakery"))
    durations.append(r.duration_ms)
print(json.dumps(durations))
"""


def part_first_run(reps: int, table: Callable[..., None], code: str | None = None) -> None:
    """``code``: a folder holding another ``neonhub_nb`` (e.g. ``git archive main``) to
    measure instead of the installed one."""
    firsts, rests = [], []
    with tempfile.TemporaryDirectory(prefix="neonhub-first-") as folder:
        for rep in range(reps):
            env = {"NEONHUB_DB": f"{folder}/s{rep}.duckdb", "PATH": "/usr/bin"}
            if code:
                env["PYTHONPATH"] = code
            out = subprocess.run(
                # cwd: not the repository, whose neonhub_nb would shadow ``code``
                [sys.executable, "-c", _FIRST_RUN], capture_output=True, text=True, env=env,
                check=True, cwd=folder,
            ).stdout  # fmt: skip
            durations = orjson.loads(out)
            firsts.append(durations[0])
            rests.append(statistics.median(durations[1:]))
    first, rest = statistics.median(firsts), statistics.median(rests)
    table(
        f"Recorded duration of a fresh process's first mock run ({reps} processes, medians"
        f"{', code from ' + code if code else ''})",
        ["run", "duration_ms", "vs later runs"],
        [
            ["first run of the process", f"{first:.2f}", f"{first / rest:.2f}x"],
            ["runs 2-6 of the process", f"{rest:.2f}", "1.00x"],
        ],
    )
