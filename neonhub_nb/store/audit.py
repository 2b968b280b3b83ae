"""The audit store: every run, tool call, metric and draft, in one DuckDB file.

Writes go to this process's spool (``spool.py``) and return in microseconds; a background
thread ingests them into DuckDB in batches (``ingest.py``) while holding the file only
for milliseconds. Reads open the file briefly. Readers in a writing process ingest first,
so they always see their own runs. See ``docs/audit-store.md`` for the design.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from ..clock import Clock, SystemClock
from ..config import Settings
from ..errors import StoreError
from ..models import Metric
from ..records import DraftRecord, MetricRecord, ReviewRecord, RunRecord, ToolExecution
from ..redact import Redactor
from .connection import ingest_turn, open_duckdb, readers_waiting
from .ingest import IngestReport, ingest_segments
from .schema import apply_migrations, schema_version
from .spool import SpoolWriter, list_segments

if TYPE_CHECKING:
    import pandas as pd

    from .queries import RunDetail

__all__ = ["AuditStore"]

QueryObserver = Callable[[str, float], None]
R = TypeVar("R", bound=BaseModel)


class AuditStore:
    """Handle on one audit store file.

    ``read_only=True`` (the dashboard) never writes, never ingests and never migrates:
    it only opens the file read-only, briefly, for each query.

    >>> store = AuditStore(Path("data/neonhub.duckdb"))      # doctest: +SKIP
    >>> store.runs(limit=5)                                   # doctest: +SKIP
    """

    def __init__(
        self,
        path: Path | str,
        *,
        read_only: bool = False,
        redactor: Redactor | None = None,
        clock: Clock | None = None,
        fsync: bool = False,
        ingest_interval: float = 0.5,
        background: bool = True,
        lock_timeout: float = 30.0,
        spool_dir: Path | None = None,
    ) -> None:
        self.path = Path(path).absolute()
        self.read_only = read_only
        self.redactor = redactor or Redactor()
        self.clock: Clock = clock or SystemClock()
        self.spool_dir = spool_dir or self.path.with_name(self.path.name + ".spool")
        self.ingest_interval = ingest_interval
        self.background = background
        self.lock_timeout = lock_timeout
        self.query_observers: list[QueryObserver] = []
        self._spool = SpoolWriter(self.spool_dir, fsync=fsync)
        self._io_lock = threading.RLock()
        self._flushed_bytes = 0
        self._thread: threading.Thread | None = None
        self._thread_pid = -1
        self._stop = threading.Event()
        self._closed = False
        self._migrated = False
        if not read_only:
            # Ingest what is left when the interpreter exits (unregistered by close()).
            atexit.register(self._close_at_exit)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> AuditStore:
        kwargs.setdefault("redactor", Redactor.from_environ(settings.environ))
        kwargs.setdefault("ingest_interval", settings.ingest_interval_s)
        return cls(settings.db_path, **kwargs)

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "read-write"
        return f"AuditStore({str(self.path)!r}, {mode})"

    # ----------------------------------------------------------------- writing
    def _append(self, events: list[dict[str, Any]], *, sync: bool = False) -> None:
        if self.read_only:
            raise StoreError(f"{self!r} is read-only: it cannot record runs")
        if self._closed:
            raise StoreError(f"{self!r} is closed")
        self._spool.append(events, sync=sync)
        self._ensure_ingester()

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
        clean, found = self._redact(_as(RunRecord, run))
        clean = clean.model_copy(
            update={"redacted_fields": sorted(set(found)), "writer_id": self._writer_id()}
        )
        self._append([{"t": "run", "rev": 0, "row": clean.model_dump()}])
        return clean

    def record_tool_execution(self, execution: ToolExecution) -> ToolExecution:
        """Spool one tool call (secrets removed); returns the redacted execution."""
        clean, _ = self._redact(_as(ToolExecution, execution))
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
        run = _as(RunRecord, run)
        metrics = [
            m if isinstance(m, MetricRecord) else MetricRecord(run_id=run.run_id, **m.model_dump())
            for m in metrics
        ]
        draft = _as(DraftRecord, draft) if draft is not None else None
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

    def review_draft(
        self,
        draft_id: str,
        status: str,
        reviewer: str,
        note: str | None = None,
        *,
        title: str | None = None,
        content: str | None = None,
    ) -> None:
        """Record a review decision (``approved``, ``rejected`` or ``draft`` after edits)."""
        from ..models import validate_review

        validate_review(status, reviewer, note)
        review = ReviewRecord(
            draft_id=draft_id,
            status=status,
            reviewer=reviewer.strip(),
            review_note=note,
            reviewed_at=self.clock.now(),
            title=title,
            content=content,
        )
        clean, _ = self._redact(review)
        self._append([{"t": "review", "row": clean.model_dump()}], sync=True)

    def _writer_id(self) -> str:
        return self._spool.ensure_open()

    # --------------------------------------------------------------- ingesting
    def _ensure_ingester(self) -> None:
        if not self.background or (self._thread is not None and self._thread_pid == os.getpid()):
            return
        self._thread_pid = os.getpid()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._ingest_loop, name=f"neonhub-ingest-{self.path.name}", daemon=True
        )
        self._thread.start()

    def _pending(self) -> bool:
        if self._spool.bytes_written != self._flushed_bytes:
            return True
        own = self._spool.path.name if self._spool.path else None
        return any(s.name != own for s in list_segments(self.spool_dir))

    def _ingest_loop(self) -> None:
        while not self._stop.wait(self.ingest_interval):
            if not self._pending():
                continue
            try:
                self.flush(timeout=max(self.ingest_interval, 0.2), wait=False)
            except StoreError:
                continue  # another process holds the file; the next tick tries again

    def flush(self, timeout: float | None = None, *, wait: bool = True) -> IngestReport:
        """Ingest every spooled event (this process's and dead processes') into DuckDB now.

        One process ingests at a time (an ``flock`` on ``<store>.ingest``): whoever holds it
        takes everyone's spool, so with ``wait=False`` (the background thread) a busy lock
        just means someone else is doing the work.
        """
        if self.read_only:
            return IngestReport()
        with (
            self._io_lock,
            ingest_turn(self.path, wait=wait, timeout=timeout or self.lock_timeout) as mine,
        ):
            if not mine:
                return IngestReport()
            written = self._spool.bytes_written
            total = IngestReport(truncated=True)
            while total.truncated:
                with self._open(read_only=False, timeout=timeout) as con:
                    total = _add_reports(total, self._ingest_on(con))
            self._flushed_bytes = written
            return total

    def _ingest_on(self, con: Any) -> IngestReport:
        """Bounded ingestion passes (one transaction each) on ``con``, until the spool is
        in or a reader is waiting: then the caller closes the connection so the reader
        goes next (see connection.py). ``truncated`` says whether anything is left."""
        total = IngestReport()
        while True:
            report = ingest_segments(con, self.spool_dir, self.clock.now())
            total = _add_reports(total, report)
            if not report.truncated or readers_waiting(self.path):
                return total

    @contextmanager
    def _open(self, *, read_only: bool, timeout: float | None = None) -> Iterator[Any]:
        con = open_duckdb(self.path, read_only=read_only, timeout=timeout or self.lock_timeout)
        try:
            if not read_only and not self._migrated:
                apply_migrations(con)
                self._migrated = True
            yield con
        finally:
            con.close()

    @contextmanager
    def connect(self) -> Iterator[Any]:
        """A short-lived DuckDB connection showing every run recorded so far.

        Hold it only for a few queries: while it is open, other processes wait to ingest.
        """
        with self._io_lock:
            if self.read_only:
                with self._open(read_only=True) as con:
                    yield con
                return
            # Ingest on the connection the caller then reads from (one open instead of
            # two). If a waiting reader interrupted a big backlog, flush() finishes it.
            with ingest_turn(self.path, wait=True, timeout=self.lock_timeout):
                written = self._spool.bytes_written
                with self._open(read_only=False) as con:
                    if not self._ingest_on(con).truncated:
                        self._flushed_bytes = written
                        yield con
                        return
            self.flush()
            with self._open(read_only=False) as con:
                yield con

    def schema_version(self) -> int:
        with self.connect() as con:
            return schema_version(con)

    # ----------------------------------------------------------------- reading
    def sql(
        self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        """Run read-only SQL and return a pandas DataFrame."""
        from .queries import timed_df

        with self.connect() as con:
            return timed_df(con, query, params, self.query_observers, "sql")

    def runs(self, **filters: Any) -> pd.DataFrame:
        """Recent runs, newest first; see :func:`neonhub_nb.store.queries.runs`."""
        from . import queries

        with self.connect() as con:
            return queries.runs(con, observers=self.query_observers, **filters)

    def run_detail(self, run_id: str) -> RunDetail:
        """One run with its tool executions, metrics and draft."""
        from . import queries

        with self.connect() as con:
            return queries.run_detail(con, run_id, observers=self.query_observers)

    def aggregate(self, name: str, **kwargs: Any) -> pd.DataFrame:
        """A dashboard aggregate: ``counts_by_agent_status``, ``duration_percentiles`` or
        ``runs_per_bucket`` (with ``since``/``until``; ``bucket`` for the last)."""
        from . import queries

        functions: dict[str, Callable[..., pd.DataFrame]] = {
            "counts_by_agent_status": queries.counts_by_agent_status,
            "duration_percentiles": queries.duration_percentiles,
            "runs_per_bucket": queries.runs_per_bucket,
        }
        if name not in functions:
            raise StoreError(f"aggregate: unknown {name!r}; known: {', '.join(functions)}")
        with self.connect() as con:
            frame: pd.DataFrame = functions[name](con, observers=self.query_observers, **kwargs)
            return frame

    def drafts(self, status: str | None = None, limit: int = 50) -> pd.DataFrame:
        from . import queries

        with self.connect() as con:
            return queries.drafts(con, status=status, limit=limit, observers=self.query_observers)

    # ------------------------------------------------------------------ closing
    def close(self, timeout: float = 10.0) -> None:
        """Stop the ingester and ingest what is left (best effort: the spool keeps it)."""
        if self._closed:
            return
        self._stop.set()
        if self._thread is not None and self._thread_pid == os.getpid():
            self._thread.join(timeout=timeout)
        own_segment = self._spool.path
        pending = not self.read_only and (
            self._pending() or (own_segment is not None and own_segment.exists())
        )
        # Release the segment first: an unlocked segment is ingested *and* removed.
        self._spool.close()
        if pending:
            # On failure the events stay spooled (durable); the next ingester takes them.
            with contextlib.suppress(StoreError):
                self.flush(timeout=timeout)
        self._closed = True
        if not self.read_only:
            atexit.unregister(self._close_at_exit)

    def _close_at_exit(self) -> None:
        self.close(timeout=5.0)

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _as(model: type[R], value: R | Mapping[str, Any]) -> R:
    return value if isinstance(value, model) else model.model_validate(value)


def _add_reports(first: IngestReport, second: IngestReport) -> IngestReport:
    return IngestReport(
        segments_read=first.segments_read + second.segments_read,
        events=first.events + second.events,
        runs=first.runs + second.runs,
        tool_executions=first.tool_executions + second.tool_executions,
        abandoned=first.abandoned + second.abandoned,
        segments_deleted=first.segments_deleted + second.segments_deleted,
        bad_lines=first.bad_lines + second.bad_lines,
        dead_writers=sorted({*first.dead_writers, *second.dead_writers}),
        truncated=second.truncated,
    )
