"""One spool batch and its offsets into PostgreSQL in one transaction, exactly once."""

from __future__ import annotations

import itertools
import multiprocessing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from neonhub_nb.errors import StoreError
from neonhub_nb.store import ingest as duck_ingest
from neonhub_nb.store.pg import (
    WRITER,
    SegmentRange,
    apply_migrations,
    check_rows,
    connect,
    ensure_roles,
    upsert_batch,
)
from neonhub_nb.store.pg.upsert import COLUMNS

from . import pg
from .pg import as_role, merge_rows, run_rows

pg_cluster, pg_url = pg.pg_cluster, pg.pg_url  # the fixtures, for this module's tests

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
SEGMENT = ("laptop-1", "laptop_1-4242-abcd1234.00001.jsonl")


@pytest.fixture
def db(pg_url: str) -> str:
    with connect(pg_url, autocommit=True) as con:
        apply_migrations(con)
    return pg_url


def _count(con: Any, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0])


def _offsets(con: Any) -> dict[str, int]:
    return dict(con.execute("SELECT segment, ingested_bytes FROM spool_segments").fetchall())


def test_columns_are_the_duckdb_ingesters(db: str) -> None:
    duck = {
        "agent_runs": duck_ingest.RUNS.names,
        "tool_executions": duck_ingest.TOOLS.names,
        "agent_run_metrics": duck_ingest.METRICS.names,
        "content_drafts": duck_ingest.DRAFTS.names,
        "review_events": duck_ingest.EVENTS.names,
        "draft_reviews": duck_ingest.REVIEWS.names,
    }
    assert {t: list(c) for t, c in COLUMNS.items()} == {t: list(c) for t, c in duck.items()}


def test_a_batch_lands_with_its_offsets(db: str) -> None:
    rows = merge_rows(*(run_rows(f"run-{i}") for i in range(3)))
    with connect(db) as con:
        done = upsert_batch(con, rows, [SegmentRange(*SEGMENT, 0, 4096)], now=NOW)
        assert done.committed
        assert done.rows == {
            "agent_runs": 3,
            "tool_executions": 15,
            "agent_run_metrics": 12,
            "content_drafts": 3,
        }
        assert _count(con, "agent_runs") == 3
        assert _count(con, "tool_executions") == 15
        assert _offsets(con) == {"laptop-1/laptop_1-4242-abcd1234.00001.jsonl": 4096}
        topic, started, redacted = con.execute(
            "SELECT input->>'topic', started_at, redacted_fields FROM agent_runs "
            "WHERE run_id = 'run-0'"
        ).fetchone()
    assert topic == "bakery newsletters"
    assert started == datetime(2026, 5, 1, 10, 0, 0, 250000, tzinfo=UTC)
    assert redacted == []


def test_the_same_batch_twice_is_refused_and_changes_nothing(db: str) -> None:
    rows = run_rows("run-1")
    part = SegmentRange(*SEGMENT, 0, 900)
    with connect(db) as con:
        assert upsert_batch(con, rows, [part], now=NOW).committed
        con.execute("UPDATE agent_run_metrics SET value = -1 WHERE name = 'cost_usd'")
        con.commit()
        again = upsert_batch(con, rows, [part], now=NOW)
        assert not again.committed
        assert again.conflicts == {part.key: 900}
        # The metric upsert would have reset the value: it did not run.
        assert con.execute(
            "SELECT value FROM agent_run_metrics WHERE name = 'cost_usd'"
        ).fetchone() == (-1.0,)
        # A batch that skips bytes is refused as well: nothing may be left out.
        gap = upsert_batch(con, run_rows("run-2"), [SegmentRange(*SEGMENT, 1000, 1900)], now=NOW)
        assert gap.conflicts == {part.key: 900}
        assert _count(con, "agent_runs") == 1
        # The next range, from where the last one ended, lands.
        assert upsert_batch(
            con, run_rows("run-2"), [SegmentRange(*SEGMENT, 900, 1900)], now=NOW
        ).committed
        assert _count(con, "agent_runs") == 2


