"""Push this machine's spool into the team store: batched, exactly once, never blocking.

One pass, run by whichever process of the machine holds the spool's ingestion turn:

1. For each local segment, read the complete lines after the offset PostgreSQL has for
   ``machine/segment`` (``spool_segments``), up to about :data:`BATCH_RUNS` runs. A live
   writer's partial last line waits; a dead writer's is quarantined.
2. Check every line against its record (``store/lines.py``, as the DuckDB store does),
   then against what PostgreSQL can hold (``upsert.stage_row``: NUL characters), which
   also gives the row as it is sent, so no row is checked twice.
   Lines that fail go to ``ingest_quarantine`` with ``machine/segment`` and offset.
3. :func:`~neonhub_nb.store.pg.upsert.upsert_batch` writes the rows and moves the
   offsets in ONE transaction, which also writes the quarantine, derives the review
   status of touched drafts, renews this machine's leases, abandons the runs of writers
   seen to exit (and of writers whose lease expired, whichever machine they ran on) and
   keeps the dashboard's roll-ups. Should PostgreSQL refuse the batch's data, each
   event is written on its own and the refused ones are quarantined with its reason.
4. After the commit, dead writers' fully pushed segments are deleted and the local
   ledger (``ingested.json``, for counting the backlog while the server is away) moves.

Exactly once: the offsets in PostgreSQL are the guard (``upsert.py``). A crash between
the commit and anything after it changes nothing: the next pass reads from the
committed offsets, and every write is idempotent.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from ...errors import StoreError
from ..ingest import IngestReport, owner_gone, read_new_lines
from ..lines import EVENT_TABLES, BadLine, SpooledEvent, check_line, partial_line
from ..quarantine import RetryReport
from ..spool import Segment, list_segments
from . import leases
from .queries import quarantine_lines, refresh_draft_status
from .session import is_connection_error
from .upsert import SegmentRange, row_problem, stage_row, upsert_batch

__all__ = [
    "BATCH_RUNS",
    "LEDGER",
    "PASS_BYTES",
    "PassOptions",
    "ingest_pass",
    "maintain_rollups",
    "read_ledger",
    "retry_quarantine",
]

#: Runs per batch (one transaction): measured by bench/bench_pg_ingest.py (docs/team.md).
BATCH_RUNS = 100
#: Bytes of spool read per pass at most, whatever the runs hold.
PASS_BYTES = 4 * 1024 * 1024
#: This machine's last known offsets, kept beside the spool for counting the backlog
#: while the server is away (PostgreSQL's ``spool_segments`` stays the authority).
LEDGER = "ingested.json"


@dataclass(frozen=True)
class PassOptions:
    """How one pass runs: this machine's id, the batch bounds, the lease rule."""

    machine: str
    batch_runs: int = BATCH_RUNS
    budget: int = PASS_BYTES
    lease_minutes: float = leases.DEFAULT_LEASE_MINUTES
    #: Cleans quarantined lines before they are kept (the store's redactor).
    redact: Callable[[str], str] | None = None


@dataclass
class _Reading:
    """What one pass read from the local spool."""

    events: list[SpooledEvent] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)
    lines: dict[tuple[str, int], bytes] = field(default_factory=dict)
    ranges: list[SegmentRange] = field(default_factory=list)
    complete: set[str] = field(default_factory=set)
    live_writers: set[str] = field(default_factory=set)
    dead_writers: list[str] = field(default_factory=list)
    dead_fds: dict[str, int] = field(default_factory=dict)
    #: (segment, offset) -> the event's row as upsert_batch sends it (checked once).
    staged: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)


def read_ledger(spool_dir: Path) -> dict[str, int]:
    """The local ledger: segment name -> bytes PostgreSQL has (as of the last commit)."""
    try:
        data = json.loads((spool_dir / LEDGER).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): int(v) for k, v in data.items() if isinstance(v, int)}


