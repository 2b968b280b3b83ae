"""Recording, shared by both backends: redact, then append to this process's spool.

The record methods of :class:`~neonhub_nb.store.AuditStore` and
:class:`~neonhub_nb.store.pg.PgStore` are the same: a record is validated, its secrets are
replaced, and it is appended to the process's spool segment in one write, which is where
the trail's durability comes from. Only what happens after (ingestion into DuckDB or
PostgreSQL) differs, so each store provides ``_append`` and ``_writer_id``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from ..models import Metric
from ..records import DraftRecord, MetricRecord, RunRecord, ToolExecution

if TYPE_CHECKING:
    from ..redact import Redactor

__all__ = ["RecordingMethods", "as_record"]

R = TypeVar("R", bound=BaseModel)


class RecordingMethods:
    """``record_run_started``, ``record_tool_execution``, ``record_run_finished``."""

    if TYPE_CHECKING:
        redactor: Redactor

        def _append(self, events: list[dict[str, Any]], *, sync: bool = False) -> None: ...

        def _writer_id(self) -> str: ...

    def _redact(self, record: R) -> tuple[R, list[str]]:
        """``record`` with every secret in every text field replaced, and their paths."""
        clean, found = self.redactor.redact(record.model_dump())
        if not found:
            return record, found
        return type(record).model_construct(**clean), found

    def record_run_started(self, run: RunRecord | Mapping[str, Any]) -> RunRecord:
        """Spool a run as it starts; returns it as stored (secrets redacted).

        A mapping is validated into a :class:`RunRecord` first (a bad field raises).
        """
        clean, found = self._redact(as_record(RunRecord, run))
        clean = clean.model_copy(
            update={"redacted_fields": sorted(set(found)), "writer_id": self._writer_id()}
        )
        self._append([{"t": "run", "rev": 0, "row": clean.model_dump()}])
        return clean

    def record_tool_execution(self, execution: ToolExecution) -> ToolExecution:
        """Spool one tool call (secrets removed); returns the redacted execution."""
        clean, _ = self._redact(as_record(ToolExecution, execution))
        self._append([{"t": "tool", "row": clean.model_dump()}])
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
        run = as_record(RunRecord, run)
        metrics = [
            m if isinstance(m, MetricRecord) else MetricRecord(run_id=run.run_id, **m.model_dump())
            for m in metrics
        ]
        draft = as_record(DraftRecord, draft) if draft is not None else None
        clean, found = self._redact(run)
        clean = clean.model_copy(
            update={
                "redacted_fields": sorted(set(found) | set(run.redacted_fields)),
                "writer_id": self._writer_id(),
            }
        )
        events: list[dict[str, Any]] = [{"t": "run", "rev": 1, "row": clean.model_dump()}]
        events += [{"t": "metric", "row": m.model_dump()} for m in metrics]
        clean_draft = None
        if draft is not None:
            clean_draft, _ = self._redact(draft)
            events.append({"t": "draft", "row": clean_draft.model_dump()})
        # With fsync on, syncing here also syncs the run's earlier events (same file).
        self._append(events, sync=True)
        return clean, clean_draft


def as_record(model: type[R], value: R | Mapping[str, Any]) -> R:
    """``value`` as a ``model`` record (a mapping is validated; a bad field raises)."""
    return value if isinstance(value, model) else model.model_validate(value)
