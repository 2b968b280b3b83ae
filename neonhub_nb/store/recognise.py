"""Recognising a store path before it is used: one line naming the path and what to do.

Checked when an :class:`~neonhub_nb.store.AuditStore` is built (so before any run starts)
and again when the file is opened: a ``postgresql://`` URL (a team store, opened by
``open_store``, not as a file), a folder, an empty file, a text file, an SQLite
database, a truncated or damaged DuckDB file, a store written by a newer schema, a
folder that cannot be written.
Nothing here changes the file: a path that is not a store is left exactly as it was.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from ..errors import StoreError

__all__ = [
    "DUCKDB_HEADER_BYTES",
    "HELD",
    "UnusableStoreError",
    "check_schema_version",
    "duckdb_open_error",
    "ingest_error",
    "is_postgres_path",
    "one_line",
    "recognise_store",
    "unwritable_reason",
    "why_not_ingested",
    "write_error",
]

#: A DuckDB file starts with three 4 KiB header blocks; its magic ``DUCK`` sits at byte 8.
DUCKDB_HEADER_BYTES = 3 * 4096
_SQLITE_MAGIC = b"SQLite format 3\x00"
_SCHEMES = ("postgresql:", "postgres:")


class UnusableStoreError(StoreError):
    """The path is not a store this version can use (not ours, damaged, newer schema):
    reads do not fall back to anything, the command stops with the message."""


def is_postgres_path(raw: str | Path) -> bool:
    """Whether a ``NEONHUB_DB`` value names a PostgreSQL URL (also after ``Path`` folded
    its ``//``)."""
    text = str(raw).lower()
    return text.startswith(_SCHEMES)


def recognise_store(path: Path) -> None:
    """Raise :class:`StoreError` (one line) unless ``path`` is a DuckDB file or absent."""
    if is_postgres_path(path):
        # The URL is not repeated: it may hold a password.
        raise UnusableStoreError(
            "a postgresql:// URL is a team store, not a DuckDB file: open it with "
            "neonhub_nb.store.open_store(settings) or PgStore(url), not AuditStore"
        )
    if path.is_dir():
        raise UnusableStoreError(
            f"audit store {path} is a folder, not a store file: point NEONHUB_DB at a file "
            f"in it, e.g. {path / 'neonhub.duckdb'}"
        )
    try:
        with open(path, "rb") as handle:
            head = handle.read(DUCKDB_HEADER_BYTES)
            size = os.fstat(handle.fileno()).st_size
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreError(
            f"audit store {path} cannot be read ({exc.strerror}): check its permissions"
        ) from None
    if size == 0:
        raise UnusableStoreError(
            f"audit store {path} is an empty file, not a neonhub-nb store: delete it (it "
            "holds nothing) or point NEONHUB_DB at another file"
        )
    if head.startswith(_SQLITE_MAGIC):
        raise UnusableStoreError(
            f"audit store {path} is an SQLite database, not a neonhub-nb store (DuckDB): "
            "point NEONHUB_DB at a .duckdb file"
        )
    if head[8:12] != b"DUCK":
        kind = "text" if _looks_like_text(head) else "unknown bytes"
        raise UnusableStoreError(
            f"audit store {path} is not a DuckDB file (it holds {kind}): point NEONHUB_DB "
            "at a neonhub-nb store, or move the file away"
        )
    if size < DUCKDB_HEADER_BYTES:
        raise UnusableStoreError(
            f"audit store {path} is a truncated DuckDB file ({size} bytes): restore it from "
            "a snapshot or backup, or move it away to start a new store"
        )


def _looks_like_text(head: bytes) -> bool:
    try:
        head[:512].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def duckdb_open_error(path: Path, exc: BaseException) -> StoreError:
    """DuckDB's refusal to open ``path`` (not a lock) as one line saying what to do."""
    first = (str(exc).splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, OSError) or "No space left" in first:
        return write_error(path, exc)
    return UnusableStoreError(
        f"audit store {path} cannot be opened as a DuckDB store ({first}): it may be damaged "
        "or truncated; restore it from a snapshot or backup, or move it away to start a new "
        "store"
    )


def check_schema_version(path: Path, version: int, latest: int) -> None:
    """Refuse a store written by a newer neonhub-nb (its tables may mean other things)."""
    if version > latest:
        raise UnusableStoreError(
            f"audit store {path} was written by a newer neonhub-nb (schema version {version}; "
            f"this version knows up to {latest}): upgrade neonhub-nb; the file is left as it is"
        )


def unwritable_reason(path: Path) -> str | None:
    """Why this process cannot write next to ``path`` (None: it can)."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"the folder {folder} is read-only for this user"
    if path.exists() and not os.access(path, os.W_OK):
        return f"the file {path} is read-only for this user"
    return None


def write_error(path: Path, exc: BaseException) -> StoreError:
    """An ``OSError`` met while writing the store or its spool, as one line."""
    code = getattr(exc, "errno", None)
    text = getattr(exc, "strerror", None) or (str(exc).splitlines() or [""])[0]
    if code == errno.ENOSPC or "No space left" in str(exc):
        return StoreError(
            f"audit store {path}: the disk is full ({text}): free space on "
            f"{path.parent} and run again; what was recorded before stays in the spool"
        )
    if code in (errno.EROFS, errno.EACCES, errno.EPERM):
        return StoreError(
            f"audit store {path}: cannot write in {path.parent} ({text}): make the folder "
            "writable or point NEONHUB_DB at a writable place; reading still works"
        )
    return StoreError(f"audit store {path}: cannot write ({text})")


#: Why a read could not ingest first, when another process has the file.
HELD = "another process holds the file"


def one_line(exc: BaseException) -> str:
    """The first line of an error's text (or its type's name)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def ingest_error(path: Path, exc: BaseException) -> StoreError:
    """DuckDB's refusal during ingestion as one line (a full disk says so)."""
    text = one_line(exc)
    if "No space left" in text or "disk is full" in text.lower():
        return write_error(path, OSError(errno.ENOSPC, "No space left on device"))
    return StoreError(f"audit store {path}: ingestion failed ({text}); the events stay spooled")


def why_not_ingested(exc: BaseException) -> str:
    """What a reader's note says when it could not ingest first."""
    text = one_line(exc)
    if any(word in text for word in ("locked", "kept ingesting", "kept it busy")):
        return HELD
    return text
