"""The audit store's PostgreSQL side: a team's shared trail.

* :mod:`.url` — connect from a ``postgresql://`` URL (query parameters such as
  ``sslmode`` pass through to libpq; the password never reaches a message or ``repr``).
* :mod:`.migrations` — the named migrations (same versions and names as the DuckDB
  store's), applied under an advisory lock.
* :mod:`.roles` — the ``writer`` (insert/update only) and ``reader`` (select only) roles.
* :mod:`.upsert` — one spool batch and its offsets in one transaction, exactly once.
* :mod:`.store` — :class:`PgStore`, the team store behind ``NEONHUB_DB=postgresql://...``:
  each machine's spool (:mod:`.machine`), pushed by :mod:`.ingest` with writer leases
  (:mod:`.leases`); reads in :mod:`.reading`, :mod:`.queries` and :mod:`.session`;
  snapshot, export and prune in :mod:`.maintenance`.
"""

from __future__ import annotations

from .migrations import LATEST_VERSION, MIGRATIONS, apply_migrations, schema_version
from .roles import READER, WRITER, ensure_roles
from .store import PgStore
from .upsert import SegmentRange, UpsertResult, check_rows, upsert_batch
from .url import PgUrl, connect, is_postgres_url

__all__ = [
    "LATEST_VERSION",
    "MIGRATIONS",
    "READER",
    "WRITER",
    "PgStore",
    "PgUrl",
    "SegmentRange",
    "UpsertResult",
    "apply_migrations",
    "check_rows",
    "connect",
    "ensure_roles",
    "is_postgres_url",
    "schema_version",
    "upsert_batch",
]
