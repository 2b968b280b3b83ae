"""Recording, shared by both backends: redact, then append to this process's spool.

The record methods of :class:`~neonhub_nb.store.AuditStore` and
:class:`~neonhub_nb.store.pg.PgStore` are the same: a record is validated, its secrets are
replaced, and it is appended to the process's spool segment in one write, which is where
the trail's durability comes from. Only what happens after (ingestion into DuckDB or
PostgreSQL) differs, so each store provides ``_append`` and ``_writer_id``.

Every run passes here seven times (its start, its tool calls, its end), so the path is
kept short: a record is serialized once, and those bytes are both what the redactor's
quick check scans and what the spool receives. Only a line the check flags (a possible
secret: a token shape, a known credential, a word such as "password") takes the full
redaction walk and is serialized again from the cleaned record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from ..errors import StoreError
from ..models import Metric
from ..records import DraftRecord, MetricRecord, RunRecord, ToolExecution
from .spool import encode_row, event_head

if TYPE_CHECKING:
    from ..redact import Redactor

__all__ = ["RecordingMethods", "as_record"]

R = TypeVar("R", bound=BaseModel)

_RUN_STARTED = event_head("run", rev=0)
_RUN_FINISHED = event_head("run", rev=1)
_TOOL = event_head("tool")
_METRIC = event_head("metric")
_DRAFT = event_head("draft")


class RecordingMethods:
    """``record_run_started``, ``record_tool_execution``, ``record_run_finished``."""

    if TYPE_CHECKING:
        redactor: Redactor

        def _append(self, data: bytes, *, sync: bool = False) -> None: ...

        def _writer_id(self) -> str: ...

    def _redact(self, record: R) -> tuple[R, list[str]]:
        """``record`` with every secret in every text field replaced, and their paths."""
        clean, found = self.redactor.redact(record.model_dump())
        if not found:
            return record, found
        return type(record).model_construct(**clean), found

    def _row_line(self, head: bytes, row: dict[str, Any]) -> bytes:
        """One spool line (see ``spool.encode_row``); a value JSON cannot hold is refused
        in one line."""
        try:
            return encode_row(head, row)
        except TypeError as exc:  # entry checks catch these first
            raise StoreError(f"{self!r}: cannot record: {exc}") from None

    def _clean_line(
        self, record: R, head: bytes, extra: dict[str, Any] | None = None
    ) -> tuple[R, list[str], bytes]:
        """``(record as stored, redacted paths, its spool line)``.

        ``extra`` (fields the store sets: ``writer_id``, ``redacted_fields``) goes into
        the row after redaction; ``redacted_fields`` there is widened by the paths found.
        """
        # The fields as they are (no model_dump copy): records hold plain values, and
        # their dicts are only read here.
        fields = record.__dict__
        line = self._row_line(head, fields if extra is None else {**fields, **extra})
        if not self.redactor.scanner.may_contain(line):
            return record, [], line
        clean_row, found = self.redactor.redact(record.model_dump())
        if not found:
            return record, [], line
        if extra is not None:
            widened = sorted(set(found) | set(extra.get("redacted_fields", ())))
            clean_row = {**clean_row, **extra, "redacted_fields": widened}
        return type(record).model_construct(**clean_row), found, self._row_line(head, clean_row)

    def _as_run(self, run: RunRecord | Mapping[str, Any], writer_id: str) -> RunRecord:
        """``run`` as a record; a mapping is validated with this process's writer id."""
        if isinstance(run, RunRecord):
            return run
        return RunRecord.model_validate({**run, "writer_id": writer_id})

    def _run_line(self, run: RunRecord | Mapping[str, Any], head: bytes) -> tuple[RunRecord, bytes]:
        writer_id = self._writer_id()
        run = self._as_run(run, writer_id)
        paths = sorted(set(run.redacted_fields)) if run.redacted_fields else []
        extra = {"redacted_fields": paths, "writer_id": writer_id}
        clean, found, line = self._clean_line(run, head, extra)
        # The slow path built the stored record with the extras; else copy only if they
        # change it (a finished run copied from its stored start already has them).
        if not found and (run.writer_id != writer_id or run.redacted_fields != paths):
            clean = clean.model_copy(update=extra)
        return clean, line

    def _metric_row(self, run_id: str, metric: MetricRecord | Metric) -> dict[str, Any]:
        """A metric's spool row, its name and unit redacted. A Metric already holds to
        MetricRecord's rules, so it needs no second validation."""
        row = (
            metric.__dict__
            if isinstance(metric, MetricRecord)
            else {"run_id": run_id, **metric.__dict__}
        )
        label = self.redactor.label
        name, unit = label(row["name"]), label(row["unit"])
        if name == row["name"] and unit == row["unit"]:
            return row
        return {**row, "name": name, "unit": unit}

    def record_run_started(self, run: RunRecord | Mapping[str, Any]) -> RunRecord:
        """Spool a run as it starts; returns it as stored (secrets redacted).

        A mapping is validated into a :class:`RunRecord` first (a bad field raises).
        """
        clean, line = self._run_line(run, _RUN_STARTED)
        self._append(line)
        return clean

    def record_tool_execution(self, execution: ToolExecution) -> ToolExecution:
        """Spool one tool call (secrets removed); returns the redacted execution."""
        clean, _, line = self._clean_line(as_record(ToolExecution, execution), _TOOL)
        self._append(line)
        return clean

    def record_run_finished(
        self,
        run: RunRecord | Mapping[str, Any],
        metrics: Sequence[MetricRecord | Metric] = (),
        draft: DraftRecord | Mapping[str, Any] | None = None,
    ) -> tuple[RunRecord, DraftRecord | None]:
        """Spool a finished run with its metrics and draft in one write (all or nothing).

        Returns the run and draft as stored (secrets redacted), for the caller to hand
        back to the user: what a notebook shows is what the audit store holds. Mappings
        are validated into records first; a :class:`Metric` is taken as the run's.
        """
        # Everything is validated before the one write: a bad part spools nothing.
        clean, line = self._run_line(run, _RUN_FINISHED)
        draft = as_record(DraftRecord, draft) if draft is not None else None
        lines = [line]
        lines += [self._row_line(_METRIC, self._metric_row(clean.run_id, m)) for m in metrics]
        clean_draft = None
        if draft is not None:
            clean_draft, _, draft_line = self._clean_line(draft, _DRAFT)
            lines.append(draft_line)
        # With fsync on, syncing here also syncs the run's earlier events (same file).
        self._append(b"".join(lines), sync=True)
        return clean, clean_draft


def as_record(model: type[R], value: R | Mapping[str, Any]) -> R:
    """``value`` as a ``model`` record (a mapping is validated; a bad field raises)."""
    return value if isinstance(value, model) else model.model_validate(value)
