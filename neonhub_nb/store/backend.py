"""Which store a setting names: a DuckDB file (the default) or a team's PostgreSQL.

``NEONHUB_DB=postgresql://...`` (or ``postgres://``) opens a
:class:`~neonhub_nb.store.pg.PgStore`; anything else is a DuckDB file path and opens an
:class:`~neonhub_nb.store.AuditStore`. psycopg is imported only for a URL.
"""

from __future__ import annotations

from typing import Any

from ..config import Settings
from .base import Store

__all__ = ["open_store"]


def open_store(settings: Settings, **kwargs: Any) -> Store:
    """The store ``settings`` name, built with ``kwargs`` (``read_only``, ``background``,
    ``ingest_interval`` ...). Raises :class:`~neonhub_nb.errors.StoreError` (one line,
    password masked) when the path or URL cannot be a store."""
    if settings.store_url:
        from .pg.store import PgStore

        return PgStore.from_settings(settings, **kwargs)
    from .audit import AuditStore

    return AuditStore.from_settings(settings, **kwargs)
