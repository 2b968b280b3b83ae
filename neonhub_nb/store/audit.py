"""The audit store: every run, tool call, metric and draft, in one DuckDB file.

Writes go to this process's spool (``spool.py``) and return in microseconds; a background
thread ingests them into DuckDB in batches (``ingest.py``) while holding the file only
for milliseconds. Reads open the file briefly. Readers in a writing process ingest first,
so they always see their own runs. See ``docs/audit-store.md`` for the design.
"""

from __future__ import annotations

import atexit
import concurrent.futures.thread  # noqa: F401  (see _close_at_exit)
import contextlib
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import duckdb
from duckdb import DuckDBPyConnection

from ..clock import Clock, SystemClock
from ..config import Settings
from ..errors import StoreError
from ..redact import Redactor
from .base import Backlog
from .connection import ingest_turn, is_lock_error, open_duckdb, readers_waiting
from .ingest import IngestReport, ingest_segments
from .reading import ReadNote, pending_spool, snapshot_copy
from .recognise import (
    HELD,
    UnusableStoreError,
    check_schema_version,
    duckdb_open_error,
    ingest_error,
    one_line,
    recognise_store,
    unwritable_reason,
    why_not_ingested,
    write_error,
)
from .recording import RecordingMethods
from .schema import LATEST_VERSION, apply_migrations, schema_version
from .spool import SpoolWriter, list_segments, process_id
from .trail import TrailMethods

if TYPE_CHECKING:
    import pandas as pd

    from .queries import RunDetail

__all__ = ["AuditStore"]

log = logging.getLogger(__name__)
QueryObserver = Callable[[str, float], None]


