"""A team's store through the product's own store: machines recording, a dashboard reading.

    .venv/bin/python bench/bench_team.py                          # tables 1 and 2
    .venv/bin/python bench/bench_team.py --machines 2 --runs 300 --outage 10   # a quick look
    .venv/bin/python bench/bench_team.py --pg-url postgresql://owner:PW@host/db --no-outage

Each simulated machine is one process with its own spool folder and machine id, recording
runs through the store's public API (``record_run_started``, five
``record_tool_execution``, ``record_run_finished`` with four metrics: about 4 KB of JSON
per run) with the store's default background ingestion, then ``close()``, which pushes
what is left. A reader process opens the store read-only (the reader role on
PostgreSQL) and every 100 ms reads the dashboard's tiles (a count by status) and the
newest 50 runs through ``store.sql`` and ``store.runs``.

Table 1: ``--machines`` x ``--runs`` as fast as the machines record, into PostgreSQL
(a ``PgStore`` per machine, as the writer role, each machine its own spool) and, in the
same run, into one local DuckDB file (an ``AuditStore`` per machine on that file, the
single-analyst setup). runs/s = runs / seconds from the start until the last machine's
``close()`` returned (every run landed, not just spooled); recorded s = when the last
machine had recorded (spooled) its last run. lost = run ids recorded
minus run ids in the store afterwards (finished). errors = exceptions the recording
calls raised to the "analyst"; ingest retries = failed background pushes (retried).

Table 2 (PostgreSQL only: a DuckDB file has no server to lose): the machines record at a
steady ``--rate`` runs/s each; ``--stop-at`` seconds in, the local server is stopped for
``--outage`` seconds, then started again. Reported: lost, errors, the runs waiting in
the machines' spools when the server came back (counted from the spools), the seconds
from the restart until that backlog had landed (the store holds as many finished runs
as it held before the restart plus the runs that were waiting), and until every run
recorded, including those recorded after the restart, had landed.

The PostgreSQL server is a local cluster started by ``scripts/postgres.sh`` unless
``--pg-url`` names one (an owner's URL whose role may create databases and roles; table
2 then needs ``--no-outage``, since the bench cannot stop that server).
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

ROOT = Path(__file__).resolve().parents[1]
PG_SCRIPT = ROOT / "scripts" / "postgres.sh"
WRITER_PW = "bench-team-writer-pw"
READER_PW = "bench-team-reader-pw"
TILES = "SELECT status, count(*) AS n FROM agent_runs GROUP BY status"


def record_one(store: Any, machine: int, index: int) -> str:
    """One run through the store's recording API: start, 5 tool calls, finish + 4 metrics."""
    from neonhub_nb.records import MetricRecord, RunRecord, ToolExecution

    run_id = f"m{machine}-run-{index:06d}"
    started = datetime.now(UTC).replace(tzinfo=None)
    run = RunRecord(
        run_id=run_id,
        agent=("content", "seo", "email", "social")[index % 4],
        intent="content.generate_article",
        status="running",
        mode="mock",
        started_at=started,
        input={"topic": f"topic {index}", "word_count": 600},
        model="mock-writer",
        seed=index,
    )
    store.record_run_started(run)
    for seq in range(5):
        store.record_tool_execution(
            ToolExecution(
                execution_id=f"{run_id}-t{seq}",
                run_id=run_id,
                seq=seq,
                tool="llm" if seq == 0 else "connector.gsc",
                operation="chat" if seq == 0 else "query",
                status="succeeded",
                started_at=started,
                duration_ms=15.0 + seq,
                request={"prompt": "p" * 280, "seq": seq},
                response={"text": "r" * 280, "rate_limited": False},
            )
        )
    failed = index % 13 == 0
    finished = run.model_copy(
        update={
            "status": "failed" if failed else "succeeded",
            "finished_at": started + timedelta(seconds=2),
            "duration_ms": 2000.0 + index % 997,
            "output": {"title": f"Title {index}", "words": 600},
            "error": "model timed out" if failed else None,
        }
    )
    metrics = [
        MetricRecord(run_id=run_id, name=name, value=value, unit=unit)
        for name, value, unit in (
            ("prompt_tokens", 400.0, "tokens"),
            ("completion_tokens", 800.0, "tokens"),
            ("total_tokens", 1200.0, "tokens"),
            ("cost_usd", 0.0012, "usd"),
        )
    ]
    store.record_run_finished(finished, metrics)
    return run_id


def open_store(target: dict[str, Any], machine: int, *, read_only: bool = False) -> Any:
    if target["kind"] == "postgresql":
        from neonhub_nb.store.pg import PgStore

        url = target["reader"] if read_only else target["writer"]
        root = Path(target["spools"]) / f"machine-{machine}"
        return PgStore(url, read_only=read_only, spool_root=root, machine=f"bench-host-{machine}")
    from neonhub_nb.store import AuditStore

    return AuditStore(target["path"], read_only=read_only)