def _write_ledger(spool_dir: Path, offsets: Mapping[str, int]) -> None:
    # Best effort: the ledger only feeds the backlog count; PostgreSQL is the authority.
    temporary = spool_dir / f".{LEDGER}.{os.getpid()}"
    with contextlib.suppress(OSError):
        temporary.write_text(json.dumps(dict(sorted(offsets.items()))))
        os.replace(temporary, spool_dir / LEDGER)


def maintain_rollups(
    con: psycopg.Connection[Any], run_ids: list[str], draft_ids: list[str]
) -> None:
    """Keep the dashboard's hourly roll-up cells of ``run_ids`` and ``draft_ids`` current,
    in the ingestion's transaction.

    Each touched hour is recomputed under that hour's advisory lock, held until the
    transaction ends, so two machines writing the same hour keep it exact (see
    ``store/pg/rollups.py``).
    """
    from . import rollups

    rollups.update_rollups(con, run_ids, draft_ids)


def _offsets(con: psycopg.Connection[Any], keys: list[str]) -> dict[str, int]:
    if not keys:
        return {}
    rows = con.execute(
        "SELECT segment, ingested_bytes FROM spool_segments WHERE segment = ANY(%s)", [keys]
    ).fetchall()
    return {str(key): int(value) for key, value in rows}


def _read(
    segments: list[Segment], offsets: Mapping[str, int], options: PassOptions, report: IngestReport
) -> _Reading:
    reading = _Reading()
    seen_writers: set[str] = set()
    runs: set[str] = set()
    used, stop = 0, False
    for segment in segments:
        seen_writers.add(segment.writer_id)
        fd = owner_gone(segment)
        if fd is None:
            reading.live_writers.add(segment.writer_id)
        else:
            reading.dead_fds[segment.name] = fd
        start = int(offsets.get(f"{options.machine}/{segment.name}", 0))
        if stop or options.budget - used <= 0:
            report.truncated = True
            continue
        try:
            data, end, tail, at_end = read_new_lines(segment, start, options.budget - used)
        except FileNotFoundError:
            continue
        except OSError as exc:  # one unreadable segment must not hold up the others
            report.unreadable.append(f"{segment.name}: {exc.strerror or exc}")
            continue
        position, cut = start, None
        for line in data.split(b"\n")[:-1]:
            offset, position = position, position + len(line) + 1
            if not line.strip():
                continue
            checked = check_line(line, segment.name, offset)
            if isinstance(checked, BadLine):
                reading.bad.append(checked)
                continue
            run_id = getattr(checked.record, "run_id", None)
            if run_id is not None and run_id not in runs:
                if len(runs) >= options.batch_runs:
                    cut = offset  # the batch is full: this run starts the next one
                    break
                runs.add(run_id)
            reading.events.append(checked)
            reading.lines[(segment.name, offset)] = line
        if cut is not None:
            end, tail, at_end, stop = cut, b"", False, True
        used += end - start
        if tail and segment.name in reading.dead_fds and at_end:
            # A gone writer's unfinished line will never end: set it aside and finish.
            reading.bad.append(partial_line(segment.name, end, tail))
            end += len(tail)
        if at_end:
            reading.complete.add(segment.name)
        else:
            report.truncated = True
        if end != start:
            report.segments_read += 1
            reading.ranges.append(SegmentRange(options.machine, segment.name, start, end))
    unfinished = {s.writer_id for s in segments if s.name not in reading.complete}
    # A dead writer's runs are abandoned only once all its events are in.
    reading.dead_writers = sorted(seen_writers - reading.live_writers - unfinished)
    return reading


