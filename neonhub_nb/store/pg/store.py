"""The team store: a shared PostgreSQL behind each machine's local spool.

``NEONHUB_DB=postgresql://...`` opens a :class:`PgStore`. Recording is the DuckDB store's:
a run is appended to this process's spool segment (``~/.cache/neonhub-nb/spool/<key>``,
see ``machine.py``) and is durable when the call returns, whether or not the server
answers. A background thread pushes the machine's spool in batches of about 100 runs,
exactly once (``ingest.py``), and renews the writers' leases (``leases.py``). While the
server is away, recording goes on without a word; the runs wait in the spool and land
when it is back. Reads go to the server with bounded waits and fail in one line naming
it (password masked). See docs/team.md.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import psycopg

from ...clock import Clock, SystemClock
from ...config import Settings
from ...errors import StoreError
from ...redact import Redactor
from ..base import Backlog, QueryObserver
from ..connection import ingest_turn
from ..ingest import IngestReport
from ..reading import ReadNote, pending_in_spool
from ..recognise import UnusableStoreError, one_line
from ..recording import RecordingMethods
from ..spool import SpoolWriter, list_segments, process_id
from ..trail import TrailMethods
from . import ingest
from .leases import DEFAULT_LEASE_MINUTES, HEARTBEAT_S
from .machine import machine_id, team_spool_dir
from .migrations import LATEST_VERSION, schema_version
from .reading import PgReads
from .session import away_error, is_connection_error, open_session
from .url import PgUrl

__all__ = ["PgStore"]

log = logging.getLogger(__name__)
# How away_error() and connect() begin: the server could not be reached.
_AWAY = ("cannot reach the team store", "cannot connect to")


class PgStore(RecordingMethods, PgReads, TrailMethods):
    """Handle on a team's shared PostgreSQL store, with this machine's spool in front.

    ``read_only=True`` (the dashboard, the exporter: give them the reader role's URL)
    never spools and never ingests. The URL is checked when the store is built (one
    line, password masked); the server is not contacted until the first push or read,
    so recording works with the server away.

    >>> store = PgStore("postgresql://neonhub_writer:PW@db.internal/neonhub")  # doctest: +SKIP
    >>> store.runs(limit=5)                                                      # doctest: +SKIP
    """

    def __init__(
        self,
        url: str | PgUrl,
        *,
        read_only: bool = False,
        redactor: Redactor | None = None,
        clock: Clock | None = None,
        fsync: bool = False,
        ingest_interval: float = 0.5,
        background: bool = True,
        spool_root: Path | None = None,
        spool_dir: Path | None = None,
        machine: str | None = None,
        lease_minutes: float = DEFAULT_LEASE_MINUTES,
        connect_timeout: float = 5.0,
        batch_runs: int = ingest.BATCH_RUNS,
        read_wait: float = 1.0,
        heartbeat_s: float = HEARTBEAT_S,
        lock_timeout: float = 30.0,
    ) -> None:
        self.url = url if isinstance(url, PgUrl) else PgUrl(url)
        self.read_only = read_only
        # The URL's password is a secret like any other: never in a record or a message.
        self.redactor = (redactor or Redactor()).with_secrets(self.url.secrets)
        self.clock: Clock = clock or SystemClock()
        root = spool_root or Path("~/.cache/neonhub-nb/spool").expanduser()
        self.spool_dir = spool_dir or team_spool_dir(root, self.url.conninfo())
        self.machine = machine or ("" if read_only else machine_id(root))
        self.ingest_interval = ingest_interval
        self.background = background
        self.lease_minutes = lease_minutes
        self.connect_timeout = connect_timeout
        self.batch_runs = batch_runs
        self.read_wait = read_wait
        self.heartbeat_s = heartbeat_s
        self.lock_timeout = lock_timeout
        self.last_read = ReadNote()
        self.ingest_failures = 0
        self.last_ingest_error: str | None = None
        self.query_observers: list[QueryObserver] = []
        self._spool = SpoolWriter(self.spool_dir, fsync=fsync)
        self._flushed_bytes = 0
        self._last_pass = 0.0
        self._ingest_lock = threading.Lock()
        self._ingest_con: psycopg.Connection[Any] | None = None
        self._checked_version = False
        self._thread: threading.Thread | None = None
        self._thread_pid = -1
        self._stop = threading.Event()
        self._closed = False
        PgReads.__init__(self)
        if not read_only:
            atexit.register(self._close_at_exit)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> PgStore:
        """The team store at ``settings.store_url``, spooling under the settings' root."""
        if not settings.store_url:
            raise StoreError("NEONHUB_DB: not a postgresql:// URL")
        kwargs.setdefault("redactor", Redactor.from_environ(settings.environ))
        kwargs.setdefault("ingest_interval", settings.ingest_interval_s)
        kwargs.setdefault("spool_root", settings.team_spool_root)
        kwargs.setdefault("lease_minutes", settings.lease_minutes)
        return cls(settings.store_url, **kwargs)

    @property
    def backend(self) -> Literal["postgresql"]:
        """Which SQL :meth:`connect` speaks: PostgreSQL's (a psycopg connection)."""
        return "postgresql"

    @property
    def label(self) -> str:
        """The store's URL with its password masked."""
        return self.url.redacted

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "read-write"
        return f"PgStore({self.url.redacted!r}, {mode})"

    # ----------------------------------------------------------------- writing
    def _append(self, data: bytes, *, sync: bool = False) -> None:
        """Append encoded spool lines (``spool.encode_events``) to this process's segment."""
        self._writable()
        try:
            self._spool.append(data, sync=sync)
        except OSError as exc:
            raise self._spool_error(exc) from None
        if self._thread is None or self._thread_pid != process_id():
            self._ensure_ingester()

    def _writable(self) -> None:
        if self.read_only:
            raise StoreError(f"{self!r} is read-only: it cannot record runs")
        if self._closed:
            raise StoreError(f"{self!r} is closed")

    def _writer_id(self) -> str:
        self._writable()
        try:
            return self._spool.ensure_open()
        except OSError as exc:
            raise self._spool_error(exc) from None

    def _spool_error(self, exc: OSError) -> StoreError:
        return StoreError(
            f"team store {self.label}: cannot write this machine's spool {self.spool_dir} "
            f"({exc.strerror or exc}): free space there or set NEONHUB_SPOOL_DIR"
        )

    # --------------------------------------------------------------- ingesting
    def _ensure_ingester(self) -> None:
        if not self.background or (self._thread is not None and self._thread_pid == os.getpid()):
            return
        if sys.is_finalizing():
            return
        self._thread_pid = os.getpid()
        self._stop = threading.Event()
        thread = threading.Thread(target=self._ingest_loop, name="neonhub-team-ingest", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # interpreter shutdown
            self._thread = None
            return
        self._thread = thread

    def _pending(self) -> bool:
        if self._spool.bytes_written != self._flushed_bytes:
            return True
        own = self._spool.path.name if self._spool.path else None
        if any(s.name != own for s in list_segments(self.spool_dir)):
            return True
        # Nothing new: still renew this writer's lease now and then.
        return own is not None and time.monotonic() - self._last_pass >= self.heartbeat_s

    def _ingest_loop(self) -> None:
        failures = 0
        while not self._stop.wait(min(self.ingest_interval * 2**failures, 5.0)):
            if not self._pending():
                continue
            try:
                self.flush(timeout=max(self.ingest_interval, 0.2), wait=False)
                failures = 0
            except Exception as exc:  # never dies: the spool keeps every line
                failures = min(failures + 1, 6)
                message = one_line(exc)
                if message != self.last_ingest_error:
                    # A server that is away is expected (the runs wait in the spool and
                    # /health, the History panel and `neonhub-nb ingest` count them):
                    # INFO, which an unconfigured notebook does not print. Anything
                    # else is a WARNING.
                    cause = exc.__cause__
                    away = message.startswith(_AWAY) or (
                        cause is not None and is_connection_error(cause)
                    )
                    log.log(
                        logging.INFO if away else logging.WARNING,
                        "team store ingestion will retry: %s",
                        message,
                    )
                self.ingest_failures += 1
                self.last_ingest_error = message

    def flush(self, timeout: float | None = None, *, wait: bool = True) -> IngestReport:
        """Push everything spooled on this machine into the team store now.

        One process of the machine pushes at a time (an ``flock`` in the spool folder),
        taking every local process's spool; with ``wait=False`` a busy turn means another
        process is doing it. Lines the store cannot hold are quarantined, never raised.
        Raises :class:`StoreError` (one line, password masked) when the server cannot be
        reached: the events stay spooled.
        """
        if self.read_only:
            return IngestReport()
        self._writable_folder()
        with ingest_turn(
            self.spool_dir / "team", wait=wait, timeout=timeout or self.lock_timeout
        ) as mine:
            if not mine:
                return IngestReport()
            with self._ingest_lock:
                written = self._spool.bytes_written
                total = IngestReport(truncated=True)
                passes = 0
                while total.truncated and passes < 10_000:
                    total = total.merged(self._pass())
                    passes += 1
                self._flushed_bytes = written
                self._last_pass = time.monotonic()
                return total

    def _writable_folder(self) -> None:
        try:
            self.spool_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._spool_error(exc) from None

    def _pass(self) -> IngestReport:
        options = ingest.PassOptions(
            machine=self.machine,
            batch_runs=self.batch_runs,
            lease_minutes=self.lease_minutes,
            redact=self.redactor.text,
        )
        try:
            con = self._ingest_connection()
            return ingest.ingest_pass(con, self.spool_dir, options, self._now())
        except (psycopg.Error, StoreError) as exc:
            cause = exc.__cause__ if isinstance(exc, StoreError) else exc
            if isinstance(exc, psycopg.Error) or (cause is not None and is_connection_error(cause)):
                self._drop_ingest_connection()
            if isinstance(exc, StoreError):
                raise
            raise away_error(self.url, exc) from None

    def _now(self) -> datetime:
        now = self.clock.now()
        return now if now.tzinfo is not None else now.replace(tzinfo=UTC)

    def _ingest_connection(self) -> psycopg.Connection[Any]:
        con = self._ingest_con
        if con is not None and not con.closed and not con.broken:
            return con
        con = open_session(self.url, autocommit=True, connect_timeout=self.connect_timeout)
        try:
            self._check_version(con)
        except BaseException:
            con.close()
            raise
        self._ingest_con = con
        return con

    def _drop_ingest_connection(self) -> None:
        con, self._ingest_con = self._ingest_con, None
        if con is not None:
            with contextlib.suppress(Exception):
                con.close()

    def _check_version(self, con: psycopg.Connection[Any]) -> None:
        """Refuse a database without our tables, with an older or a newer schema."""
        if self._checked_version:
            return
        version = schema_version(con)
        if version > LATEST_VERSION:
            raise UnusableStoreError(
                f"team store {self.label} was migrated by a newer neonhub-nb (schema version "
                f"{version}; this version knows up to {LATEST_VERSION}): upgrade neonhub-nb"
            )
        if version < LATEST_VERSION:
            what = "has no neonhub-nb tables" if version == 0 else f"has schema {version}"
            raise StoreError(
                f"team store {self.label} {what} (this version needs {LATEST_VERSION}): run "
                "`neonhub-nb db init URL` with the database owner's URL; runs stay spooled"
            )
        self._checked_version = True

    def backlog(self) -> Backlog:
        """What this machine recorded that the team store does not hold yet, counted
        from the local spool and the last offsets it committed (no server needed).

        A read-only store (the exporter, the dashboard) on a machine that also records
        counts the same spool: the reader's and the writers' URLs of one database share
        it (``machine.py``)."""
        events, runs = pending_in_spool(self.spool_dir, ingest.read_ledger(self.spool_dir))
        return Backlog(events, runs)

    # ------------------------------------------------------------------ closing
    def close(self, timeout: float = 10.0) -> None:
        """Stop the ingester and push what is left. With the server away the runs stay
        in the spool, quietly: the next process of this machine pushes them."""
        if self._closed:
            return
        self._stop.set()
        if self._thread is not None and self._thread_pid == os.getpid():
            self._thread.join(timeout=timeout)
        own_segment = self._spool.path
        pending = not self.read_only and (
            self._pending() or (own_segment is not None and own_segment.exists())
        )
        self._spool.close()  # an unlocked segment is pushed *and* removed
        if pending:
            saved, self.connect_timeout = self.connect_timeout, min(self.connect_timeout, timeout)
            try:
                self.flush(timeout=timeout)
            except StoreError as exc:
                log.info("team store: left in the spool at close: %s", exc)
            finally:
                self.connect_timeout = saved
        self._drop_ingest_connection()
        self._close_reads()
        self._closed = True
        if not self.read_only:
            atexit.unregister(self._close_at_exit)

    def _close_at_exit(self) -> None:
        try:
            self.close(timeout=2.0)
        except Exception as exc:
            log.info("team store: left in the spool at exit: %s", one_line(exc))

    @contextmanager
    def _session(self, *, write: bool) -> Iterator[psycopg.Connection[Any]]:
        """A new session for maintenance (prune, retries): closed afterwards."""
        con = open_session(
            self.url, autocommit=True, read_only=not write, connect_timeout=self.connect_timeout
        )
        try:
            yield con
        finally:
            con.close()

    def __enter__(self) -> PgStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