def machine_process(
    target: dict[str, Any], machine: int, runs: int, rate: float, go: Any, out: Any
) -> None:
    """A machine: record ``runs`` runs (``rate`` runs/s, 0: flat out), then close()."""
    store = open_store(target, machine)
    out.put(("ready",))
    go.wait()
    start = time.monotonic()
    errors = 0
    recorded: list[str] = []
    for index in range(runs):
        if rate:
            time.sleep(max(0.0, start + index / rate - time.monotonic()))
        try:
            recorded.append(record_one(store, machine, index))
        except Exception:
            errors += 1
    recorded_at = time.monotonic()
    # As a kernel that stays open: its background ingester pushes what waits (after an
    # outage, once the server is back); then close() pushes the rest.
    deadline = recorded_at + 600
    while store.backlog().events and time.monotonic() < deadline:
        time.sleep(0.05)
    store.close(timeout=120)
    failures = int(getattr(store, "ingest_failures", 0))
    out.put(("machine", machine, recorded, errors, failures, recorded_at, time.monotonic()))


def reader_process(target: dict[str, Any], stop: Any, out: Any) -> None:
    store = open_store(target, 99, read_only=True)
    latencies: list[float] = []
    errors = 0
    while not stop.is_set():
        start = time.perf_counter()
        try:
            store.sql(TILES)
            store.runs(limit=50)
            latencies.append(time.perf_counter() - start)
        except Exception:
            errors += 1
        stop.wait(max(0.0, 0.1 - (time.perf_counter() - start)))
    store.close()
    out.put(("reader", latencies, errors))


def run_round(
    target: dict[str, Any],
    machines: int,
    runs: int,
    rate: float,
    outage: tuple[float, float, Any] | None = None,
) -> dict[str, Any]:
    """Start the reader and the machines; time from ``go`` until every machine closed.

    ``outage``: ``(stop_at_s, seconds, cluster_folder)`` stops the local server that long.
    """
    ctx = multiprocessing.get_context("spawn")
    go, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
    reader = ctx.Process(target=reader_process, args=(target, stop, out))
    procs = [
        ctx.Process(target=machine_process, args=(target, m, runs, rate, go, out))
        for m in range(machines)
    ]
    reader.start()
    for proc in procs:
        proc.start()
    for _ in procs:
        assert out.get(timeout=300) == ("ready",)
    start = time.monotonic()
    go.set()
    restarted = backlog_at_restart = drained = None
    if outage is not None:
        stop_at, seconds, folder = outage
        time.sleep(max(0.0, start + stop_at - time.monotonic()))
        subprocess.run([str(PG_SCRIPT), "stop", folder], check=True, capture_output=True)
        time.sleep(seconds)
        backlog_at_restart = spooled_not_landed(target, machines)
        subprocess.run([str(PG_SCRIPT), "start", folder], check=True, capture_output=True)
        restarted = time.monotonic()
        # The backlog has drained once the store holds as many finished runs as there
        # were finished there before the restart plus those waiting in the spools.
        expected = landed_count(target) + backlog_at_restart
        while landed_count(target) < expected and time.monotonic() < restarted + 600:
            time.sleep(0.05)
        drained = time.monotonic() - restarted
    results = [out.get(timeout=3600) for _ in procs]
    for proc in procs:
        proc.join(60)
    stop.set()
    _, latencies, reader_errors = out.get(timeout=120)
    reader.join(60)
    recorded = [run_id for r in results for run_id in r[2]]
    found = landed_ids(target)
    landed_at = max(r[6] for r in results)
    return {
        "runs": len(recorded),
        "wall": landed_at - start,
        "lost": len(set(recorded) - found),
        "errors": sum(r[3] for r in results),
        "retries": sum(r[4] for r in results),
        "latencies": latencies,
        "reader_errors": reader_errors,
        "backlog_at_restart": backlog_at_restart,
        "landed_after_restart": None if restarted is None else landed_at - restarted,
        "drained_after_restart": drained,
        "recording_done": max(r[5] for r in results) - start,
    }


def spooled_not_landed(target: dict[str, Any], machines: int) -> int:
    """Runs waiting in the machines' spools (counted from the spools: no server needed)."""
    waiting = 0
    for machine in range(machines):
        store = open_store(target, machine, read_only=True)
        waiting += len(store.backlog().runs)
        store.close()
    return waiting


def landed_count(target: dict[str, Any]) -> int:
    """Finished runs in the PostgreSQL store (read as its owner)."""
    from neonhub_nb.store.pg import connect

    with connect(target["owner"]) as con:
        row = con.execute(
            "SELECT count(*) FROM agent_runs WHERE status IN ('succeeded', 'failed')"
        ).fetchone()
    return int(row[0]) if row else 0


def landed_ids(target: dict[str, Any]) -> set[str]:
    """Finished run ids in the store (read as its owner)."""
    query = "SELECT run_id FROM agent_runs WHERE status IN ('succeeded', 'failed')"
    if target["kind"] == "postgresql":
        from neonhub_nb.store.pg import connect

        with connect(target["owner"]) as con:
            return {str(r[0]) for r in con.execute(query).fetchall()}
    import duckdb

    con = duckdb.connect(target["path"], read_only=True)
    try:
        return {str(r[0]) for r in con.execute(query).fetchall()}
    finally:
        con.close()


