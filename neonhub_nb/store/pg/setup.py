"""``neonhub-nb db init``: migrate a team database and create its two roles.

Run with the database owner's URL, from any machine, any number of times: the
migrations run under an advisory lock (two machines at once: one applies, the other
finds nothing to do), the role set-up under another, and both are idempotent. A role
created now gets the password given or a generated one, shown once in the URLs this
returns; an existing role keeps its password unless a new one is given.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg

from ...errors import StoreError
from .migrations import LATEST_VERSION, apply_migrations
from .roles import READER, WRITER, ensure_roles
from .url import PgUrl, connect, scrub

__all__ = ["ROLES_LOCK", "InitReport", "init_database", "role_url"]

#: The advisory lock key taken while the roles are set up.
ROLES_LOCK = int.from_bytes(
    hashlib.sha256(b"neonhub_nb.store.pg.roles").digest()[:8], "big", signed=True
)
_SECRET_PARAMS = {"password", "sslpassword"}


@dataclass(frozen=True)
class InitReport:
    """What ``db init`` did: migrations applied now, the schema version, and the URLs
    for writers and readers (``None`` password: the role's existing one, unchanged)."""

    applied: tuple[str, ...]
    schema_version: int
    writer_url: str
    reader_url: str
    writer_password_set: bool
    reader_password_set: bool


def role_url(url: PgUrl, role: str, password: str | None) -> str:
    """``url`` logging in as ``role`` (host, port, database and TLS options kept; the
    owner's password and secret parameters dropped). Without a password, the URL has
    the placeholder ``PASSWORD`` in its place."""
    parts = urlsplit(url.conninfo())
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    secret = quote(password, safe="") if password is not None else "PASSWORD"
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query) if k.lower() not in _SECRET_PARAMS]
    )
    return urlunsplit(parts._replace(netloc=f"{role}:{secret}@{netloc}", query=query))


def _exists(con: psycopg.Connection[object], role: str) -> bool:
    return con.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone() is not None


def init_database(
    url: str | PgUrl,
    *,
    writer: str = WRITER,
    reader: str = READER,
    writer_password: str | None = None,
    reader_password: str | None = None,
) -> InitReport:
    """Migrate the database at ``url`` (its owner's) and set up the two roles.

    Raises :class:`StoreError` (one line, passwords masked) when the server cannot be
    reached, the URL's role may not create tables or roles, or a role name is bad.
    """
    target = url if isinstance(url, PgUrl) else PgUrl(url)
    hidden = (*target.secrets, *(p for p in (writer_password, reader_password) if p))
    with connect(target, autocommit=True) as con:
        try:
            applied = apply_migrations(con)
            con.execute("SELECT pg_advisory_lock(%s)", [ROLES_LOCK])
            try:
                new_writer = writer_password or (
                    None if _exists(con, writer) else secrets.token_urlsafe(24)
                )
                new_reader = reader_password or (
                    None if _exists(con, reader) else secrets.token_urlsafe(24)
                )
                ensure_roles(
                    con,
                    writer=writer,
                    reader=reader,
                    writer_password=new_writer,
                    reader_password=new_reader,
                )
            finally:
                con.execute("SELECT pg_advisory_unlock(%s)", [ROLES_LOCK])
        except psycopg.Error as exc:
            text = scrub(" ".join(str(exc).split()), hidden)
            raise StoreError(f"db init {target.redacted}: {text}") from None
    return InitReport(
        applied=tuple(applied),
        schema_version=LATEST_VERSION,
        writer_url=role_url(target, writer, new_writer),
        reader_url=role_url(target, reader, new_reader),
        writer_password_set=new_writer is not None,
        reader_password_set=new_reader is not None,
    )
