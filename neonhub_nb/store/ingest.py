"""Move spooled events into DuckDB: batched, exactly-once, crash-safe, never blocked.

One ingestion pass, run by whichever process holds DuckDB's write lock:

1. For each spool segment, read the complete lines after the offset recorded in
   ``spool_segments``. A trailing partial line of a live writer is a write still in
   progress and waits; a dead writer's partial last line never will end, so it is
   quarantined and the segment finishes.
2. Check every line against the record it claims to be (``lines.py``): a line that
   cannot be stored goes to ``ingest_quarantine`` with its segment, offset, reason and
   (redacted) text, and the rest lands.
3. Collapse the events into one batch per table and upsert them through Arrow in one
   transaction that also advances the offsets and writes the quarantine. Every upsert is
   idempotent, so reading a segment twice changes nothing. Should the database still
   refuse the batch, each event is written on its own and the ones it refuses are
   quarantined with the database's reason.
4. Segments whose ``flock`` can be taken belong to a process that is gone (or rotated):
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
from duckdb import DuckDBPyConnection

from ..records import (
    Column,
    DraftRecord,
    MetricRecord,
    ReviewEvent,
    ReviewRecord,
    RunRecord,
    ToolExecution,
    columns_of,
)
from .lines import BadLine, SpooledEvent, check_line, partial_line
from .quarantine import quarantine_lines
from .reviews import refresh_draft_status
from .rollups import update_rollups
from .schema import rollback
from .spool import Segment, list_segments

__all__ = [
    "DRAFTS",
    "EVENTS",
    "METRICS",
    "REVIEWS",
    "RUNS",
    "TOOLS",
    "IngestReport",
    "ingest_segments",
    "owner_gone",
    "read_new_lines",
    "write_events",
]

_ARROW = {
    "text": pa.string(),
    "integer": pa.int64(),
    "real": pa.float64(),
    "timestamp": pa.timestamp("us"),
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
#: The legacy review line's columns (what the PostgreSQL backend still stages).
REVIEWS = _Table("staged_reviews", columns_of(ReviewRecord))
EVENTS = _Table("review_events", columns_of(ReviewEvent))
TERMINAL = ("succeeded", "failed", "abandoned")


@dataclass
class IngestReport:
    segments_read: int = 0
    events: int = 0
    runs: int = 0
    tool_executions: int = 0
    abandoned: int = 0
    segments_deleted: int = 0
    #: Lines set aside in ``ingest_quarantine`` by this pass (see ``neonhub-nb quarantine``).
    quarantined: int = 0
    dead_writers: list[str] = field(default_factory=list)
    #: Segments that could not be read (``name: why``); they wait, the others land.
    unreadable: list[str] = field(default_factory=list)
    #: The pass stopped at its byte budget: more is waiting (call again).
    truncated: bool = False

    @property
    def bad_lines(self) -> int:
        """Older name of :attr:`quarantined`."""
        return self.quarantined

    def merged(self, later: IngestReport) -> IngestReport:
        """This pass's counts plus ``later``'s (``truncated`` is the later pass's)."""
        return IngestReport(
            segments_read=self.segments_read + later.segments_read,
            events=self.events + later.events,
            runs=self.runs + later.runs,
            tool_executions=self.tool_executions + later.tool_executions,
            abandoned=self.abandoned + later.abandoned,
            segments_deleted=self.segments_deleted + later.segments_deleted,
            quarantined=self.quarantined + later.quarantined,
            dead_writers=sorted({*self.dead_writers, *later.dead_writers}),
            unreadable=sorted({*self.unreadable, *later.unreadable}),
            truncated=later.truncated,
        )


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
    events: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, event: SpooledEvent) -> None:
        row = event.record.model_dump()
        if event.kind == "run":
            held = self.runs.get(row["run_id"])
            if held is None or event.rev >= held[0]:
                self.runs[row["run_id"]] = (event.rev, row)
        elif event.kind == "tool":
            self.tools[row["execution_id"]] = row
        elif event.kind == "metric":
            self.metrics[(row["run_id"], row["name"])] = row
        elif event.kind == "draft":
            self.drafts[row["draft_id"]] = row
        elif event.kind == "review_event":
            self.events[row["event_id"]] = row
        else:  # check_line only lets known kinds through
            raise ValueError(f"unknown spool event type {event.kind!r}")

    def empty(self) -> bool:
        return not (self.runs or self.tools or self.metrics or self.drafts or self.events)


