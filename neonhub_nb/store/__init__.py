"""The audit store: spool, ingestion, migrations and queries, on DuckDB (one file) or
PostgreSQL (a team's, in :mod:`neonhub_nb.store.pg`), behind one interface (:class:`Store`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .audit import AuditStore
from .backend import open_store
from .base import Backlog, Store
from .ingest import IngestReport
from .schema import LATEST_VERSION, MIGRATIONS, apply_migrations, schema_version

if TYPE_CHECKING:
    from .queries import RunDetail

__all__ = [
    "LATEST_VERSION",
    "MIGRATIONS",
    "AuditStore",
    "Backlog",
    "IngestReport",
    "RunDetail",
    "Store",
    "apply_migrations",
    "open_store",
    "schema_version",
]


def __getattr__(name: str) -> Any:
    # queries imports pandas (~0.2 s): only readers need it, so load it on first use.
    if name == "RunDetail":
        from .queries import RunDetail

        return RunDetail
    raise AttributeError(f"module 'neonhub_nb.store' has no attribute {name!r}")
