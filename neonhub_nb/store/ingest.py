"""Move spooled events into DuckDB: batched, exactly-once, crash-safe.

One ingestion pass, run by whichever process holds DuckDB's write lock:

1. For each spool segment, read the complete lines after the offset recorded in
   ``spool_segments`` (a trailing partial line is a write that never returned, so it
   was never reported as recorded).
2. Collapse the events into one batch per table and upsert them through Arrow in one
   transaction that also advances the offsets. Every upsert is idempotent, so reading a
   segment twice (after a crash between commit and unlink) changes nothing.
3. Segments whose ``flock`` can be taken belong to a process that is gone (or rotated):
   once fully ingested they are deleted, and runs that process left ``running`` become
   ``abandoned``.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import pyarrow as pa

from ..records import (
    Column,
    DraftRecord,
    MetricRecord,
    ReviewRecord,
    RunRecord,
    ToolExecution,
    columns_of,
)
from .spool import Segment, list_segments

__all__ = ["DRAFTS", "METRICS", "REVIEWS", "RUNS", "TOOLS", "IngestReport", "ingest_segments"]

_ARROW = {
    "text": pa.string(),
    "integer": pa.int64(),
    "real": pa.float64(),
    # Staged as ISO text (what the spool holds) and cast by DuckDB.
    "timestamp": pa.string(),
    "json": pa.string(),
}


@dataclass(frozen=True)
class _Table:
    """A record type's table: its columns (from the record's fields) and how to stage them."""

    name: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def schema(self) -> pa.Schema:
        return pa.schema([(c.name, _ARROW[c.kind]) for c in self.columns])

    def select(self) -> str:
        """The staged columns cast to the table's types."""
        parts = []
        for column in self.columns:
            if column.kind == "json":
                parts.append(f"CAST({column.name} AS JSON) AS {column.name}")
            elif column.kind == "timestamp":
                parts.append(f"CAST({column.name} AS TIMESTAMP) AS {column.name}")
            else:
                parts.append(column.name)
        return ", ".join(parts)

    def stage(self, rows: list[dict[str, Any]]) -> pa.Table:
        json_columns = {c.name for c in self.columns if c.kind == "json"}
        staged = [
            {
                name: _as_text(row.get(name)) if name in json_columns else row.get(name)
                for name in self.names
            }
            for row in rows
        ]
        return pa.Table.from_pylist(staged, schema=self.schema())


RUNS = _Table("agent_runs", columns_of(RunRecord))
TOOLS = _Table("tool_executions", columns_of(ToolExecution))
METRICS = _Table("agent_run_metrics", columns_of(MetricRecord))
DRAFTS = _Table("content_drafts", columns_of(DraftRecord))
REVIEWS = _Table("staged_reviews", columns_of(ReviewRecord))
TERMINAL = ("succeeded", "failed", "abandoned")


@dataclass
class IngestReport:
    segments_read: int = 0
    events: int = 0
    runs: int = 0
    tool_executions: int = 0
    abandoned: int = 0
    segments_deleted: int = 0
    bad_lines: int = 0
    dead_writers: list[str] = field(default_factory=list)
    #: The pass stopped at its byte budget: more is waiting (call again).
    truncated: bool = False


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else orjson.dumps(value).decode()


@dataclass
class _Batch:
    runs: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    tools: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    drafts: dict[str, dict[str, Any]] = field(default_factory=dict)
    reviews: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, event: dict[str, Any]) -> None:
        kind, row = event["t"], event["row"]
        if kind == "run":
            rev = int(event.get("rev", 0))
            held = self.runs.get(row["run_id"])
            if held is None or rev >= held[0]:
                self.runs[row["run_id"]] = (rev, row)
        elif kind == "tool":
            self.tools[row["execution_id"]] = row
        elif kind == "metric":
            self.metrics[(row["run_id"], row["name"])] = row
        elif kind == "draft":
            self.drafts[row["draft_id"]] = row
        elif kind == "review":
            held_review = self.reviews.get(row["draft_id"])
            if held_review is None:
                self.reviews[row["draft_id"]] = row
                return
            older, newer = sorted((held_review, row), key=lambda r: str(r["reviewed_at"]))
            # One batch holds one review per draft: keep the latest decision, and any edit
            # (title/content) that an earlier review in the same batch made.
            self.reviews[row["draft_id"]] = {
                **newer,
                "title": newer.get("title") or older.get("title"),
                "content": newer.get("content") or older.get("content"),
            }
        else:
            raise ValueError(f"unknown spool event type {kind!r}")

    def empty(self) -> bool:
        return not (self.runs or self.tools or self.metrics or self.drafts or self.reviews)