def read_new_lines(segment: Segment, offset: int, budget: int) -> tuple[bytes, int, bytes, bool]:
    """Complete lines after ``offset`` (about ``budget`` bytes at most), the offset after
    them, what follows them up to the file's end (a partial line, or ``b""``), and
    whether the file's end was reached."""
    with open(segment.path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        handle.seek(offset)
        data = handle.read(max(budget, 1))
        while data and b"\n" not in data and offset + len(data) < size:
            data += handle.read(64 * 1024)  # one line longer than the budget
        end = data.rfind(b"\n")
        complete = data[: end + 1] if end >= 0 else b""
        new_offset = offset + len(complete)
        reached_end = offset + len(data) >= size
        tail = data[end + 1 :] if reached_end else b""
        return complete, new_offset, tail, reached_end


def owner_gone(segment: Segment) -> int | None:
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


def _write_batch(con: DuckDBPyConnection, batch: _Batch) -> None:
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
    # A draft's events may land before the draft itself (another writer's segment):
    # new drafts are refreshed too, so their status follows events already in.
    touched = {row["draft_id"] for row in batch.events.values()} | set(batch.drafts)
    if batch.events:
        con.register("staged_events", EVENTS.stage(list(batch.events.values())))
        con.execute(
            f"INSERT INTO review_events BY NAME SELECT {EVENTS.select()} "
            "FROM staged_events ON CONFLICT DO NOTHING"
        )
        con.unregister("staged_events")
    if touched:
        refresh_draft_status(con, sorted(touched))


def write_events(con: DuckDBPyConnection, events: list[SpooledEvent]) -> list[BadLine]:
    """Write ``events`` in the caller's transaction; if the database refuses the batch,
    roll back and write each event in its own transaction instead, returning the ones it
    refused (with its reason) for the quarantine. Idempotent either way."""
    batch = _Batch()
    for event in events:
        batch.add(event)
    if batch.empty():
        return []
    try:
        _write_batch(con, batch)
        return []
    except Exception:  # duckdb.Error and Arrow errors alike: fall back to one by one
        rollback(con)
    refused: list[BadLine] = []
    for event in events:
        single = _Batch()
        single.add(event)
        con.execute("BEGIN TRANSACTION")
        try:
            _write_batch(con, single)
            con.execute("COMMIT")
        except Exception as exc:
            rollback(con)
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            refused.append(
                BadLine(
                    event.segment,
                    event.offset,
                    b"",
                    f"refused by the database: {reason}",
                    event.kind,
                )
            )
    con.execute("BEGIN TRANSACTION")
    return refused


def _touched(events: list[SpooledEvent]) -> tuple[set[str], set[str]]:
    """The runs whose rows these events write, and the drafts whose reviews they add."""
    runs: set[str] = set()
    drafts: set[str] = set()
    for event in events:
        run_id = getattr(event.record, "run_id", None)
        if run_id is not None:
            runs.add(str(run_id))
        elif event.kind != "run":
            draft_id = getattr(event.record, "draft_id", None)
            if draft_id is not None:
                drafts.add(str(draft_id))
    return runs, drafts


#: Bytes of spool read per pass: bounds how long one pass holds the store's write lock
#: (about 400 runs), so readers wait at most a fraction of a second.
PASS_BUDGET = 2 * 1024 * 1024


def ingest_segments(
    con: DuckDBPyConnection,
    spool_dir: Any,
    now: datetime,
    budget: int = PASS_BUDGET,
    redact: Any = None,
) -> IngestReport:
    """One ingestion pass over ``spool_dir`` into the open read-write connection ``con``.

    ``redact`` (text -> text) cleans quarantined lines before they are kept.
    """
    report = IngestReport()
    segments = list_segments(spool_dir)
    offsets = dict(con.execute("SELECT segment, ingested_bytes FROM spool_segments").fetchall())
    # Rows of segments deleted after an earlier commit are just bookkeeping now.
    names = {s.name for s in segments}
    stale = [name for name in offsets if name not in names]

    events: list[SpooledEvent] = []
    bad: list[BadLine] = []
    lines_by_offset: dict[tuple[str, int], bytes] = {}
    new_offsets: dict[str, int] = {}
    dead: dict[str, int] = {}  # segment name -> fd holding its flock
    complete: set[str] = set()  # segments read to their end in this pass
    live_writers: set[str] = set()
    seen_writers: set[str] = set()
    used = 0
    try:
        for segment in segments:
            seen_writers.add(segment.writer_id)
            fd = owner_gone(segment)
            if fd is None:
                live_writers.add(segment.writer_id)
            else:
                dead[segment.name] = fd
            start = int(offsets.get(segment.name, 0))
            if budget - used <= 0:
                report.truncated = True
                continue
            try:
                data, end, tail, at_end = read_new_lines(segment, start, budget - used)
            except FileNotFoundError:
                continue
            except OSError as exc:  # one unreadable segment must not hold up the others
                report.unreadable.append(f"{segment.name}: {exc.strerror or exc}")
                continue
            used += end - start
            if tail and segment.name in dead and at_end:
                # A gone writer's unfinished line will never end: set it aside and finish.
                bad.append(partial_line(segment.name, end, tail))
                end += len(tail)
            if at_end:
                # A live writer's partial line is a write in progress: it waits, but the
                # pass does not spin on it.
                complete.add(segment.name)
            else:
                report.truncated = True
            if end != start:
                report.segments_read += 1
                new_offsets[segment.name] = end
            position = start
            for line in data.split(b"\n")[:-1]:
                offset, position = position, position + len(line) + 1
                if not line.strip():
                    continue
                checked = check_line(line, segment.name, offset)
                if isinstance(checked, BadLine):
                    bad.append(checked)
                    continue
                lines_by_offset[(segment.name, offset)] = line
                events.append(checked)
                report.events += 1
        # A dead writer's runs are abandoned only once all its events are in.
        unfinished = {s.writer_id for s in segments if s.name not in complete}
        dead_writers = sorted(seen_writers - live_writers - unfinished)
        report.dead_writers = dead_writers
        report.runs = len({e.record.run_id for e in events if e.kind == "run"})  # type: ignore[attr-defined]
        report.tool_executions = sum(1 for e in events if e.kind == "tool")

        touched_runs, touched_drafts = _touched(events)
        con.execute("BEGIN TRANSACTION")
        try:
            refused = write_events(con, events)
            for refusal in refused:
                original = lines_by_offset.get((refusal.segment, refusal.offset), b"")
                bad.append(
                    BadLine(
                        refusal.segment,
                        refusal.offset,
                        original,
                        refusal.reason,
                        refusal.event_type,
                    )
                )
                report.events -= 1
            report.quarantined = quarantine_lines(con, bad, now, redact)
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
                touched_runs.update(row[0] for row in abandoned)
            # The dashboard's hourly cells follow every write, in the same transaction.
            update_rollups(con, sorted(touched_runs), sorted(touched_drafts))
            con.execute("COMMIT")
        except Exception:
            rollback(con)
            raise
        # Committed: segments of gone writers are fully in DuckDB and can go.
        for segment in segments:
            if segment.name in dead and segment.name in complete:
                try:
                    segment.path.unlink()
                    report.segments_deleted += 1
                except OSError:  # gone already, or not a file: it stays listed as unreadable
                    pass
    finally:
        for fd in dead.values():
            os.close(fd)
    return report
