"""Checking one spooled line against the record it claims to be, before it is ingested.

A spool line is ``{"t": <event type>, "row": {...}}`` (runs also carry ``"rev"``). Each
is validated with the record model of its table (``records.py``): the same models, with
the same bounds, that the store accepts from callers. A line that passes becomes a
:class:`SpooledEvent` holding the validated record (times normalised to naive UTC); a
line that cannot be stored becomes a :class:`BadLine` with a one-line reason, for the
quarantine. Validation with the models was measured against Arrow casts with
``bench/bench_store.py --only checks`` (see docs/audit-store.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from ..records import (
    DraftRecord,
    MetricRecord,
    ReviewEvent,
    ReviewRecord,
    RunRecord,
    ToolExecution,
)
from ..redaction.helpers import safe_value

__all__ = [
    "EVENT_RECORDS",
    "EVENT_TABLES",
    "MAX_LINE_BYTES",
    "BadLine",
    "SpooledEvent",
    "check_line",
    "partial_line",
]

#: Event type in the spool -> the record its row must be.
EVENT_RECORDS: Mapping[str, type[BaseModel]] = {
    "run": RunRecord,
    "tool": ToolExecution,
    "metric": MetricRecord,
    "draft": DraftRecord,
    "review_event": ReviewEvent,
    "review": ReviewRecord,  # written by writers before review events; read as events
}
#: Event type -> the table its row lands in.
EVENT_TABLES: Mapping[str, str] = {
    "run": "agent_runs",
    "tool": "tool_executions",
    "metric": "agent_run_metrics",
    "draft": "content_drafts",
    "review_event": "review_events",
    "review": "review_events",
}
#: A line longer than this is quarantined unread: no record the product writes comes near
#: it (agent parameters and drafts are bounded far below), and ingestion must not stall
#: on one.
MAX_LINE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class SpooledEvent:
    """A line that passed its checks: the validated record and where it was read."""

    kind: str
    record: BaseModel
    segment: str
    offset: int
    rev: int = 0


@dataclass(frozen=True)
class BadLine:
    """A line the store cannot hold, and why (``field: rule`` or what is wrong)."""

    segment: str
    offset: int
    line: bytes
    reason: str
    event_type: str | None = None
    #: False for a partial last line (no newline): never a complete record.
    complete: bool = True


def partial_line(segment: str, offset: int, line: bytes) -> BadLine:
    """The unfinished last line of a writer that is gone."""
    return BadLine(
        segment,
        offset,
        line,
        "truncated: the line has no end (its writer stopped in the middle of writing it)",
        complete=False,
    )


def check_line(line: bytes, segment: str, offset: int) -> SpooledEvent | BadLine:
    """``line`` (without its newline) as a validated event, or why it cannot be stored."""
    if len(line) > MAX_LINE_BYTES:
        return BadLine(
            segment, offset, line, f"oversized: {len(line)} bytes (limit {MAX_LINE_BYTES})"
        )
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return BadLine(segment, offset, line, f"not JSON: {_first_line(str(exc))}")
    if not isinstance(event, dict) or not isinstance(event.get("row"), dict):
        return BadLine(
            segment, offset, line, 'not a spool event: expected {"t": TYPE, "row": {...}}'
        )
    raw_kind = event.get("t")
    kind = raw_kind if isinstance(raw_kind, str) else ""
    model = EVENT_RECORDS.get(kind)
    if model is None:
        known = ", ".join(EVENT_RECORDS)
        return BadLine(
            segment,
            offset,
            line,
            f"unknown table: event type {raw_kind!r} (known: {known})",
            event_type=str(raw_kind)[:64],
        )
    rev = event.get("rev", 0)
    if isinstance(rev, bool) or not isinstance(rev, int) or not 0 <= rev <= 1:
        return BadLine(segment, offset, line, f"rev: must be 0 or 1 (got {rev!r})", kind)
    try:
        record = model.model_validate(event["row"])
    except ValidationError as exc:
        return BadLine(segment, offset, line, _reason(EVENT_TABLES[kind], exc), kind)
    if isinstance(record, ReviewRecord):
        return SpooledEvent("review_event", record.as_event(), segment, offset)
    return SpooledEvent(kind, record, segment, offset, rev)


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else "unreadable"


_RULES = {
    "missing": "is required",
    "finite_number": "must be a finite number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "string_type": "must be text",
    "dict_type": "must be a JSON object",
    "list_type": "must be a list",
    "datetime_type": "must be an ISO 8601 time",
    "datetime_parsing": "must be an ISO 8601 time",
    "datetime_from_date_parsing": "must be an ISO 8601 time",
    "extra_forbidden": "is not a column of this table",
}


def _reason(table: str, exc: ValidationError) -> str:
    """``table.field: rule (got value)`` for the first broken rule."""
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"]) or "row"
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    if kind in _RULES:
        rule = _RULES[kind]
    elif kind == "string_too_long":
        rule = f"must be at most {ctx.get('max_length')} characters"
    elif kind == "string_too_short":
        rule = "must not be empty"
    elif kind == "greater_than_equal":
        rule = f"must be at least {ctx.get('ge')}"
    elif kind == "less_than_equal":
        rule = f"must be at most {ctx.get('le')}"
    elif kind == "literal_error":
        rule = f"must be one of {str(ctx.get('expected', '')).replace(' or ', ', ')}"
    else:
        rule = str(error.get("msg", "is invalid")).lower()
    got = "" if kind == "missing" else f" (got {safe_value(error.get('input'))})"
    return f"{table}.{field}: {rule}{got}"