def test_a_finished_run_never_goes_back_to_running(db: str) -> None:
    with connect(db) as con:
        finished = run_rows("run-f", tools=0)
        running = run_rows("run-f", status="running", tools=0)
        # Both in one batch, finished first: the running row is dropped.
        assert upsert_batch(con, merge_rows(finished, running), now=NOW).committed
        # A later batch with the running row again (events out of order).
        assert upsert_batch(con, running, now=NOW).committed
        assert con.execute("SELECT status, finished_at IS NOT NULL FROM agent_runs").fetchone() == (
            "succeeded",
            True,
        )
        # Running, then finished: the row moves on.
        assert upsert_batch(con, run_rows("run-g", status="running", tools=0), now=NOW).committed
        assert upsert_batch(con, run_rows("run-g", status="failed", tools=0), now=NOW).committed
        assert con.execute("SELECT status FROM agent_runs WHERE run_id = 'run-g'").fetchone() == (
            "failed",
        )


def test_runs_of_a_gone_writer_are_abandoned_in_the_same_transaction(db: str) -> None:
    with connect(db) as con:
        assert upsert_batch(con, run_rows("run-a", status="running"), now=NOW).committed
        assert upsert_batch(con, run_rows("run-b"), now=NOW).committed
        done = upsert_batch(con, {}, now=NOW, abandon_writers=["laptop-1-1234-abcd"])
        assert done.abandoned == 1
        rows = con.execute("SELECT run_id, status FROM agent_runs ORDER BY 1").fetchall()
    assert rows == [("run-a", "abandoned"), ("run-b", "succeeded")]


def test_reviews_apply_in_order_and_keep_edits(db: str) -> None:
    review = {"draft_id": "run-r-d", "reviewer": "ana", "review_note": None}
    edited = {**review, "status": "draft", "reviewed_at": "2026-05-01T11:00:00", "title": "New"}
    approved = {**review, "status": "approved", "reviewed_at": "2026-05-01T11:05:00"}
    stale = {**review, "status": "rejected", "reviewed_at": "2026-05-01T10:30:00"}
    with connect(db) as con:
        batch = {**run_rows("run-r"), "draft_reviews": [approved, edited]}
        assert upsert_batch(con, batch, now=NOW).committed
        assert upsert_batch(con, {"draft_reviews": [stale]}, now=NOW).committed
        row = con.execute(
            "SELECT status, title, content IS NOT NULL FROM content_drafts"
        ).fetchone()
    assert row == ("approved", "New", True)


@pytest.mark.parametrize(
    ("table", "change", "says"),
    [
        ("tool_executions", {"response": {"text": "a\x00b"}}, "response: PostgreSQL cannot store"),
        ("agent_runs", {"error": "bad\x00byte"}, "error: PostgreSQL cannot store the NUL"),
        ("agent_run_metrics", {"value": float("nan")}, "value: must be a finite number"),
        ("agent_runs", {"started_at": "yesterday"}, "started_at: Invalid isoformat"),
        ("agent_runs", {"agent": None}, "agent: is required"),
        ("tool_executions", {"seq": "3"}, "seq: must be an integer"),
        ("agent_runs", {"input": "{not json"}, "input: unexpected character"),
    ],
)
def test_a_row_postgres_cannot_hold_is_named_and_nothing_is_written(
    db: str, table: str, change: dict[str, Any], says: str
) -> None:
    rows = merge_rows(run_rows("run-ok"), run_rows("run-bad"))
    bad = next(r for r in rows[table] if r["run_id"] == "run-bad")
    bad.update(change)
    problems = check_rows(rows)
    assert len(problems) == 1
    assert says in problems[0]
    assert problems[0].startswith(f"{table}[")
    with connect(db) as con:
        with pytest.raises(StoreError, match=says) as failed:
            upsert_batch(con, rows, [SegmentRange(*SEGMENT, 0, 500)], now=NOW)
        assert "\n" not in str(failed.value)
        assert _count(con, "agent_runs") == 0
        assert _offsets(con) == {}


def test_bad_offsets_and_tables_are_refused(db: str) -> None:
    with connect(db) as con:
        with pytest.raises(StoreError, match=r"offsets\.machine: must be non-empty"):
            upsert_batch(con, {}, [SegmentRange("a/b", "s", 0, 1)], now=NOW)
        with pytest.raises(StoreError, match="need 0 <= start <= end"):
            upsert_batch(con, {}, [SegmentRange("m", "s", 5, 1)], now=NOW)
        with pytest.raises(StoreError, match="one range per segment"):
            upsert_batch(con, {}, [SegmentRange("m", "s", 0, 1)] * 2, now=NOW)
        with pytest.raises(StoreError, match="unknown table \\['runs'\\]"):
            upsert_batch(con, {"runs": []}, now=NOW)


