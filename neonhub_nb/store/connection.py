"""Opening the DuckDB file across processes without showing anyone a lock error.

DuckDB lets one process hold the file read-write, or several hold it read-only, never
both. Every open here is short-lived and retried with jittered backoff while another
process holds a conflicting lock; only a lock held past ``timeout`` becomes a
:class:`~neonhub_nb.errors.StoreError`.

Readers go first: a reader waiting for the file holds a shared ``flock`` on
``<store>.readers`` while it waits, and writers (ingesters) do not start while one is
held. Without this, a reader polling for a gap loses to a busy set of ingesters again and
again (measured: 6 reads in 13 s with four busy writers).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
from duckdb import DuckDBPyConnection

from ..errors import StoreError

__all__ = [
    "ingest_turn",
    "is_lock_error",
    "one_row",
    "open_duckdb",
    "readers_waiting",
]


def one_row(
    con: DuckDBPyConnection, query: str, params: Sequence[Any] | None = None
) -> tuple[Any, ...]:
    """The single row an aggregate query returns (``count(*)``, ``max(...)``).

    Fetched whole: DuckDB 2 keeps a result fetched with ``fetchone`` open, and an open
    result refuses other work on the connection (``create_function``, for one).
    """
    rows = con.execute(query, params or []).fetchall()
    if not rows:  # an aggregate always returns one row: say so if it does not
        raise StoreError(f"no row from a query that always returns one: {query[:80]}")
    return tuple(rows[0])


def is_lock_error(exc: BaseException) -> bool:
    """Another process holds the file, or this process holds it in the other mode."""
    text = str(exc).lower()
    other_process = "lock" in text and ("conflicting" in text or "could not set" in text)
    # Same process, other mode (a read-only handle while the ingester writes): both are
    # short-lived, so waiting works exactly as for another process.
    same_process = "different configuration" in text
    return other_process or same_process


def _turnstile(path: Path) -> Path:
    return path.with_name(path.name + ".readers")


@contextlib.contextmanager
def _waiting_reader(path: Path) -> Iterator[None]:
    """Announce a waiting reader for as long as the block runs."""
    try:
        fd = os.open(_turnstile(path), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:  # a read-only folder: readers simply get no priority
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # releases the lock


def readers_waiting(path: Path) -> bool:
    """Whether some process is waiting to read ``path`` (writers should hold back)."""
    try:
        fd = os.open(_turnstile(path), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _connect(path: Path, read_only: bool, deadline: float, timeout: float) -> DuckDBPyConnection:
    delay = 0.002
    while True:
        if not read_only and readers_waiting(path):
            if time.monotonic() >= deadline:
                raise StoreError(f"audit store {path}: readers kept it busy for {timeout:.0f} s")
            time.sleep(0.005)  # let the waiting reader in first
            continue
        try:
            con = duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            if not is_lock_error(exc):
                raise StoreError(f"cannot open audit store {path}: {exc}") from None
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"audit store {path} stayed locked by another process for {timeout:.0f} s"
                ) from None
            time.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 0.05 if not read_only else 0.01)
            continue
        # Every time the store keeps is UTC, and so is every session: `now()`, casts of
        # TIMESTAMPTZ and date_trunc in analysts' SQL give the same rows under any TZ.
        con.execute("SET TimeZone = 'UTC'")
        return con


def open_duckdb(path: Path, *, read_only: bool, timeout: float = 30.0) -> DuckDBPyConnection:
    """Connect to ``path``, waiting out other processes' locks for up to ``timeout`` s."""
    if read_only and not path.exists():
        raise StoreError(
            f"no audit store at {path}: run an agent first, or point NEONHUB_DB at a store"
        )
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    if read_only:
        with _waiting_reader(path):
            return _connect(path, True, deadline, timeout)
    return _connect(path, False, deadline, timeout)


@contextlib.contextmanager
def ingest_turn(path: Path, *, wait: bool, timeout: float) -> Iterator[bool]:
    """Hold the store's ingestion turn (an exclusive ``flock`` on ``<store>.ingest``).

    Yields False without waiting when ``wait`` is False and another process ingests:
    that process takes every spool, this one included, so there is nothing to do.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".ingest"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not wait:
                    yield False
                    return
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"audit store {path}: another process kept ingesting for {timeout:.0f} s"
                    ) from None
                time.sleep(0.005)
        yield True
    finally:
        os.close(fd)