def _rows(
    events: list[SpooledEvent], staged: Mapping[tuple[str, int], dict[str, Any]] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The events as rows per table (their ``staged`` rows when given); a run's later
    revision wins (finished over started)."""
    runs: dict[str, tuple[int, dict[str, Any]]] = {}
    rows: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        row = (
            staged[(event.segment, event.offset)]
            if staged is not None
            else event.record.model_dump()
        )
        if event.kind == "run":
            held = runs.get(row["run_id"])
            if held is None or event.rev >= held[0]:
                runs[row["run_id"]] = (event.rev, row)
        else:
            rows.setdefault(EVENT_TABLES[event.kind], []).append(row)
    if runs:
        rows["agent_runs"] = [row for _, row in runs.values()]
    return rows


def _refused(event: SpooledEvent, reason: str, line: bytes) -> BadLine:
    return BadLine(event.segment, event.offset, line, reason, event.kind)


def _checked(reading: _Reading) -> list[SpooledEvent]:
    """The events PostgreSQL can hold; the others join the quarantine."""
    kept: list[SpooledEvent] = []
    for event in reading.events:
        try:
            staged = stage_row(EVENT_TABLES[event.kind], event.record.model_dump())
        except StoreError as exc:
            line = reading.lines.get((event.segment, event.offset), b"")
            reading.bad.append(_refused(event, f"refused by the database: {exc}", line))
            continue
        reading.staged[(event.segment, event.offset)] = staged
        kept.append(event)
    return kept


def _touched(events: list[SpooledEvent]) -> tuple[set[str], set[str]]:
    runs: set[str] = set()
    drafts: set[str] = set()
    for event in events:
        run_id = getattr(event.record, "run_id", None)
        if run_id is not None:
            runs.add(str(run_id))
        draft_id = getattr(event.record, "draft_id", None)
        if draft_id is not None and event.kind in ("draft", "review_event"):
            drafts.add(str(draft_id))
    return runs, drafts


def _one_by_one(
    con: psycopg.Connection[Any],
    events: list[SpooledEvent],
    lines: Mapping[tuple[str, int], bytes],
    now: datetime,
) -> tuple[list[SpooledEvent], list[BadLine]]:
    """Write each event alone (no offsets: idempotent rows only); returns those written
    and, for the quarantine, those PostgreSQL refused with its reason."""
    written: list[SpooledEvent] = []
    refused: list[BadLine] = []
    for event in events:
        try:
            upsert_batch(con, _rows([event]), now=now)
        except StoreError as exc:
            cause = exc.__cause__
            if cause is None or is_connection_error(cause):
                raise
            line = lines.get((event.segment, event.offset), b"")
            refused.append(_refused(event, f"refused by the database: {exc}", line))
            continue
        written.append(event)
    return written, refused


def ingest_pass(
    con: psycopg.Connection[Any], spool_dir: Path, options: PassOptions, now: datetime | None = None
) -> IngestReport:
    """One pass over this machine's spool into the team store; ``con`` in autocommit.

    Raises :class:`StoreError` when the server cannot be reached or refuses the
    bookkeeping itself (the events stay spooled); lines it cannot hold are quarantined,
    never raised.
    """
    stamp = now or datetime.now(UTC)
    report = IngestReport()
    segments = list_segments(spool_dir)
    keys = [f"{options.machine}/{s.name}" for s in segments]
    reading: _Reading | None = None
    try:
        reading = _read(segments, _offsets(con, keys), options, report)
        events = _checked(reading)
        runs_touched, drafts_touched = _touched(events)
        outcome: dict[str, Any] = {}

        def bookkeeping(con: psycopg.Connection[Any]) -> None:
            assert reading is not None
            outcome["quarantined"] = quarantine_lines(
                con, reading.bad, stamp, options.machine, options.redact
            )
            refresh_draft_status(con, sorted(drafts_touched))
            leases.renew_leases(con, options.machine, sorted(reading.live_writers))
            leases.release_writers(con, options.machine, reading.dead_writers)
            abandoned = leases.abandon_dead_writers(con, reading.dead_writers)
            outcome["expired"], expired_runs = leases.expire_leases(con, options.lease_minutes)
            abandoned += expired_runs
            outcome["abandoned"] = len(abandoned)
            maintain_rollups(con, sorted(runs_touched | set(abandoned)), sorted(drafts_touched))

        try:
            result = upsert_batch(
                con,
                _rows(events, reading.staged),
                reading.ranges,
                now=stamp,
                then=bookkeeping,
                staged=True,
            )
        except StoreError as exc:
            cause = exc.__cause__
            if cause is None or is_connection_error(cause):
                raise
            # PostgreSQL refused the batch's data (a trigger, a constraint): write the
            # events one by one, quarantine what it refuses, then move the offsets.
            events, refused = _one_by_one(con, events, reading.lines, stamp)
            reading.bad.extend(refused)
            result = upsert_batch(con, {}, reading.ranges, now=stamp, then=bookkeeping)
        if not result.committed:
            # Another process of this machine moved the offsets first: read again.
            return IngestReport(truncated=True)
        _finish(reading, segments, spool_dir, report)
        report.events = len(events)
        report.runs = len({e.record.run_id for e in events if e.kind == "run"})  # type: ignore[attr-defined]
        report.tool_executions = sum(1 for e in events if e.kind == "tool")
        report.quarantined = int(outcome.get("quarantined", 0))
        report.abandoned = int(outcome.get("abandoned", 0))
        report.dead_writers = reading.dead_writers
        return report
    finally:
        if reading is not None:
            for fd in reading.dead_fds.values():
                os.close(fd)


def _finish(
    reading: _Reading,
    segments: list[Segment],
    spool_dir: Path,
    report: IngestReport,
) -> None:
    """After the commit: delete dead writers' pushed segments, move the local ledger."""
    ledger = read_ledger(spool_dir)
    for part in reading.ranges:
        ledger[part.segment] = part.end
    for segment in segments:
        if segment.name in reading.dead_fds and segment.name in reading.complete:
            try:
                segment.path.unlink()
                report.segments_deleted += 1
            except OSError:  # gone already, or not a file: it stays listed as unreadable
                pass
    names = {s.name for s in list_segments(spool_dir)}
    _write_ledger(spool_dir, {k: v for k, v in ledger.items() if k in names})


def retry_quarantine(con: psycopg.Connection[Any], now: datetime) -> RetryReport:
    """Check every open quarantined line again and ingest those that pass now, marking
    them resolved (as :func:`neonhub_nb.store.quarantine.retry_quarantine`); one
    transaction, ``con`` in autocommit."""
    rows = con.execute(
        """SELECT segment, line_offset, line, line_complete FROM ingest_quarantine
           WHERE resolved_at IS NULL ORDER BY quarantined_at, segment, line_offset"""
    ).fetchall()
    passing: list[SpooledEvent] = []
    failing: list[BadLine] = []
    lines: dict[tuple[str, int], bytes] = {}
    not_retryable = 0
    for segment, offset, text, whole in rows:
        if not whole:
            not_retryable += 1
            continue
        line = str(text).encode("utf-8")
        checked = check_line(line, str(segment), int(offset))
        if isinstance(checked, BadLine):
            failing.append(checked)
            continue
        problem = row_problem(EVENT_TABLES[checked.kind], checked.record.model_dump())
        if problem is not None:
            failing.append(_refused(checked, f"refused by the database: {problem}", line))
            continue
        passing.append(checked)
        lines[(checked.segment, checked.offset)] = line
    refused: list[BadLine] = []

    def mark(con: psycopg.Connection[Any]) -> None:
        for bad in [*failing, *refused]:
            con.execute(
                """UPDATE ingest_quarantine SET reason = %s, retried_at = %s
                   WHERE segment = %s AND line_offset = %s""",
                [bad.reason, now, bad.segment, bad.offset],
            )
        for event in passing:
            con.execute(
                """UPDATE ingest_quarantine SET retried_at = %s, resolved_at = %s
                   WHERE segment = %s AND line_offset = %s""",
                [now, now, event.segment, event.offset],
            )
        runs, drafts = _touched(passing)
        refresh_draft_status(con, sorted(drafts))
        maintain_rollups(con, sorted(runs), sorted(drafts))

    try:
        upsert_batch(con, _rows(passing), now=now, then=mark)
    except StoreError as exc:
        cause = exc.__cause__
        if cause is None or is_connection_error(cause):
            raise
        passing, refused = _one_by_one(con, passing, lines, now)
        upsert_batch(con, {}, now=now, then=mark)
    return RetryReport(
        ingested=len(passing),
        still_refused=len(failing) + len(refused),
        not_retryable=not_retryable,
    )
