"""What a reader sees when it cannot have the latest state: said as such, never an error.

A read normally ingests the spool first and then reads (so it sees every run recorded so
far). When that cannot happen within a second (another process holds the file, say an
analyst's ``duckdb -readonly`` session; the disk is full; the folder is read-only), the
read falls back, in this order, to:

1. a read-only connection: the state of the last ingestion (any number of readers share
   the file, so an analyst's read-only session does not stop it);
2. a copy of the file taken now, opened read-only: for a file held read-write by a
   process outside neonhub-nb, which lets no one else open it.

Either way the :class:`ReadNote` says where the answer came from and what is still
spooled (events and runs written but not yet ingested), which
:func:`pending_spool` counts straight from the spool segments.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from duckdb import DuckDBPyConnection

from .spool import list_segments

__all__ = ["ReadNote", "pending_in_spool", "pending_spool", "snapshot_copy"]


@dataclass(frozen=True)
class ReadNote:
    """Where the last read's answer came from.

    ``source``: ``live`` (ingested just before reading: everything recorded so far),
    ``last_ingested`` (a read-only view of the last ingestion) or ``copy`` (a copy of the
    file taken at read time). ``pending_events``/``pending_runs`` count what is spooled but
    not in the answer; ``reason`` says why it was not ingested first.
    """

    source: str = "live"
    reason: str | None = None
    pending_events: int = 0
    pending_runs: tuple[str, ...] = field(default=())

    @property
    def stale(self) -> bool:
        return self.source != "live"

    def describe(self) -> str:
        """One line for people: empty for a live read."""
        if not self.stale:
            return ""
        where = "the last ingested state" if self.source == "last_ingested" else "a copy"
        pending = (
            f"; {self.pending_events} spooled events ({len(self.pending_runs)} runs) are not "
            "in it yet and will be ingested when the store is free"
            if self.pending_events
            else "; nothing is waiting in the spool"
        )
        return f"showing {where} of the audit store ({self.reason}){pending}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "reason": self.reason,
            "pending_events": self.pending_events,
            "pending_runs": list(self.pending_runs),
        }


def pending_spool(con: DuckDBPyConnection, spool_dir: Path) -> tuple[int, tuple[str, ...]]:
    """Events and run ids in the spool past what ``con``'s store has ingested.

    Reads each segment from its ingested offset; a line that does not parse is counted
    as an event (it will be ingested or quarantined) but names no run.
    """
    try:
        offsets = dict(con.execute("SELECT segment, ingested_bytes FROM spool_segments").fetchall())
    except Exception:  # a store from before the ledger, or an empty file
        offsets = {}
    return pending_in_spool(spool_dir, offsets)


def pending_in_spool(spool_dir: Path, offsets: Mapping[str, int]) -> tuple[int, tuple[str, ...]]:
    """Events and run ids in ``spool_dir``'s segments past ``offsets`` (segment name ->
    bytes ingested; a segment not named counts from its start)."""
    events = 0
    runs: dict[str, None] = {}
    for segment in list_segments(spool_dir):
        try:
            with open(segment.path, "rb") as handle:
                handle.seek(int(offsets.get(segment.name, 0)))
                data = handle.read()
        except OSError:  # gone, or unreadable (the ingester reports those)
            continue
        for line in data.split(b"\n")[:-1]:
            if not line.strip():
                continue
            events += 1
            try:
                event = orjson.loads(line)
                if event.get("t") == "run":
                    runs[str(event["row"]["run_id"])] = None
            except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError):
                continue
    return events, tuple(runs)


def snapshot_copy(path: Path) -> Path:
    """A copy of ``path`` in a new temporary folder (the caller removes the folder)."""
    folder = Path(tempfile.mkdtemp(prefix="neonhub-read-"))
    target = folder / path.name
    shutil.copyfile(path, target)
    return target