# ---------------------------------------------------------------- two ingesters racing
RUNS = 120
WRITER_PW = "race-writer-pw"


def _write_spool(path: Path) -> int:
    with path.open("wb") as spool:
        for i in range(RUNS):
            spool.write(orjson.dumps(run_rows(f"run-{i:04d}", tools=2)) + b"\n")
    return path.stat().st_size


def _ingester(url: str, spool: str, per_batch: int, barrier: Any, results: Any) -> None:
    """Push ``spool`` into PostgreSQL from wherever the server says it stands."""
    machine, segment = SEGMENT
    key = f"{machine}/{segment}"
    committed: list[tuple[int, int]] = []
    conflicts = 0
    data = Path(spool).read_bytes()
    with connect(url) as con:
        while True:
            if barrier is not None:
                barrier.wait(timeout=60)
            found = con.execute(
                "SELECT ingested_bytes FROM spool_segments WHERE segment = %s", [key]
            ).fetchone()
            con.commit()
            start = int(found[0]) if found else 0
            if start >= len(data):
                break
            end = start
            for _ in range(per_batch):
                newline = data.find(b"\n", end)
                if newline < 0:
                    break
                end = newline + 1
            lines = data[start:end].splitlines()
            rows = merge_rows(*(orjson.loads(line) for line in lines))
            if barrier is not None:
                barrier.wait(timeout=60)  # both read the same offset: now both push
            done = upsert_batch(con, rows, [SegmentRange(machine, segment, start, end)], now=NOW)
            if done.committed:
                committed.append((start, end))
            else:
                conflicts += 1
    results.put((committed, conflicts))


def _race(db: str, tmp_path: Path, batches: tuple[int, int], synchronised: bool) -> None:
    with connect(db, autocommit=True) as con:
        ensure_roles(con, writer_password=WRITER_PW)
        # Test instrument: every metric row proposed for insertion is logged, even one
        # that would conflict, so a batch applied twice would show up here.
        con.execute("CREATE TABLE proposed (run_id TEXT, name TEXT)")
        con.execute(
            """CREATE FUNCTION log_proposed() RETURNS trigger LANGUAGE plpgsql
               SECURITY DEFINER AS $$ BEGIN
                   INSERT INTO proposed VALUES (NEW.run_id, NEW.name); RETURN NEW;
               END $$"""
        )
        con.execute(
            "CREATE TRIGGER log_proposed BEFORE INSERT ON agent_run_metrics "
            "FOR EACH ROW EXECUTE FUNCTION log_proposed()"
        )
    size = _write_spool(tmp_path / "segment.jsonl")
    writer_url = as_role(db, WRITER, WRITER_PW)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2) if synchronised else None
    results = ctx.Queue()
    ingesters = [
        ctx.Process(
            target=_ingester,
            args=(writer_url, str(tmp_path / "segment.jsonl"), per_batch, barrier, results),
        )
        for per_batch in batches
    ]
    for ingester in ingesters:
        ingester.start()
    outcomes = [results.get(timeout=120) for _ in ingesters]
    for ingester in ingesters:
        ingester.join(30)
        assert ingester.exitcode == 0
    ranges = sorted(r for committed, _ in outcomes for r in committed)
    # Every byte of the segment was committed exactly once: the ranges tile it.
    assert ranges[0][0] == 0
    assert ranges[-1][1] == size
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    with connect(db) as con:
        assert _count(con, "agent_runs") == RUNS
        assert _count(con, "tool_executions") == RUNS * 2
        assert _count(con, "agent_run_metrics") == RUNS * 4
        twice = con.execute(
            "SELECT count(*) FROM (SELECT 1 FROM proposed GROUP BY run_id, name "
            "HAVING count(*) > 1) AS d"
        ).fetchone()
        assert twice == (0,)
        assert _count(con, "proposed") == RUNS * 4
        assert _offsets(con) == {f"{SEGMENT[0]}/{SEGMENT[1]}": size}
    conflicts = sum(c for _, c in outcomes)
    if synchronised:
        # Each round both pushed the same range: one won, the other wrote nothing.
        assert conflicts == len(ranges)


def test_two_ingesters_pushing_the_same_range_at_once_land_it_once(db: str, tmp_path: Path) -> None:
    _race(db, tmp_path, batches=(10, 10), synchronised=True)


def test_two_free_running_ingesters_with_different_batches_land_every_run_once(
    db: str, tmp_path: Path
) -> None:
    _race(db, tmp_path, batches=(7, 13), synchronised=False)
