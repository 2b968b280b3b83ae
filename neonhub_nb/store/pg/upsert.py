"""One batch of spooled rows into PostgreSQL with its spool offsets: exactly once.

:func:`upsert_batch` writes the rows of one ingestion pass and advances the offsets of
the spool segments they were read from, in ONE transaction. The offsets rows are the
guard: each segment's row is locked first (in name order, so two ingesters never
deadlock) and moved from ``start`` to ``end`` only if it still says ``start``. If any
segment was already moved by another ingester (or a crash left it elsewhere), nothing is
written and the result names the committed offsets to re-read from. Rows are upserted
idempotently with the DuckDB store's rules: a finished run (``succeeded``, ``failed``,
``abandoned``) never goes back to running; a tool execution or draft is written once; a
metric keeps its latest value; a review applies only if it is not older than the last.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg

from ...errors import StoreError
from ...records import (
    DraftRecord,
    MetricRecord,
    ReviewEvent,
    ReviewRecord,
    RunRecord,
    ToolExecution,
    columns_of,
)

__all__ = [
    "COLUMNS",
    "LEASE_EXPIRED",
    "TERMINAL",
    "SegmentRange",
    "UpsertResult",
    "check_rows",
    "row_problem",
    "stage_row",
    "upsert_batch",
]

TERMINAL = ("succeeded", "failed", "abandoned")
#: How a run abandoned because its writer's lease expired begins its error. Such a run
#: was presumed gone, not seen to die: if its real end arrives later (its machine was
#: only cut off), that end replaces ``abandoned`` (see leases.py and docs/team.md).
LEASE_EXPIRED = "abandoned: writer lease expired"

_PG_TYPES = {
    "text": "text",
    "integer": "integer",
    "real": "double precision",
    "timestamp": "timestamptz",
    "json": "jsonb",
}
# Per table: column -> PostgreSQL type, derived from the records (records.py) exactly as
# the DuckDB ingester derives its staging columns; ``draft_reviews`` update content_drafts.
COLUMNS: dict[str, dict[str, str]] = {
    table: {column.name: _PG_TYPES[column.kind] for column in columns_of(record)}
    for table, record in (
        ("agent_runs", RunRecord),
        ("tool_executions", ToolExecution),
        ("agent_run_metrics", MetricRecord),
        ("content_drafts", DraftRecord),
        ("review_events", ReviewEvent),
        ("draft_reviews", ReviewRecord),
    )
}
_KEYS: dict[str, tuple[str, ...]] = {
    "agent_runs": ("run_id",),
    "tool_executions": ("execution_id",),
    "agent_run_metrics": ("run_id", "name"),
    "content_drafts": ("draft_id",),
    "review_events": ("event_id",),
    "draft_reviews": ("draft_id",),
}
_REQUIRED: dict[str, frozenset[str]] = {
    "agent_runs": frozenset({"run_id", "agent", "intent", "status", "mode", "started_at"}),
    "tool_executions": frozenset(
        {"execution_id", "run_id", "seq", "tool", "operation", "status", "started_at"}
    ),
    "agent_run_metrics": frozenset({"run_id", "name", "value"}),
    "content_drafts": frozenset({"draft_id", "run_id", "status", "created_at", "updated_at"}),
    "review_events": frozenset({"event_id", "draft_id", "decision", "reviewer", "decided_at"}),
    "draft_reviews": frozenset({"draft_id", "status", "reviewed_at"}),
}


@dataclass(frozen=True)
class SegmentRange:
    """Bytes ``[start, end)`` of one machine's spool segment, read for this batch."""

    machine: str
    segment: str
    start: int
    end: int

    @property
    def key(self) -> str:
        """The segment's row in ``spool_segments``: ``machine/segment``."""
        return f"{self.machine}/{self.segment}"

    def check(self) -> None:
        for name, value in (("machine", self.machine), ("segment", self.segment)):
            if not value or "/" in value or "\x00" in value:
                raise StoreError(f"offsets.{name}: must be non-empty, without '/' (got {value!r})")
        if not 0 <= self.start <= self.end:
            raise StoreError(
                f"offsets[{self.key}]: need 0 <= start <= end (got {self.start}, {self.end})"
            )


