"""One SQL text per engine behind one interface: the readers run on either store.

The audit store is a DuckDB file or a PostgreSQL database (``docs/team.md``). A query
the two engines read alike is written once; one they read differently is an :class:`Sql`
holding both texts side by side. Either way the caller hands it, with its parameters, to
:func:`execute` (or :func:`fetchall` / :func:`fetchone`), which picks the text by the
connection's engine, decided once per call from the connection's type:

>>> rows = fetchall(con, Sql(                                           # doctest: +SKIP
...     duckdb="SELECT list(DISTINCT agent ORDER BY agent) FROM agent_runs",
...     postgres="SELECT array_agg(DISTINCT agent ORDER BY agent) FROM agent_runs"))

Both texts use DuckDB's ``?`` placeholders. On PostgreSQL the text is converted once
(:func:`~neonhub_nb.store.pg.session.to_pyformat`: ``?`` to ``%s``, a literal ``%``
doubled, quoted text left alone; cached), naive datetimes in the parameters are taken as
UTC (as everywhere in the store), and rows come back as DuckDB gives them: ``timestamptz``
as naive UTC datetimes, ``json``/``jsonb`` as JSON text, ``numeric`` as ``float``. A
PostgreSQL text must not use the ``?`` JSONB operators (write ``jsonb_exists`` or ``->``).

Nothing here imports psycopg until a PostgreSQL connection comes: a DuckDB-only process
never pays for it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from ..errors import StoreError

__all__ = [
    "Engine",
    "Sql",
    "engine_of",
    "execute",
    "executemany",
    "fetchall",
    "fetchone",
    "is_postgres",
    "pg_text",
]

Engine = Literal["duckdb", "postgres"]


def engine_of(con: Any) -> Engine:
    """``postgres`` for a psycopg connection, else ``duckdb`` (a DuckDB connection, or a
    wrapper around one such as the benchmarks' recorders)."""
    return "postgres" if type(con).__module__.startswith("psycopg") else "duckdb"


def is_postgres(con: Any) -> bool:
    """Whether ``con`` is a PostgreSQL (psycopg) connection."""
    return engine_of(con) == "postgres"


@dataclass(frozen=True)
class Sql:
    """A query's DuckDB text and, when PostgreSQL needs another, PostgreSQL's."""

    duckdb: str
    postgres: str | None = None

    def text(self, engine: Engine) -> str:
        """The text for ``engine`` (DuckDB's when PostgreSQL has none of its own)."""
        if engine == "postgres" and self.postgres is not None:
            return self.postgres
        return self.duckdb


@functools.lru_cache(maxsize=1024)
def pg_text(text: str) -> str:
    """``text`` with psycopg's placeholders: ``?`` becomes ``%s``, ``%`` becomes ``%%``
    (outside quoted text and comments)."""
    from .pg.session import to_pyformat

    return to_pyformat(text, ())[0]


def _pg_param(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # naive means UTC in the audit store
    if isinstance(value, list | tuple):
        return [_pg_param(v) for v in value]
    return value


def _pg_cursor(con: Any) -> Any:
    """A cursor of ``con`` that reads rows as DuckDB gives them (see the module's doc)."""
    from .pg.session import reading_cursor

    return reading_cursor(con)


def execute(con: Any, query: str | Sql, params: Sequence[Any] = ()) -> Any:
    """Run ``query`` on ``con`` with ``params``; returns a cursor (``fetchall`` /
    ``fetchone`` / ``description``). Raises the engine's own error (``duckdb.Error`` or
    ``psycopg.Error``)."""
    engine = engine_of(con)
    text = query.text(engine) if isinstance(query, Sql) else query
    if engine == "duckdb":
        return con.execute(text, list(params))
    cursor = _pg_cursor(con)
    cursor.execute(pg_text(text), [_pg_param(p) for p in params])
    return cursor


def executemany(con: Any, query: str | Sql, rows: Sequence[Sequence[Any]]) -> None:
    """Run ``query`` once per row of parameters (inside the caller's transaction)."""
    engine = engine_of(con)
    text = query.text(engine) if isinstance(query, Sql) else query
    if engine == "duckdb":
        con.executemany(text, [list(row) for row in rows])
        return
    with con.cursor() as cursor:
        cursor.executemany(pg_text(text), [[_pg_param(p) for p in row] for row in rows])


def fetchall(con: Any, query: str | Sql, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Every row of ``query``, as tuples."""
    rows: list[tuple[Any, ...]] = execute(con, query, params).fetchall()
    return rows


def fetchone(con: Any, query: str | Sql, params: Sequence[Any] = ()) -> tuple[Any, ...]:
    """The one row an aggregate query returns (``count(*)``, ``max(...)``).

    Raises :class:`~neonhub_nb.errors.StoreError` when the query returned no row.
    """
    row = execute(con, query, params).fetchone()
    if row is None:
        text = query.duckdb if isinstance(query, Sql) else query
        raise StoreError(f"no row from a query that always returns one: {text[:80]}")
    return tuple(row)
