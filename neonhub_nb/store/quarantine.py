"""The ingest quarantine: spool lines the store could not hold, kept, counted, retryable.

A line is quarantined with its segment, byte offset, reason (``table.field: rule`` or
what is wrong with it) and its text, redacted. Rows are never deleted (``prune`` leaves
them): a line that a later retry ingests is marked ``resolved_at``, so the number of
lines ever quarantined only grows and the exporter can count it as a counter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from duckdb import DuckDBPyConnection

from .connection import one_row
from .lines import BadLine, SpooledEvent, check_line
from .schema import rollback

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "KEPT_LINE_CHARS",
    "QuarantineCounts",
    "RetryReport",
    "has_table",
    "list_quarantine",
    "quarantine_counts",
    "quarantine_lines",
    "retry_quarantine",
]

#: Characters of a line kept in the quarantine; a longer (oversized) line keeps its start
#: and cannot be retried.
KEPT_LINE_CHARS = 1024 * 1024


def quarantine_lines(
    con: DuckDBPyConnection,
    lines: Sequence[BadLine],
    now: datetime,
    redact: Callable[[str], str] | None = None,
) -> int:
    """Insert ``lines`` (in the caller's transaction); returns how many were new."""
    added = 0
    for bad in lines:
        text = bad.line.decode("utf-8", errors="replace")
        kept_whole = bad.complete and len(text) <= KEPT_LINE_CHARS
        text = text[:KEPT_LINE_CHARS]
        if redact is not None:
            text = redact(text)
        inserted = con.execute(
            """INSERT INTO ingest_quarantine (segment, line_offset, line_bytes, event_type,
                   reason, line, line_complete, quarantined_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING segment""",
            [
                bad.segment,
                bad.offset,
                len(bad.line),
                bad.event_type,
                bad.reason,
                text,
                kept_whole,
                now,
            ],
        ).fetchall()
        added += len(inserted)
    return added


def has_table(con: DuckDBPyConnection, name: str) -> bool:
    """Whether the open store has table ``name`` (older files opened read-only may not)."""
    row = one_row(
        con, "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
    )
    return bool(row[0])


@dataclass(frozen=True)
class QuarantineCounts:
    """``open``: lines waiting in quarantine; ``total``: lines ever quarantined."""

    open: int
    total: int


def quarantine_counts(con: DuckDBPyConnection) -> QuarantineCounts:
    """How many lines are in quarantine now, and how many were ever put there (zeros for
    a store from before the quarantine, opened read-only)."""
    if not has_table(con, "ingest_quarantine"):
        return QuarantineCounts(open=0, total=0)
    row = one_row(
        con, "SELECT count(*) FILTER (WHERE resolved_at IS NULL), count(*) FROM ingest_quarantine"
    )
    return QuarantineCounts(open=int(row[0]), total=int(row[1]))


def list_quarantine(
    con: DuckDBPyConnection, *, include_resolved: bool = False, limit: int = 100
) -> pd.DataFrame:
    """Quarantined lines, oldest first: segment, offset, size, type, reason, line, times."""
    if not has_table(con, "ingest_quarantine"):
        empty: pd.DataFrame = con.execute(
            "SELECT NULL::VARCHAR AS segment, NULL::BIGINT AS line_offset WHERE false"
        ).df()
        return empty
    where = "" if include_resolved else "WHERE resolved_at IS NULL"
    frame: pd.DataFrame = con.execute(
        f"""SELECT segment, line_offset, line_bytes, event_type, reason, line,
                   line_complete AS retryable, quarantined_at, retried_at, resolved_at
            FROM ingest_quarantine {where}
            ORDER BY quarantined_at, segment, line_offset LIMIT {int(limit)}"""
    ).df()
    return frame


@dataclass(frozen=True)
class RetryReport:
    """What a retry did: lines ingested now, lines still refused (with their new reason),
    lines that cannot be retried (partial or oversized)."""

    ingested: int
    still_refused: int
    not_retryable: int


def retry_quarantine(con: DuckDBPyConnection, now: datetime) -> RetryReport:
    """Check every open quarantined line again (after a fix) and ingest those that pass.

    One transaction: a line that now passes lands in its table and is marked resolved;
    one that still fails keeps its row with the new reason and ``retried_at``.
    """
    from .ingest import write_events

    rows = con.execute(
        """SELECT segment, line_offset, line, line_complete FROM ingest_quarantine
           WHERE resolved_at IS NULL ORDER BY quarantined_at, segment, line_offset"""
    ).fetchall()
    passing: list[SpooledEvent] = []
    failing: list[BadLine] = []
    not_retryable = 0
    for segment, offset, line, whole in rows:
        if not whole:
            not_retryable += 1
            continue
        checked = check_line(str(line).encode("utf-8"), str(segment), int(offset))
        if isinstance(checked, BadLine):
            failing.append(checked)
        else:
            passing.append(checked)
    con.execute("BEGIN TRANSACTION")
    try:
        refused = write_events(con, passing)
        refused_at = {(bad.segment, bad.offset) for bad in refused}
        for bad in [*failing, *refused]:
            con.execute(
                """UPDATE ingest_quarantine SET reason = ?, retried_at = ?
                   WHERE segment = ? AND line_offset = ?""",
                [bad.reason, now, bad.segment, bad.offset],
            )
        ingested = 0
        for event in passing:
            if (event.segment, event.offset) in refused_at:
                continue
            con.execute(
                """UPDATE ingest_quarantine SET retried_at = ?, resolved_at = ?
                   WHERE segment = ? AND line_offset = ?""",
                [now, now, event.segment, event.offset],
            )
            ingested += 1
        con.execute("COMMIT")
    except Exception:
        rollback(con)
        raise
    return RetryReport(
        ingested=ingested, still_refused=len(failing) + len(refused), not_retryable=not_retryable
    )