class AuditStore(RecordingMethods, TrailMethods):
    """Handle on one audit store file.

    ``read_only=True`` (the dashboard) never writes, never ingests and never migrates:
    it only opens the file read-only, briefly, for each query.

    The path is recognised when the store is built: a path that is not a store of ours
    raises :class:`StoreError` (one line naming the path and what to do) before anything
    runs. Reads never fail because another process holds the file: see :meth:`connect`
    and :attr:`last_read`.

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
        read_wait: float = 1.0,
    ) -> None:
        recognise_store(Path(path))
        self.path = Path(path).absolute()
        self.read_only = read_only
        self.redactor = redactor or Redactor()
        self.clock: Clock = clock or SystemClock()
        self.spool_dir = spool_dir or self.path.with_name(self.path.name + ".spool")
        self.ingest_interval = ingest_interval
        self.background = background
        self.lock_timeout = lock_timeout
        #: Seconds a read waits to ingest first before it falls back to the last ingested
        #: state (see :meth:`connect`).
        self.read_wait = min(read_wait, lock_timeout)
        #: Why this process cannot write here (a read-only folder), or None.
        self.unwritable = None if read_only else unwritable_reason(self.path)
        #: Where the last read's answer came from (live, or the last ingested state).
        self.last_read = ReadNote()
        #: Ingestion passes of the background thread that failed (it keeps going).
        self.ingest_failures = 0
        self.last_ingest_error: str | None = None
        self.query_observers: list[QueryObserver] = []
        self._spool = SpoolWriter(self.spool_dir, fsync=fsync)
        self._io_lock = threading.RLock()
        self._flushed_bytes = 0
        self._thread: threading.Thread | None = None
        self._thread_pid = -1
        self._stop = threading.Event()
        self._closed = False
        self._migrated = False
        self._version_checked = False
        self._probed = False
        #: After a read fell back (the file held elsewhere), the next ones wait less.
        self._held_seen = False
        if not read_only and not self.unwritable:
            # Recognise the file now, before any run starts (and outside its timing).
            self._probe()
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

    @property
    def backend(self) -> Literal["duckdb"]:
        """Which SQL :meth:`connect` speaks: DuckDB's."""
        return "duckdb"

    @property
    def label(self) -> str:
        """The store's file, for messages."""
        return str(self.path)

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "read-write"
        return f"AuditStore({str(self.path)!r}, {mode})"

    # ----------------------------------------------------------------- writing
    def _append(self, data: bytes, *, sync: bool = False) -> None:
        """Append encoded spool lines (``spool.encode_events``) to this process's segment."""
        self._writable()
        try:
            self._spool.append(data, sync=sync)
        except OSError as exc:
            raise write_error(self.path, exc) from None
        if self._thread is None or self._thread_pid != process_id():
            self._ensure_ingester()

    def _writable(self) -> None:
        """Raise (one line) unless this store can record now; probes the file once."""
        if self.read_only:
            raise StoreError(f"{self!r} is read-only: it cannot record runs")
        if self._closed:
            raise StoreError(f"{self!r} is closed")
        if self.unwritable:
            raise StoreError(
                f"audit store {self.path}: cannot record here: {self.unwritable}; make it "
                "writable or point NEONHUB_DB at a writable place (reading still works)"
            )
        if not self._probed:
            self._probe()

    def _writer_id(self) -> str:
        self._writable()
        try:
            return self._spool.ensure_open()
        except OSError as exc:
            raise write_error(self.path, exc) from None

    # --------------------------------------------------------------- ingesting
    def _ensure_ingester(self) -> None:
        if not self.background or (self._thread is not None and self._thread_pid == os.getpid()):
            return
        if sys.is_finalizing():
            return  # no new threads at interpreter exit: close() ingests inline
        self._thread_pid = os.getpid()
        self._stop = threading.Event()
        thread = threading.Thread(
            target=self._ingest_loop, name=f"neonhub-ingest-{self.path.name}", daemon=True
        )
        try:
            thread.start()
        except RuntimeError:  # "can't create new thread at interpreter shutdown"
            self._thread = None
            return
        self._thread = thread

    def _pending(self) -> bool:
        if self._spool.bytes_written != self._flushed_bytes:
            return True
        own = self._spool.path.name if self._spool.path else None
        return any(s.name != own for s in list_segments(self.spool_dir))

    def _ingest_loop(self) -> None:
        failures = 0
        while not self._stop.wait(min(self.ingest_interval * 2**failures, 5.0)):
            if not self._pending():
                continue
            try:
                self.flush(timeout=max(self.ingest_interval, 0.2), wait=False)
                failures = 0
            except Exception as exc:  # the ingester never dies: the spool keeps every line
                failures = min(failures + 1, 6)
                message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                if message != self.last_ingest_error:
                    log.warning("audit store ingestion will retry: %s", message)
                self.ingest_failures += 1
                self.last_ingest_error = message

    def flush(self, timeout: float | None = None, *, wait: bool = True) -> IngestReport:
        """Ingest every spooled event (this process's and dead processes') into DuckDB now.

        One process ingests at a time (an ``flock`` on ``<store>.ingest``): whoever holds it
        takes everyone's spool, so with ``wait=False`` (the background thread) a busy lock
        just means someone else is doing the work. Lines that cannot be stored are
        quarantined (``report.quarantined``), never raised. Raises :class:`StoreError`
        (one line) when the file cannot be had or written, e.g. a full disk.
        """
        if self.read_only:
            return IngestReport()
        if self.unwritable:
            raise StoreError(
                f"audit store {self.path}: cannot ingest here: {self.unwritable}; make it "
                "writable or point NEONHUB_DB at a writable place (reading still works)"
            )
        try:
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
                        total = total.merged(self._ingest_on(con))
                self._flushed_bytes = written
                return total
        except OSError as exc:
            raise write_error(self.path, exc) from None

    def _ingest_on(self, con: DuckDBPyConnection) -> IngestReport:
        """Bounded ingestion passes (one transaction each) on ``con``, until the spool is
        in or a reader is waiting: then the caller closes the connection so the reader
        goes next (see connection.py). ``truncated`` says whether anything is left."""
        total = IngestReport()
        while True:
            try:
                report = ingest_segments(
                    con, self.spool_dir, self.clock.now(), redact=self.redactor.text
                )
            except duckdb.Error as exc:
                raise ingest_error(self.path, exc) from None
            total = total.merged(report)
            if not report.truncated or readers_waiting(self.path):
                return total

    @contextmanager
    def _open(
        self, *, read_only: bool, timeout: float | None = None
    ) -> Iterator[DuckDBPyConnection]:
        con = self._connect(self.path, read_only, timeout)
        try:
            self._check_version(con)
            if not read_only and not self._migrated:
                try:
                    apply_migrations(con)
                except duckdb.Error as exc:
                    raise ingest_error(self.path, exc) from None
                self._migrated = True
            yield con
        finally:
            con.close()

    def _connect(self, path: Path, read_only: bool, timeout: float | None) -> DuckDBPyConnection:
        try:
            return open_duckdb(path, read_only=read_only, timeout=timeout or self.lock_timeout)
        except StoreError as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, duckdb.Error | OSError) and not is_lock_error(cause):
                raise duckdb_open_error(self.path, cause) from None
            raise
        except OSError as exc:
            raise write_error(self.path, exc) from None

    def _probe(self) -> None:
        """Before the first record: open an existing file once, read-only, so a damaged
        file or a newer schema is refused before a run starts (not found at ingestion,
        after the run said "succeeded"). A file another process holds is a store in use."""
        if self.path.exists() and not self._version_checked:
            try:
                con = duckdb.connect(str(self.path), read_only=True)
            except duckdb.Error as exc:
                if not is_lock_error(exc):
                    raise duckdb_open_error(self.path, exc) from None
            else:
                try:
                    self._check_version(con)
                finally:
                    con.close()
        self._probed = True

    def _check_version(self, con: DuckDBPyConnection) -> None:
        if self._version_checked:
            return
        check_schema_version(self.path, schema_version(con), LATEST_VERSION)
        self._version_checked = True

    @contextmanager
    def connect(self, *, write: bool = False) -> Iterator[DuckDBPyConnection]:
        """A short-lived DuckDB connection showing every run recorded so far.

        A reader first ingests the spool (waiting at most :attr:`read_wait` seconds for
        the file); when it cannot (another process holds the file, the disk is full, the
        folder is read-only) it gets the last ingested state instead, read-only, and
        :attr:`last_read` says so and counts what is still spooled. ``write=True`` (prune,
        quarantine retries) waits for a read-write connection up to ``lock_timeout``.
        Hold it only for a few queries: while it is open, other processes wait to ingest.
        """
        with self._io_lock:
            if write:
                if self.read_only or self.unwritable:
                    raise StoreError(
                        f"audit store {self.path}: cannot change the store here: "
                        f"{self.unwritable or 'opened read-only'}"
                    )
                self.flush()
                with self._open(read_only=False) as con:
                    self.last_read = ReadNote()
                    yield con
                return
            con, cleanup = self._reader(read_only=False)
            try:
                yield con
            finally:
                con.close()
                cleanup()

    def _reader(self, *, read_only: bool) -> tuple[Any, Callable[[], None]]:
        """An open connection for reading and what to do after closing it.

        ``read_only=True`` always hands a read-only connection (analysts' SQL)."""
        reason: str | None = None
        if self.read_only:
            reason = None
        elif self.unwritable:
            reason = f"cannot ingest here: {self.unwritable}"
        else:
            # While the file is known to be held elsewhere, do not wait a full second on
            # every read to find that out again.
            wait = min(self.read_wait, 0.05) if self._held_seen else self.read_wait
            try:
                con = self._ingested_connection(wait)
                self.last_read = ReadNote()
                self._held_seen = False
                if not read_only:
                    return con, _nothing_to_clean
                con.close()
                return self._connect_checked(read_only=True), _nothing_to_clean
            except (StoreError, duckdb.Error, OSError) as exc:
                if isinstance(exc, UnusableStoreError):  # not ours, damaged, newer: no fallback
                    raise
                reason = why_not_ingested(exc)
                self._held_seen = reason == HELD
        return self._fallback(reason)

    def _ingested_connection(self, wait: float) -> DuckDBPyConnection:
        """A read-write connection after every spool is ingested. Between bounded passes
        the file is let go when another process's reader is waiting, so a backlog never
        keeps that reader out."""
        while True:
            with ingest_turn(self.path, wait=True, timeout=wait):
                written = self._spool.bytes_written
                con = self._connect(self.path, False, wait)
                try:
                    self._check_version(con)
                    if not self._migrated:
                        apply_migrations(con)
                        self._migrated = True
                    left = self._ingest_on(con)
                except BaseException:
                    con.close()
                    raise
                if not left.truncated:
                    self._flushed_bytes = written
                    return con
                con.close()
            time.sleep(0.005)  # the waiting reader goes first

    def _connect_checked(self, *, read_only: bool) -> DuckDBPyConnection:
        con = self._connect(self.path, read_only, None)
        try:
            self._check_version(con)
        except BaseException:
            con.close()
            raise
        return con

    def _fallback(self, reason: str | None) -> tuple[Any, Callable[[], None]]:
        """The last ingested state: read-only, or from a copy of the file if even that
        cannot be had (a process outside neonhub-nb holds it read-write).

        ``reason`` None: a read-only store's own read (never stale unless it must copy);
        it waits longer for the file, since neonhub-nb's ingesters let readers in first.
        """
        source, cleanup = "last_ingested", _nothing_to_clean
        wait = self.read_wait if reason else max(self.read_wait, 5.0)
        if self._held_seen and self.last_read.source == "copy":
            wait = 0.05
        try:
            con = self._connect(self.path, True, wait)
        except StoreError as exc:
            if "locked" not in str(exc):
                raise
            copy = snapshot_copy(self.path)
            source, reason = "copy", reason or HELD
            self._held_seen = True
            con = self._connect(copy, True, None)

            def cleanup() -> None:
                shutil.rmtree(copy.parent, ignore_errors=True)

        try:
            self._check_version(con)
        except BaseException:
            con.close()
            cleanup()
            raise
        if reason is None:  # a read-only store: it never ingests, nothing is "stale"
            self.last_read = ReadNote()
        else:
            events, runs = pending_spool(con, self.spool_dir)
            self.last_read = ReadNote(source, reason, events, runs)
        return con, cleanup

    def schema_version(self) -> int:
        with self.connect() as con:
            return schema_version(con)

    # ----------------------------------------------------------------- reading
    def sql(
        self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        """Run SQL on a read-only connection and return a pandas DataFrame.

        Statements that would change the store (``DELETE``, ``UPDATE``, ``DROP`` ...)
        raise :class:`StoreError`: the trail changes only by the product's own rules, and
        deletion is :func:`~neonhub_nb.store.maintenance.prune` alone.
        """
        from .queries import timed_df
        from .sqlguard import check_store_query

        with self._io_lock:
            con, cleanup = self._reader(read_only=True)
            try:
                check_store_query(con, query)
                return timed_df(con, query, params, self.query_observers, "sql")
            except duckdb.Error as exc:
                text = one_line(exc)
                if "read-only" in text or "read only" in text:
                    raise StoreError(
                        "sql: the audit store is read-only here, so the statement was refused "
                        "(runs are deleted by `neonhub-nb prune` alone)"
                    ) from None
                raise StoreError(f"sql: {text}") from None
            finally:
                con.close()
                cleanup()

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

    def backlog(self) -> Backlog:
        """What the last read could not ingest first (nothing, when it read live)."""
        return Backlog(self.last_read.pending_events, self.last_read.pending_runs)

    def status(self) -> dict[str, Any]:
        """The store's state for ``/health`` (see :meth:`Store.status`)."""
        from .connection import one_row
        from .quarantine import quarantine_counts

        with self.connect() as con:
            runs, last = one_row(con, "SELECT count(*), max(started_at) FROM agent_runs")
            version = schema_version(con)
            quarantined = quarantine_counts(con)
        return {
            "backend": self.backend,
            "reachable": True,
            "read_only": self.read_only,
            "schema_version": version,
            "runs": int(runs),
            "last_run_at": last.isoformat() + "Z" if last is not None else None,
            # Lines set aside by ingestion: open now, and ever (see docs/audit-store.md).
            "quarantined_lines": quarantined.open,
            "quarantined_lines_total": quarantined.total,
            "read": self.last_read.as_dict(),
            "spool": self.backlog().as_dict(),
        }

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
        if pending and not self.unwritable:
            # On failure the events stay spooled (durable); the next ingester takes them.
            with contextlib.suppress(StoreError):
                self.flush(timeout=timeout)
        self._closed = True
        if not self.read_only:
            atexit.unregister(self._close_at_exit)

    def _close_at_exit(self) -> None:
        # At interpreter exit nothing may import a module that registers an atexit hook
        # (pyarrow imports pandas lazily, pandas imports concurrent.futures.thread): that
        # is why concurrent.futures.thread is imported with this module. Whatever else
        # goes wrong here, the spool keeps the events: say so in one line, no traceback.
        try:
            self.close(timeout=2.0)
        except Exception as exc:
            print(
                f"neonhub-nb: audit store {self.path}: not ingested at exit ({one_line(exc)});"
                " the events stay spooled and the next `neonhub-nb ingest` takes them",
                file=sys.stderr,
            )

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _nothing_to_clean() -> None:
    return None