@dataclass(frozen=True)
class UpsertResult:
    """What one call did. ``committed`` False: nothing was written, because the segments in
    ``conflicts`` (key -> committed offset) were not where the batch started."""

    committed: bool
    conflicts: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows sent
    abandoned: int = 0


# ------------------------------------------------------------------ checking and staging
def _text_problem(value: str) -> str | None:
    return "PostgreSQL cannot store the NUL character (\\u0000)" if "\x00" in value else None


def _json_has_nul(value: Any) -> bool:
    # orjson writes NUL as \u0000: one pass in C clears almost every value. Text that
    # holds a backslash and "u0000" also matches, and takes the exact walk below.
    try:
        if b"\\u0000" not in orjson.dumps(value):
            return False
    except TypeError:  # keys orjson will not write: walk the value
        pass
    return _walk_has_nul(value)


def _walk_has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_walk_has_nul(k) or _walk_has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_walk_has_nul(v) for v in value)
    return False


def _stage(table: str, column: str, kind: str, value: Any) -> Any:
    """``value`` as it goes into the JSON document handed to ``jsonb_to_recordset``;
    raises ValueError with the rule it broke."""
    if value is None:
        return None
    if kind == "jsonb":
        # As in the DuckDB store: a string is JSON text, anything else is the value.
        parsed = orjson.loads(value) if isinstance(value, str) else value
        if _json_has_nul(parsed):
            raise ValueError("PostgreSQL cannot store the NUL character (\\u0000)")
        return parsed
    if kind == "timestamptz":
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        # Naive times are UTC, as everywhere in the audit store.
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.isoformat()
    if kind == "double precision":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number (got {type(value).__name__})")
        if not math.isfinite(value):
            raise ValueError(f"must be a finite number (got {value})")
        return value
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be an integer (got {type(value).__name__})")
        if not -(2**31) <= value < 2**31:
            raise ValueError(f"must fit in 32 bits (got {value})")
        return value
    if not isinstance(value, str):
        raise ValueError(f"must be text (got {type(value).__name__})")
    problem = _text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _label(table: str, row: Mapping[str, Any]) -> str:
    keys = ", ".join(f"{k}={row.get(k)!r}" for k in _KEYS[table])
    return f"{table}[{keys}]"


def _stage_row(table: str, row: Mapping[str, Any]) -> dict[str, Any]:
    staged: dict[str, Any] = {}
    for column, kind in COLUMNS[table].items():
        value = row.get(column)
        if value is None and column in _REQUIRED[table]:
            raise StoreError(f"{_label(table, row)}.{column}: is required")
        try:
            staged[column] = _stage(table, column, kind, value)
        except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
            raise StoreError(f"{_label(table, row)}.{column}: {exc}") from None
    return staged


def row_problem(table: str, row: Mapping[str, Any]) -> str | None:
    """Why PostgreSQL could not hold ``row`` of ``table`` (``table[key].column: rule``),
    or None when it can."""
    try:
        _stage_row(table, row)
    except StoreError as exc:
        return str(exc)
    return None


