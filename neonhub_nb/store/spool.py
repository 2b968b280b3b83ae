"""Per-process append-only spool: the durable first stop of every audit event.

Each writer process appends JSON lines to its own segment file
``<spool_dir>/<writer_id>.<n>.jsonl`` with one ``os.write`` per event batch and holds an
exclusive ``flock`` on the segment while it lives. Once ``append`` returns, the bytes are
in the kernel's page cache: they survive ``kill -9`` of the process (the kernel owns them),
and with ``fsync=True`` they also survive power loss. The ingester (see ``ingest.py``)
moves segments into DuckDB in batches; a segment whose ``flock`` can be taken belongs to a
process that is gone or has rotated away from it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel

__all__ = [
    "SEGMENT_SUFFIX",
    "Segment",
    "SpoolWriter",
    "encode_event",
    "encode_events",
    "encode_row",
    "event_head",
    "list_segments",
    "new_writer_id",
    "process_id",
]

SEGMENT_SUFFIX = ".jsonl"
ROTATE_BYTES = 32 * 1024 * 1024


# This process's id, kept current across fork: os.getpid() is a system call (glibc stopped
# caching it), and the append path asks "am I still the process that opened this?" for
# every event. os.fork and multiprocessing run the after-fork hook.
_PID = os.getpid()


def _forked() -> None:
    global _PID
    _PID = os.getpid()


os.register_at_fork(after_in_child=_forked)


def process_id() -> int:
    """``os.getpid()`` without the system call (kept current by an after-fork hook)."""
    return _PID


def new_writer_id() -> str:
    host = socket.gethostname().replace(".", "_")[:32] or "host"
    return f"{host}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, BaseModel):  # a model inside a record's free-form dict
        return value.model_dump()
    raise TypeError(f"cannot store {type(value).__name__} in the audit spool")


def encode_event(event: dict[str, Any]) -> bytes:
    """One spool line (JSON and a newline). Raises ``TypeError`` for a value JSON cannot
    hold."""
    # orjson: the spool write is on every run's critical path, and it is ~5x json's speed.
    return orjson.dumps(event, default=_default, option=orjson.OPT_APPEND_NEWLINE)


def event_head(kind: str, **envelope: Any) -> bytes:
    """The bytes every spool line of ``kind`` starts with, up to its row:
    ``event_head("run", rev=0)`` is ``b'{"t":"run","rev":0,"row":'``."""
    return orjson.dumps({"t": kind, **envelope})[:-1] + b',"row":'


def encode_row(head: bytes, row: dict[str, Any]) -> bytes:
    """The spool line ``head`` (see :func:`event_head`) + ``row``: the same bytes as
    :func:`encode_event` of the whole event, without building the event. Raises
    ``TypeError`` for a value JSON cannot hold."""
    return head + orjson.dumps(row, default=_default) + b"}\n"


def encode_events(events: list[dict[str, Any]]) -> bytes:
    """Spool lines for ``events``, in order."""
    return b"".join(map(encode_event, events))


@dataclass(frozen=True)
class Segment:
    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def writer_id(self) -> str:
        return self.path.name.split(".", 1)[0]


def list_segments(spool_dir: Path) -> list[Segment]:
    if not spool_dir.is_dir():
        return []
    return [Segment(p) for p in sorted(spool_dir.glob(f"*{SEGMENT_SUFFIX}"))]


class SpoolWriter:
    """Appends events for one process. Thread-safe; reopens a new segment after ``fork``."""

    def __init__(self, spool_dir: Path, *, fsync: bool = False) -> None:
        self.spool_dir = spool_dir
        self.fsync = fsync
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid = -1
        self._segment_no = 0
        self._size = 0
        self.writer_id = ""
        self.path: Path | None = None
        self.bytes_written = 0

    def _open_segment(self) -> None:
        if self._pid != os.getpid():
            # A forked child must not share its parent's segment or identity.
            self._fd = None
            self.writer_id = new_writer_id()
            self._pid = os.getpid()
            self._segment_no = 0
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self._segment_no += 1
        path = self.spool_dir / f"{self.writer_id}.{self._segment_no:05d}{SEGMENT_SUFFIX}"
        # Lock under a name the ingester ignores, then rename: an ingester must never see
        # the segment unlocked (it would take it for a dead writer's and delete it).
        staging = path.with_suffix(".creating")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(staging, path)
        self._fd, self.path, self._size = fd, path, 0

    def ensure_open(self) -> str:
        """Open this process's segment if needed; return the writer id."""
        with self._lock:
            self._ready()
            return self.writer_id

    def _ready(self) -> None:
        if self._fd is None or self._pid != os.getpid() or self._size >= ROTATE_BYTES:
            self._close_fd()
            self._open_segment()

    def append(self, data: bytes, *, sync: bool = False) -> None:
        """Append whole spool lines (see :func:`encode_events`) in one write call;
        returns once the kernel has them.

        ``sync`` asks for an fsync when the writer was built with ``fsync=True``: callers
        sync at the points they report as recorded (a finished run), not on every event.
        """
        with self._lock:
            fd = self._fd
            if fd is None or self._pid != _PID or self._size >= ROTATE_BYTES:
                self._ready()  # (the same test, kept inline: this runs 7 times a run)
                fd = self._fd
                assert fd is not None
            try:
                written = os.write(fd, data)
                while written < len(data):  # a short write: rare, but the kernel allows it
                    written += os.write(fd, data[written:])
                if self.fsync and sync:
                    os.fsync(fd)
            except OSError:
                self._abandon_partial()
                raise
            self._size += len(data)
            self.bytes_written += len(data)

    def _abandon_partial(self) -> None:
        """After a failed write (a full disk): cut the partial line off if the kernel lets
        us, and leave the segment either way, so no later line is glued onto a partial
        one. A partial line that stays is quarantined when the segment is ingested."""
        assert self._fd is not None
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, self._size)
        self._close_fd()

    def _close_fd(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)  # also releases the flock: the segment becomes ingestible
        self._fd = None

    def close(self) -> None:
        with self._lock:
            self._close_fd()
