"""What an analyst's SQL may do on a DuckDB store: read the store's tables, nothing else.

A read-only connection already refuses writes to the store (``DELETE``, ``UPDATE``,
``DROP``). It does not refuse what reaches outside the store: ``COPY ... TO 'file'``
writes a file, ``read_csv('/etc/passwd')`` (or ``FROM '/etc/passwd'``) reads one,
``ATTACH``, ``INSTALL``, ``LOAD`` and ``SET`` change the session. So before a query
runs, DuckDB's own parser (``extract_statements``, ``json_serialize_sql``) is asked
what it is: only ``SELECT`` statements pass, and in them only the table functions that
compute (``range``, ``generate_series``, ``unnest``) or describe the schema
(``duckdb_tables()``, ``duckdb_columns()`` ...) and tables named plainly (a name
with a path separator or a dot is a file DuckDB would read in its place).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import duckdb
from duckdb import DuckDBPyConnection

from ..errors import StoreError
from .connection import one_row

__all__ = ["ALLOWED_TABLE_FUNCTIONS", "check_store_query"]

#: Table functions that compute rows, or describe the store's own schema, and touch no
#: file, other database or setting.
ALLOWED_TABLE_FUNCTIONS = frozenset(
    {
        "range",
        "generate_series",
        "unnest",
        "duckdb_tables",
        "duckdb_columns",
        "duckdb_views",
        "duckdb_indexes",
        "duckdb_constraints",
        "pragma_table_info",
    }
)

_REFUSED = (
    "sql: {what} is refused: the audit store is read-only here, and this command reads its "
    "tables and nothing else (runs are deleted by `neonhub-nb prune` alone)"
)


def check_store_query(con: DuckDBPyConnection, query: str) -> None:
    """Raise :class:`StoreError` (one line) unless ``query`` is SELECT statements that
    read only the store's tables and computed rows. Parses, never runs, the query."""
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise StoreError(f"sql: {' '.join(str(exc).split())}") from None
    for statement in statements:
        if statement.type != duckdb.StatementType.SELECT:
            kind = statement.type.name.replace("_", " ")
            raise StoreError(_REFUSED.format(what=f"a {kind} statement"))
        text = statement.query
        serialized = json.loads(one_row(con, "SELECT json_serialize_sql(?)", [text])[0])
        if serialized.get("error"):  # DuckDB could not describe it: do not run it blind
            raise StoreError(f"sql: {serialized.get('error_message') or 'cannot be read'}")
        for kind, name in _sources(serialized):
            if kind == "TABLE_FUNCTION" and name.lower() not in ALLOWED_TABLE_FUNCTIONS:
                raise StoreError(_REFUSED.format(what=f"the table function {name}()"))
            if kind == "BASE_TABLE" and any(mark in name for mark in "/\\.:"):
                raise StoreError(_REFUSED.format(what=f"reading the file {name!r}"))


def _sources(node: Any) -> Iterator[tuple[str, str]]:
    """Every table reference of a serialized statement: (``TABLE_FUNCTION``, function
    name) or (``BASE_TABLE``, table name), at any depth (subqueries, CTEs, joins)."""
    if isinstance(node, dict):
        kind = node.get("type")
        if kind == "TABLE_FUNCTION":
            yield kind, str((node.get("function") or {}).get("function_name", ""))
        elif kind == "BASE_TABLE":
            yield kind, str(node.get("table_name", ""))
        for value in node.values():
            yield from _sources(value)
    elif isinstance(node, list):
        for value in node:
            yield from _sources(value)
