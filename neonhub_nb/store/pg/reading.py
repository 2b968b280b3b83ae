"""The team store's reads, as methods of :class:`~neonhub_nb.store.pg.PgStore`.

A read in a process that records pushes this machine's spool first (waiting at most
``read_wait``), so it sees its own runs; then it runs on one kept, read-only session,
reconnecting once if the server restarted meanwhile. When the server is away a read
fails at once (or after ``connect_timeout``), in one line that names the server with its
password masked and says how many runs wait in the local spool. When the spool could not
all be pushed first, :attr:`last_read` says so and counts what waits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg

from ...errors import InvalidInputError, StoreError
from ..base import Backlog, QueryObserver
from ..ingest import IngestReport
from ..reading import ReadNote
from ..recognise import one_line
from . import ingest, queries
from .migrations import schema_version
from .session import away_error, is_connection_error, open_session, read_frame
from .url import PgUrl

if TYPE_CHECKING:
    import pandas as pd

    from ...clock import Clock
    from ...records import ReviewState
    from ..quarantine import QuarantineCounts, RetryReport
    from ..queries import RunDetail

__all__ = ["READ_WORK_MEM", "PgReads"]

#: Memory per sort or hash of the kept read session (one per dashboard or exporter).
READ_WORK_MEM = "64MB"

T = TypeVar("T")
Connection = psycopg.Connection[Any]


class PgReads:
    """Reads over one kept read-only session, pushing this machine's spool first."""

    if TYPE_CHECKING:
        url: PgUrl
        read_only: bool
        clock: Clock
        last_read: ReadNote
        query_observers: list[QueryObserver]
        connect_timeout: float
        read_wait: float

        @property
        def label(self) -> str: ...

        def flush(self, timeout: float | None = None, *, wait: bool = True) -> IngestReport: ...

        def backlog(self) -> Backlog: ...

        def _session(self, *, write: bool) -> AbstractContextManager[Connection]: ...

    def __init__(self) -> None:
        self._read_lock = threading.RLock()
        self._read_con: Connection | None = None

    # ------------------------------------------------------------ the session
    def _read_connection(self) -> Connection:
        con = self._read_con
        if con is None or con.closed or con.broken:
            con = self._read_con = open_session(
                self.url, autocommit=True, read_only=True, connect_timeout=self.connect_timeout
            )
            # The dashboard's exact percentiles sort a period's durations (300,000 at a
            # million runs): at the server's default 4 MB that sort spills to disk.
            con.execute(f"SET work_mem = '{READ_WORK_MEM}'")
        return con

    def _close_reads(self) -> None:
        with self._read_lock:
            con, self._read_con = self._read_con, None
        if con is not None:
            con.close()

    def _read(self, work: Callable[[Connection], T]) -> T:
        """``work`` on the read session after pushing the spool; one line when the
        server is away."""
        reason = self._push_first()
        with self._read_lock:
            for attempt in (1, 2):
                try:
                    result = work(self._read_connection())
                    break
                except psycopg.Error as exc:
                    self._read_con = None  # broken: a new session next time
                    if attempt == 2 or not is_connection_error(exc):
                        raise self._away(away_error(self.url, exc)) from None
                except StoreError as exc:
                    if "cannot connect to" in str(exc):
                        raise self._away(exc) from None
                    raise
        self._note(reason)
        return result

    def _push_first(self) -> str | None:
        if self.read_only:
            return None
        try:
            self.flush(timeout=self.read_wait, wait=True)
        except StoreError as exc:  # the read says it; a server away fails the read too
            return one_line(exc)
        return None

    def _away(self, exc: StoreError) -> StoreError:
        waiting = self.backlog().describe()
        return StoreError(f"{exc}; {waiting}" if waiting else str(exc))

    def _note(self, reason: str | None) -> None:
        waiting = self.backlog()
        if not waiting.events:
            self.last_read = ReadNote()
            return
        why = reason or "this machine's spool is still being pushed"
        self.last_read = ReadNote("last_ingested", why, waiting.events, waiting.runs)

    @contextmanager
    def connect(self, *, write: bool = False) -> Iterator[Connection]:
        """A psycopg connection to the team store, after pushing this machine's spool.

        Read-only (every transaction) unless ``write``, which opens a new session with
        the URL's role (prune needs the database owner). Raises :class:`StoreError`
        (one line, password masked) when the server is away.
        """
        if write:
            self._push_first()
            try:
                with self._session(write=True) as con:
                    yield con
            except psycopg.Error as exc:
                raise self._away(away_error(self.url, exc)) from None
            return
        self._push_first()
        with self._read_lock:
            try:
                con = self._read_connection()
            except StoreError as exc:
                raise self._away(exc) from None
            yield con

    # ------------------------------------------------------------------ reads
    def sql(
        self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        """Run one SQL statement (``?`` placeholders, as in DuckDB) in a read-only
        transaction that is rolled back, and return a DataFrame.

        Statements that would change the store raise :class:`StoreError`; so does a
        second statement in the same text (one statement per call).
        """
        return self._read(
            lambda con: read_frame(con, query, params, observers=self.query_observers)
        )

    def runs(self, **filters: Any) -> pd.DataFrame:
        """Recent runs, newest first; see :func:`neonhub_nb.store.queries.runs`."""
        return self._read(lambda con: queries.runs(con, observers=self.query_observers, **filters))

    def run_detail(self, run_id: str) -> RunDetail:
        """One run with its tool executions, metrics and draft."""
        return self._read(lambda con: queries.run_detail(con, run_id, self.query_observers))

    def drafts(self, status: str | None = None, limit: int = 50) -> pd.DataFrame:
        """Drafts, newest first."""
        return self._read(
            lambda con: queries.drafts(
                con, status=status, limit=limit, observers=self.query_observers
            )
        )

    def review_state(self, draft_id: str) -> ReviewState:
        """Where the review of ``draft_id`` stands, derived from its events."""
        states = self._read(lambda con: queries.draft_states(con, [draft_id]))
        if draft_id not in states:
            raise InvalidInputError("draft_id", f"no draft {draft_id!r} in the audit store")
        return states[draft_id]

    def review_trail(self, draft_id: str) -> pd.DataFrame:
        """Every review decision on ``draft_id`` in decision order."""
        return self._read(lambda con: queries.review_trail(con, draft_id))

    def quarantine_counts(self) -> QuarantineCounts:
        """Lines in quarantine now (``open``) and ever (``total``), all machines'."""
        return self._read(queries.quarantine_counts)

    def quarantine(self, *, include_resolved: bool = False, limit: int = 100) -> pd.DataFrame:
        """Quarantined spool lines of every machine, oldest first (``machine/segment``)."""
        return self._read(
            lambda con: queries.list_quarantine(con, include_resolved=include_resolved, limit=limit)
        )

    def retry_quarantine(self) -> RetryReport:
        """Check every open quarantined line again and ingest those that pass now (needs
        a role that may update the quarantine: the writer's or the owner's)."""
        with self.connect(write=True) as con:
            try:
                return ingest.retry_quarantine(con, self.clock.now())
            except psycopg.Error as exc:
                if exc.sqlstate in ("25006", "42501"):
                    raise StoreError(
                        f"quarantine --retry: {self.label} may not change the quarantine "
                        "(a reader's URL?): use the writer's URL"
                    ) from None
                raise

    def schema_version(self) -> int:
        """The highest migration the database has."""
        return self._read(schema_version)

    def status(self) -> dict[str, Any]:
        """The store's state for ``/health``, with this machine's spool backlog."""

        def state(con: Connection) -> tuple[Any, ...]:
            row = con.execute("SELECT count(*), max(started_at) FROM agent_runs").fetchone()
            assert row is not None
            return (*row, schema_version(con), queries.quarantine_counts(con))

        runs, last, version, quarantined = self._read(state)
        last_run = last.isoformat() + "Z" if isinstance(last, datetime) else None
        return {
            "backend": "postgresql",
            "url": self.label,
            "reachable": True,
            "read_only": self.read_only,
            "schema_version": version,
            "runs": int(runs),
            "last_run_at": last_run,
            "quarantined_lines": quarantined.open,
            "quarantined_lines_total": quarantined.total,
            "read": self.last_read.as_dict(),
            "spool": self.backlog().as_dict(),
        }