def _read_new_lines(segment: Segment, offset: int, budget: int) -> tuple[bytes, int, bool]:
    """Complete lines after ``offset``, about ``budget`` bytes at most; and whether the
    segment's end was reached."""
    with open(segment.path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        handle.seek(offset)
        data = handle.read(max(budget, 1))
        while data and b"\n" not in data and offset + len(data) < size:
            data += handle.read(64 * 1024)  # one line longer than the budget
    end = data.rfind(b"\n")
    if end < 0:
        return b"", offset, offset >= size
    new_offset = offset + end + 1
    return data[: end + 1], new_offset, new_offset >= size


def _owner_gone(segment: Segment) -> int | None:
    """An fd holding the segment's flock if its writer is gone, else None."""
    try:
        fd = os.open(segment.path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _write_batch(con: Any, batch: _Batch) -> None:
    if batch.runs:
        con.register("staged_runs", RUNS.stage([row for _, row in batch.runs.values()]))
        updates = ", ".join(f"{c} = excluded.{c}" for c in RUNS.names if c != "run_id")
        # A finished row never goes back to running, whatever order events arrive in.
        con.execute(
            f"INSERT INTO agent_runs BY NAME SELECT {RUNS.select()} FROM staged_runs "
            f"ON CONFLICT (run_id) DO UPDATE SET {updates} "
            f"WHERE agent_runs.status NOT IN {TERMINAL}"
        )
        con.unregister("staged_runs")
    if batch.tools:
        con.register("staged_tools", TOOLS.stage(list(batch.tools.values())))
        con.execute(
            f"INSERT INTO tool_executions BY NAME SELECT {TOOLS.select()} "
            "FROM staged_tools ON CONFLICT DO NOTHING"
        )
        con.unregister("staged_tools")
    if batch.metrics:
        con.register("staged_metrics", METRICS.stage(list(batch.metrics.values())))
        con.execute(
            f"INSERT INTO agent_run_metrics BY NAME SELECT {METRICS.select()} "
            "FROM staged_metrics ON CONFLICT DO UPDATE SET value = excluded.value, "
            "unit = excluded.unit"
        )
        con.unregister("staged_metrics")
    if batch.drafts:
        con.register("staged_drafts", DRAFTS.stage(list(batch.drafts.values())))
        con.execute(
            f"INSERT INTO content_drafts BY NAME SELECT {DRAFTS.select()} "
            "FROM staged_drafts ON CONFLICT DO NOTHING"
        )
        con.unregister("staged_drafts")
    if batch.reviews:
        con.register("staged_reviews", REVIEWS.stage(list(batch.reviews.values())))
        con.execute(
            f"""UPDATE content_drafts AS d SET
                    status = r.status, reviewer = r.reviewer, review_note = r.review_note,
                    reviewed_at = r.reviewed_at, updated_at = r.reviewed_at,
                    title = coalesce(r.title, d.title), content = coalesce(r.content, d.content)
                FROM (SELECT {REVIEWS.select()} FROM staged_reviews) AS r
                WHERE d.draft_id = r.draft_id
                  AND (d.reviewed_at IS NULL OR r.reviewed_at >= d.reviewed_at)"""
        )
        con.unregister("staged_reviews")


#: Bytes of spool read per pass: bounds how long one pass holds the store's write lock
#: (about 400 runs), so readers wait at most a fraction of a second.
PASS_BUDGET = 2 * 1024 * 1024


def ingest_segments(
    con: Any, spool_dir: Any, now: datetime, budget: int = PASS_BUDGET
) -> IngestReport:
    """One ingestion pass over ``spool_dir`` into the open read-write connection ``con``."""
    report = IngestReport()
    segments = list_segments(spool_dir)
    offsets = dict(con.execute("SELECT segment, ingested_bytes FROM spool_segments").fetchall())
    # Rows of segments deleted after an earlier commit are just bookkeeping now.
    names = {s.name for s in segments}
    stale = [name for name in offsets if name not in names]

    batch = _Batch()
    new_offsets: dict[str, int] = {}
    dead: dict[str, int] = {}  # segment name -> fd holding its flock
    complete: set[str] = set()  # segments read to their end in this pass
    live_writers: set[str] = set()
    seen_writers: set[str] = set()
    try:
        for segment in segments:
            seen_writers.add(segment.writer_id)
            fd = _owner_gone(segment)
            if fd is None:
                live_writers.add(segment.writer_id)
            else:
                dead[segment.name] = fd
            start = int(offsets.get(segment.name, 0))
            remaining = (
                budget
                - sum(new_offsets.values())
                + sum(int(offsets.get(name, 0)) for name in new_offsets)
            )
            if remaining <= 0:
                report.truncated = True
                complete.discard(segment.name)
                continue
            try:
                data, end, at_end = _read_new_lines(segment, start, remaining)
            except FileNotFoundError:
                continue
            if at_end:
                complete.add(segment.name)
            else:
                report.truncated = True
            if end != start:
                report.segments_read += 1
                new_offsets[segment.name] = end
            for line in data.splitlines():
                if not line.strip():
                    continue
                try:
                    batch.add(orjson.loads(line))
                except (ValueError, KeyError, TypeError):
                    report.bad_lines += 1
                    continue
                report.events += 1
        # A dead writer's runs are abandoned only once all its events are in.
        unfinished = {s.writer_id for s in segments if s.name not in complete}
        dead_writers = sorted(seen_writers - live_writers - unfinished)
        report.dead_writers = dead_writers
        report.runs = len(batch.runs)
        report.tool_executions = len(batch.tools)

        con.execute("BEGIN TRANSACTION")
        try:
            _write_batch(con, batch)
            for name, end in new_offsets.items():
                con.execute(
                    "INSERT INTO spool_segments VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET "
                    "ingested_bytes = excluded.ingested_bytes, updated_at = excluded.updated_at",
                    [name, end, now],
                )
            if stale:
                con.execute("DELETE FROM spool_segments WHERE list_contains(?, segment)", [stale])
            if dead_writers:
                abandoned = con.execute(
                    """UPDATE agent_runs SET status = 'abandoned', finished_at = ?,
                           error = 'abandoned: the process that ran it exited before finishing'
                       WHERE status IN ('queued', 'running') AND list_contains(?, writer_id)
                       RETURNING run_id""",
                    [now, dead_writers],
                ).fetchall()
                report.abandoned = len(abandoned)
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        # Committed: segments of gone writers are fully in DuckDB and can go.
        for segment in segments:
            if segment.name in dead and segment.name in complete:
                try:
                    segment.path.unlink()
                    report.segments_deleted += 1
                except FileNotFoundError:
                    pass
    finally:
        for fd in dead.values():
            os.close(fd)
    return report