def fresh_pg(admin: str, name: str, spools: Path) -> dict[str, Any]:
    """A new database ``name`` on the server at ``admin``, migrated, with both roles."""
    from neonhub_nb.store.pg import READER, WRITER, apply_migrations, connect, ensure_roles
    from neonhub_nb.store.pg.url import PgUrl

    with connect(admin, autocommit=True) as con:
        con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        con.execute(f"CREATE DATABASE {name}")
    owner = admin.rsplit("/", 1)[0] + f"/{name}"
    with connect(owner, autocommit=True) as con:
        apply_migrations(con)
        ensure_roles(con, writer_password=WRITER_PW, reader_password=READER_PW)
    host = PgUrl(owner).conninfo().split("@", 1)[1]
    return {
        "kind": "postgresql",
        "owner": owner,
        "writer": f"postgresql://{WRITER}:{WRITER_PW}@{host}",
        "reader": f"postgresql://{READER}:{READER_PW}@{host}",
        "spools": str(spools),
    }


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values) or [float("nan")]
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def print_table1(rows: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"\nTable 1: {args.machines} machines x {args.runs} runs through the store "
        "(1 run + 5 tool executions + 4 metrics each), a reader every 100 ms"
    )
    print(
        "| store | runs/s (landed) | wall s | recorded s | lost | errors | ingest retries "
        "| reads | read errors | read median ms | read p95 ms |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, r in rows.items():
        lat = r["latencies"]
        median = statistics.median(lat) * 1000 if lat else float("nan")
        print(
            f"| {name} | {r['runs'] / r['wall']:,.0f} | {r['wall']:.1f} "
            f"| {r['recording_done']:.1f} | {r['lost']} "
            f"| {r['errors']} | {r['retries']} | {len(lat)} | {r['reader_errors']} "
            f"| {median:.1f} | {pct(lat, 0.95) * 1000:.1f} |"
        )
    pg, duck = rows.get("PostgreSQL"), rows.get("DuckDB file")
    if pg and duck:
        print(f"ratio PostgreSQL / DuckDB file, runs/s: {duck['wall'] / pg['wall']:.2f}x")


def print_table2(r: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"\nTable 2: {args.machines} machines x {args.runs} runs at {args.rate:g} runs/s "
        f"each; the server stopped {args.stop_at:g} s in, for {args.outage:g} s"
    )
    print(
        "| store | runs | lost | errors | ingest retries | runs waiting at restart "
        "| backlog landed s after restart | all landed s after restart | recording done s "
        "| all landed s | reader errors |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print(
        f"| PostgreSQL | {r['runs']} | {r['lost']} | {r['errors']} | {r['retries']} "
        f"| {r['backlog_at_restart']} | {r['drained_after_restart']:.1f} "
        f"| {r['landed_after_restart']:.1f} "
        f"| {r['recording_done']:.1f} | {r['wall']:.1f} | {r['reader_errors']} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--machines", type=int, default=4)
    parser.add_argument("--runs", type=int, default=2500, help="runs per machine")
    parser.add_argument("--rate", type=float, default=50.0, help="table 2: runs/s per machine")
    parser.add_argument("--stop-at", type=float, default=10.0, help="table 2: seconds in")
    parser.add_argument("--outage", type=float, default=30.0, help="table 2: seconds away")
    parser.add_argument("--no-outage", action="store_true", help="table 1 only")
    parser.add_argument("--pg-url", help="an existing server's owner URL (else a local one)")
    args = parser.parse_args()
    if args.pg_url and not args.no_outage:
        parser.error("--pg-url: the bench cannot stop that server; add --no-outage")

    work = Path(tempfile.mkdtemp(prefix="bench-team-", dir="/tmp"))
    # Its own folder under /tmp: as root the server runs as the postgres user, who
    # cannot enter the bench's private work folder.
    cluster = Path(tempfile.mkdtemp(prefix="bench-team-pg-", dir="/tmp"))
    try:
        admin = (
            args.pg_url
            or (
                subprocess.run(
                    [str(PG_SCRIPT), "start", str(cluster)],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
        )
        table1 = {
            "PostgreSQL": run_round(
                fresh_pg(admin, "bench_team_1", work / "spools-1"), args.machines, args.runs, 0
            ),
            "DuckDB file": run_round(
                {"kind": "duckdb", "path": str(work / "team.duckdb")}, args.machines, args.runs, 0
            ),
        }
        print_table1(table1, args)
        if not args.no_outage:
            table2 = run_round(
                fresh_pg(admin, "bench_team_2", work / "spools-2"),
                args.machines,
                args.runs,
                args.rate,
                outage=(args.stop_at, args.outage, str(cluster)),
            )
            print_table2(table2, args)
    finally:
        if not args.pg_url:
            subprocess.run([str(PG_SCRIPT), "stop", str(cluster)], check=False, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(cluster, ignore_errors=True)


if __name__ == "__main__":
    main()
