"""The DuckDB audit store: spool, ingestion, migrations and queries."""

from .audit import AuditStore
from .ingest import IngestReport
from .queries import RunDetail
from .schema import LATEST_VERSION, MIGRATIONS, apply_migrations, schema_version

__all__ = [
    "LATEST_VERSION",
    "MIGRATIONS",
    "AuditStore",
    "IngestReport",
    "RunDetail",
    "apply_migrations",
    "schema_version",
]
