"""The DuckDB audit store: spool, ingestion, migrations and queries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .audit import AuditStore
from .ingest import IngestReport
from .schema import LATEST_VERSION, MIGRATIONS, apply_migrations, schema_version

if TYPE_CHECKING:
    from .queries import RunDetail

__all__ = [
    "LATEST_VERSION",
    "MIGRATIONS",
    "AuditStore",
    "IngestReport",
    "RunDetail",
    "apply_migrations",
    "schema_version",
]


def __getattr__(name: str) -> Any:
    # queries imports pandas (~0.2 s): only readers need it, so load it on first use.
    if name == "RunDetail":
        from .queries import RunDetail

        return RunDetail
    raise AttributeError(f"module 'neonhub_nb.store' has no attribute {name!r}")
