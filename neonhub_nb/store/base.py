"""The store interface the product uses, whichever engine holds the trail.

Two backends implement :class:`Store`: :class:`~neonhub_nb.store.AuditStore` (one DuckDB
file, the default) and :class:`~neonhub_nb.store.pg.PgStore` (a team's shared PostgreSQL).
Both record through a local spool (a run is durable once a record method returns,
whatever the database is doing), ingest it in batches, and answer the same reads with
the same shapes: pandas DataFrames with naive-UTC times and JSON columns as text.
:func:`~neonhub_nb.store.backend.open_store` picks one from the settings.

What stays engine-specific: :meth:`Store.connect` hands out the engine's own connection
(DuckDB or psycopg) for code that writes engine SQL (the dashboard's and the exporter's
reads, maintenance); check :attr:`Store.backend` before using it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd

    from ..clock import Clock
    from ..models import Metric
    from ..records import DraftRecord, MetricRecord, ReviewState, RunRecord, ToolExecution
    from ..redact import Redactor
    from .ingest import IngestReport
    from .quarantine import QuarantineCounts, RetryReport
    from .queries import RunDetail
    from .reading import ReadNote

__all__ = ["Backend", "Backlog", "QueryObserver", "Store"]

Backend = Literal["duckdb", "postgresql"]
#: Called with ``(query name, seconds)`` after each timed read (the exporter's histogram).
QueryObserver = Callable[[str, float], None]


@dataclass(frozen=True)
class Backlog:
    """What this machine recorded that the store does not hold yet.

    ``events``: spooled lines past what was ingested; ``runs``: the ids of the runs they
    belong to (each once). Counted from the local spool alone, so it is known even when
    the database is away.
    """

    events: int = 0
    runs: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        """``{"waiting_events": N, "waiting_runs": M}`` for ``/health`` and the CLI."""
        return {"waiting_events": self.events, "waiting_runs": len(self.runs)}

    def describe(self) -> str:
        """One line for people: empty when nothing waits."""
        if not self.events:
            return ""
        return (
            f"{len(self.runs)} runs ({self.events} events) recorded on this machine are "
            "waiting in its spool and will land when the store takes them"
        )


@runtime_checkable
class Store(Protocol):
    """An audit store: record runs, review drafts, read the trail.

    Recording (``record_*``, ``review_draft``) appends to a local spool and returns in
    well under a millisecond; ingestion moves the spool into the database in the
    background, exactly once. Reads ingest first when this process records, so a
    process sees its own runs. Every failure is a :class:`~neonhub_nb.errors.StoreError`
    (or :class:`~neonhub_nb.errors.InvalidInputError` for bad input) with one line that
    names the store (a URL with its password masked) and never holds a credential.
    """

    read_only: bool
    redactor: Redactor
    clock: Clock
    #: Where the last read's answer came from (see :class:`~neonhub_nb.store.ReadNote`).
    last_read: ReadNote
    #: Receive ``(query name, seconds)`` for every timed read.
    query_observers: list[QueryObserver]
    #: Failed passes of the background ingester (it keeps going) and the last reason.
    ingest_failures: int
    last_ingest_error: str | None

    @property
    def backend(self) -> Backend:
        """``duckdb`` or ``postgresql``: which SQL :meth:`connect` speaks."""
        ...

    @property
    def label(self) -> str:
        """The store for messages: a file path, or a URL with its password masked."""
        ...

    @property
    def closed(self) -> bool: ...

    # ----------------------------------------------------------------- writing
    def record_run_started(self, run: RunRecord | Mapping[str, Any]) -> RunRecord:
        """Spool a run as it starts; returns it as stored (secrets redacted)."""
        ...

    def record_tool_execution(self, execution: ToolExecution) -> ToolExecution:
        """Spool one tool call; returns it as stored (secrets redacted)."""
        ...

    def record_run_finished(
        self,
        run: RunRecord | Mapping[str, Any],
        metrics: Sequence[MetricRecord | Metric] = (),
        draft: DraftRecord | Mapping[str, Any] | None = None,
    ) -> tuple[RunRecord, DraftRecord | None]:
        """Spool a finished run with its metrics and draft in one write."""
        ...

    def review_draft(
        self,
        draft_id: str,
        decision: str,
        reviewer: str,
        reason: str | None = None,
        *,
        title: str | None = None,
        content: str | None = None,
    ) -> ReviewState:
        """Append a review decision (checked against the draft's state); its new state."""
        ...

    # --------------------------------------------------------------- ingesting
    def flush(self, timeout: float | None = None, *, wait: bool = True) -> IngestReport:
        """Ingest everything spooled on this machine now; what the passes did."""
        ...

    def backlog(self) -> Backlog:
        """What this machine recorded that the store does not hold yet (no database
        needed)."""
        ...

    # ----------------------------------------------------------------- reading
    def connect(self, *, write: bool = False) -> AbstractContextManager[Any]:
        """The engine's own connection (DuckDB or psycopg), read-only unless ``write``."""
        ...

    def sql(
        self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        """Analysts' SQL (``?`` placeholders) on a read-only connection, as a DataFrame."""
        ...

    def runs(self, **filters: Any) -> pd.DataFrame:
        """Recent runs, newest first (filters of :func:`~neonhub_nb.store.queries.runs`)."""
        ...

    def run_detail(self, run_id: str) -> RunDetail:
        """One run with its tool executions, metrics and draft."""
        ...

    def drafts(self, status: str | None = None, limit: int = 50) -> pd.DataFrame:
        """Drafts, newest first."""
        ...

    def review_state(self, draft_id: str) -> ReviewState:
        """Where the review of a draft stands, derived from its events."""
        ...

    def review_trail(self, draft_id: str) -> pd.DataFrame:
        """Every review decision on a draft, in decision order."""
        ...

    def quarantine_counts(self) -> QuarantineCounts:
        """Lines in quarantine now and ever."""
        ...

    def quarantine(self, *, include_resolved: bool = False, limit: int = 100) -> pd.DataFrame:
        """Quarantined spool lines, oldest first."""
        ...

    def retry_quarantine(self) -> RetryReport:
        """Check every open quarantined line again and ingest those that pass now."""
        ...

    def schema_version(self) -> int:
        """The highest migration the store has."""
        ...

    def status(self) -> dict[str, Any]:
        """The store's state for ``/health``: runs, last run, schema version, quarantine,
        where the last read came from and what waits in the spool. Raises
        :class:`~neonhub_nb.errors.StoreError` when the store cannot be read."""
        ...

    # ---------------------------------------------------------------- closing
    def close(self, timeout: float = 10.0) -> None:
        """Stop the ingester and ingest what is left (the spool keeps what cannot be)."""
        ...

    def __enter__(self) -> Store: ...

    def __exit__(self, *exc: object) -> None: ...
