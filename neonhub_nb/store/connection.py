"""Opening the DuckDB file across processes without showing anyone a lock error.

DuckDB lets one process hold the file read-write, or several hold it read-only, never
both. Every open here is short-lived and retried with jittered backoff while another
process holds a conflicting lock; only a lock held past ``timeout`` becomes a
:class:`~neonhub_nb.errors.StoreError`.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import duckdb

from ..errors import StoreError

__all__ = ["is_lock_error", "open_duckdb"]


def is_lock_error(exc: BaseException) -> bool:
    """Another process holds the file, or this process holds it in the other mode."""
    text = str(exc).lower()
    other_process = "lock" in text and ("conflicting" in text or "could not set" in text)
    # Same process, other mode (a read-only handle while the ingester writes): both are
    # short-lived, so waiting works exactly as for another process.
    same_process = "different configuration" in text
    return other_process or same_process


def open_duckdb(path: Path, *, read_only: bool, timeout: float = 30.0) -> Any:
    """Connect to ``path``, waiting out other processes' locks for up to ``timeout`` s."""
    if read_only and not path.exists():
        raise StoreError(
            f"no audit store at {path}: run an agent first, or point NEONHUB_DB at a store"
        )
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            if not is_lock_error(exc):
                raise StoreError(f"cannot open audit store {path}: {exc}") from None
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"audit store {path} stayed locked by another process for {timeout:.0f} s"
                ) from None
            time.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 0.05)