def stage_row(table: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` of ``table`` as :func:`upsert_batch` sends it (every column of
    :data:`COLUMNS`: JSON as values, times as ISO 8601 UTC text), checked on the way.

    An ingester that checks its rows this way hands the result to ``upsert_batch(...,
    staged=True)``, so no row is checked twice. Raises :class:`StoreError` (one line:
    ``table[key].column: rule``) for a row PostgreSQL cannot hold.
    """
    if table not in COLUMNS:
        raise StoreError(f"rows: unknown table {table!r}; known: {', '.join(COLUMNS)}")
    return _stage_row(table, row)


def check_rows(rows: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[str]:
    """One line per row PostgreSQL could not hold (``table[key].column: rule``), so an
    ingester can set those rows aside before :func:`upsert_batch`; [] when all fit."""
    problems: list[str] = []
    for table, table_rows in rows.items():
        if table not in COLUMNS:
            problems.append(f"rows: unknown table {table!r}; known: {', '.join(COLUMNS)}")
            continue
        for row in table_rows:
            try:
                _stage_row(table, row)
            except StoreError as exc:
                problems.append(str(exc))
    return problems


def _latest_runs(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    # One statement may not update a row twice: keep one row per run, never letting an
    # unfinished row replace a finished one (events may arrive in any order).
    chosen: dict[Any, Mapping[str, Any]] = {}
    for row in rows:
        held = chosen.get(row.get("run_id"))
        if held is None or held.get("status") not in TERMINAL or row.get("status") in TERMINAL:
            chosen[row.get("run_id")] = row
    return list(chosen.values())


def _merged_reviews(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    # As the DuckDB ingester: the latest decision per draft, keeping an earlier edit.
    merged: dict[Any, Mapping[str, Any]] = {}
    for row in sorted(rows, key=lambda r: str(r.get("reviewed_at"))):
        older = merged.get(row.get("draft_id"))
        if older is None:
            merged[row.get("draft_id")] = row
        else:
            merged[row.get("draft_id")] = {
                **row,
                "title": row.get("title") or older.get("title"),
                "content": row.get("content") or older.get("content"),
            }
    return list(merged.values())


def _last_by_key(table: str, rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    chosen = {tuple(row.get(k) for k in _KEYS[table]): row for row in rows}
    return list(chosen.values())


# ------------------------------------------------------------------------------ writing
def _recordset(table: str) -> str:
    columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS[table].items())
    return f"jsonb_to_recordset(%s::jsonb) AS r({columns})"


def _names(table: str) -> str:
    return ", ".join(COLUMNS[table])


_RUN_UPDATES = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS["agent_runs"] if c != "run_id")
_TERMINAL_SQL = "(" + ", ".join(f"'{s}'" for s in TERMINAL) + ")"
_STATEMENTS = {
    "agent_runs": f"""INSERT INTO agent_runs ({_names("agent_runs")})
        SELECT * FROM {_recordset("agent_runs")}
        ON CONFLICT (run_id) DO UPDATE SET {_RUN_UPDATES}
        WHERE agent_runs.status NOT IN {_TERMINAL_SQL}
           OR (agent_runs.status = 'abandoned' AND excluded.status IN ('succeeded', 'failed')
               AND starts_with(agent_runs.error, '{LEASE_EXPIRED}'))""",
    "tool_executions": f"""INSERT INTO tool_executions ({_names("tool_executions")})
        SELECT * FROM {_recordset("tool_executions")} ON CONFLICT DO NOTHING""",
    "agent_run_metrics": f"""INSERT INTO agent_run_metrics ({_names("agent_run_metrics")})
        SELECT * FROM {_recordset("agent_run_metrics")}
        ON CONFLICT (run_id, name) DO UPDATE SET value = excluded.value, unit = excluded.unit""",
    "content_drafts": f"""INSERT INTO content_drafts ({_names("content_drafts")})
        SELECT * FROM {_recordset("content_drafts")} ON CONFLICT DO NOTHING""",
    "review_events": f"""INSERT INTO review_events ({_names("review_events")})
        SELECT * FROM {_recordset("review_events")} ON CONFLICT DO NOTHING""",
    "draft_reviews": f"""UPDATE content_drafts AS d SET
            status = r.status, reviewer = r.reviewer, review_note = r.review_note,
            reviewed_at = r.reviewed_at, updated_at = r.reviewed_at,
            title = coalesce(r.title, d.title), content = coalesce(r.content, d.content)
        FROM {_recordset("draft_reviews")}
        WHERE d.draft_id = r.draft_id
          AND (d.reviewed_at IS NULL OR r.reviewed_at >= d.reviewed_at)""",
}
# Drafts before their reviews: a review in the same batch finds its draft.
_ORDER = (
    "agent_runs",
    "tool_executions",
    "agent_run_metrics",
    "content_drafts",
    "review_events",
    "draft_reviews",
)


class _ConflictError(Exception):
    def __init__(self, committed: dict[str, int]) -> None:
        self.committed = committed


def _advance_offsets(
    con: psycopg.Connection[Any], ranges: Sequence[SegmentRange], now: datetime
) -> None:
    for part in sorted(ranges, key=lambda r: r.key):
        con.execute(
            "INSERT INTO spool_segments VALUES (%s, 0, %s) ON CONFLICT (segment) DO NOTHING",
            [part.key, now],
        )
        # Waits for a racing ingester's transaction; then sees its committed offset.
        moved = con.execute(
            """UPDATE spool_segments SET ingested_bytes = %s, updated_at = %s
               WHERE segment = %s AND ingested_bytes = %s RETURNING segment""",
            [part.end, now, part.key, part.start],
        ).fetchone()
        if moved is None:
            found = con.execute(
                "SELECT segment, ingested_bytes FROM spool_segments WHERE segment = ANY(%s)",
                [[r.key for r in ranges]],
            ).fetchall()
            current = {str(k): int(v) for k, v in found}
            raise _ConflictError(
                {r.key: current.get(r.key, 0) for r in ranges if current.get(r.key, 0) != r.start}
            )


def upsert_batch(
    con: psycopg.Connection[Any],
    rows: Mapping[str, Sequence[Mapping[str, Any]]],
    offsets: Sequence[SegmentRange] = (),
    *,
    now: datetime,
    abandon_writers: Sequence[str] = (),
    then: Callable[[psycopg.Connection[Any]], None] | None = None,
    staged: bool = False,
) -> UpsertResult:
    """Write ``rows`` and advance ``offsets`` in one transaction, exactly once.

    ``rows`` maps a table (``agent_runs``, ``tool_executions``, ``agent_run_metrics``,
    ``content_drafts``, ``review_events``, or ``draft_reviews`` for the review lines of
    older writers) to plain dicts with the
    columns of :data:`COLUMNS` (JSON columns take values or JSON text; timestamps take
    datetimes or ISO 8601 text, naive meaning UTC; missing columns are NULL). Runs of
    ``abandon_writers`` still queued or running become ``abandoned`` in the same
    transaction. ``now`` (UTC) stamps the offsets and abandoned runs. ``then(con)``, when
    given, runs last inside the same transaction (the ingester's quarantine, leases and
    roll-ups): if it raises, nothing is written. ``staged=True`` says every row comes
    from :func:`stage_row` already (checked and converted), so it is sent as it is.

    ``con`` must not be inside a transaction. Returns ``committed=False`` with the
    conflicting segments' committed offsets when another ingester got there first;
    nothing is written then. Raises :class:`~neonhub_nb.errors.StoreError`, writing
    nothing, for a row PostgreSQL cannot hold (one line: ``table[key].column: rule``; see
    :func:`check_rows`), bad offsets, or a database error.
    """
    for part in offsets:
        part.check()
    if len({part.key for part in offsets}) != len(offsets):
        raise StoreError("offsets: one range per segment and batch")
    unknown = set(rows) - set(COLUMNS)
    if unknown:
        raise StoreError(f"rows: unknown table {sorted(unknown)}; known: {', '.join(COLUMNS)}")
    documents: dict[str, bytes] = {}
    sent: dict[str, int] = {}
    for table in _ORDER:
        table_rows = rows.get(table) or ()
        if not table_rows:
            continue
        if table == "agent_runs":
            unique = _latest_runs(table_rows)
        elif table == "draft_reviews":
            unique = _merged_reviews(table_rows)
        else:
            unique = _last_by_key(table, table_rows)
        documents[table] = orjson.dumps(
            unique if staged else [_stage_row(table, row) for row in unique]
        )
        sent[table] = len(unique)
    stamp = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    abandoned = 0
    try:
        with con.transaction():
            _advance_offsets(con, offsets, stamp)
            for table, document in documents.items():
                con.execute(_STATEMENTS[table], [document.decode()])
            if abandon_writers:
                cursor = con.execute(
                    """UPDATE agent_runs SET status = 'abandoned', finished_at = %s,
                           error = 'abandoned: the process that ran it exited before finishing'
                       WHERE status IN ('queued', 'running') AND writer_id = ANY(%s)""",
                    [stamp, list(abandon_writers)],
                )
                abandoned = cursor.rowcount
            if then is not None:
                then(con)
    except _ConflictError as conflict:
        return UpsertResult(committed=False, conflicts=conflict.committed)
    except psycopg.Error as exc:
        text = " ".join(str(exc).split())
        raise StoreError(
            f"postgresql upsert failed ({exc.sqlstate or 'no sqlstate'}): {text}"
        ) from exc
    return UpsertResult(committed=True, rows=sent, abandoned=abandoned)
