"""The writer and reader roles: read-only and append-only by construction, in the database.

* ``writer`` (ingesters): ``SELECT, INSERT, UPDATE`` on the audit tables, the spool
  ledger, the quarantine and the writers' leases; ``INSERT`` only on ``review_events``
  (decisions are appended, never changed); ``SELECT`` on the rest. No ``DELETE`` and no
  ``TRUNCATE`` on anything the trail holds, and no DDL: it owns no table and may not
  create any in the schema. The one exception is the dashboard's roll-up cells
  (``dash_*``), a cache recomputed whole from the audit tables, which it may also
  ``DELETE`` from. Deleting runs (``prune``) takes the database owner.
* ``reader`` (dashboard, exporter, notebooks): ``SELECT`` only, and every transaction it
  opens is read-only by default.

Passwords are sent as SCRAM-SHA-256 verifiers computed here, so the plain password is in
no statement the server could log (``log_statement = 'ddl'`` logs ``CREATE ROLE``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from typing import Any

import psycopg
from psycopg import sql

from ...errors import StoreError

__all__ = [
    "APPEND_TABLES",
    "AUDIT_TABLES",
    "DERIVED_TABLES",
    "READER",
    "READ_TABLES",
    "WRITER",
    "ensure_roles",
    "scram_verifier",
]

WRITER = "neonhub_writer"
READER = "neonhub_reader"
#: Tables the writer role inserts into and updates.
AUDIT_TABLES = (
    "agent_runs",
    "tool_executions",
    "agent_run_metrics",
    "content_drafts",
    "spool_segments",
    "ingest_quarantine",
    "writer_leases",
)
#: Tables the writer role only appends to.
APPEND_TABLES = ("review_events",)
#: Derived tables (the dashboard's roll-up cells) the writer role recomputes whole.
DERIVED_TABLES = ("dash_run_cells", "dash_tool_cells", "dash_error_cells", "dash_rollup_state")
#: Tables every role reads.
READ_TABLES = (
    *AUDIT_TABLES,
    *APPEND_TABLES,
    *DERIVED_TABLES,
    "metric_baselines",
    "schema_migrations",
)
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def scram_verifier(password: str, *, iterations: int = 4096, salt: bytes | None = None) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for ``password`` (RFC 5802/7677)."""
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def _check_name(field: str, name: str) -> None:
    if not _ROLE_NAME.match(name):
        raise StoreError(
            f"{field}: a role name is 1-63 lowercase letters, digits or _ (got {name!r})"
        )


def _ensure_role(con: psycopg.Connection[Any], name: str, password: str | None) -> None:
    row = con.execute(
        "SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls "
        "FROM pg_roles WHERE rolname = %s",
        [name],
    ).fetchone()
    role = sql.Identifier(name)
    if row is None:
        con.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
    elif row[0]:
        raise StoreError(
            f"role {name}: it may create roles or databases, bypass row security or is a "
            "superuser; a writer or reader role must not: choose another name"
        )
    if password is not None:
        verifier = sql.Literal(scram_verifier(password))
        con.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(role, verifier))


def ensure_roles(
    con: psycopg.Connection[Any],
    *,
    writer: str = WRITER,
    reader: str = READER,
    writer_password: str | None = None,
    reader_password: str | None = None,
) -> None:
    """Create the two roles if missing (set their passwords when given) and grant them
    exactly their privileges on the current database's audit tables; idempotent.

    Run after :func:`~neonhub_nb.store.pg.migrations.apply_migrations`, as a role that may
    create roles and owns the tables. Roles are cluster-wide: databases of one cluster
    can share them. Raises :class:`~neonhub_nb.errors.StoreError` for a bad role name or
    an existing role with more power than it should have.
    """
    _check_name("writer", writer)
    _check_name("reader", reader)
    if writer == reader:
        raise StoreError("reader: must differ from the writer role")
    database = con.execute("SELECT current_database()").fetchone()
    assert database is not None
    with con.transaction():
        _ensure_role(con, writer, writer_password)
        _ensure_role(con, reader, reader_password)
        w, r = sql.Identifier(writer), sql.Identifier(reader)
        db = sql.Identifier(str(database[0]))
        # PostgreSQL 15 already denies PUBLIC this; older servers granted it.
        con.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        con.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}, {}").format(db, w, r))
        con.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}, {}").format(w, r))
        audit = sql.SQL(", ").join(sql.Identifier(t) for t in AUDIT_TABLES)
        everything = sql.SQL(", ").join(sql.Identifier(t) for t in READ_TABLES)
        con.execute(sql.SQL("REVOKE ALL ON {} FROM {}, {}").format(everything, w, r))
        con.execute(sql.SQL("GRANT SELECT ON {} TO {}, {}").format(everything, w, r))
        con.execute(sql.SQL("GRANT INSERT, UPDATE ON {} TO {}").format(audit, w))
        appended = sql.SQL(", ").join(sql.Identifier(t) for t in APPEND_TABLES)
        con.execute(sql.SQL("GRANT INSERT ON {} TO {}").format(appended, w))
        derived = sql.SQL(", ").join(sql.Identifier(t) for t in DERIVED_TABLES)
        con.execute(sql.SQL("GRANT INSERT, UPDATE, DELETE ON {} TO {}").format(derived, w))
        con.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(r))
