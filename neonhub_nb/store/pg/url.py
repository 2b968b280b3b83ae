"""Connecting to PostgreSQL from a ``postgresql://`` URL without ever showing its password.

The URL is handed to libpq as it is, so every query parameter libpq knows (``sslmode``,
``sslrootcert``, ``connect_timeout``, ``target_session_attrs``, ``application_name`` ...)
passes through unchanged. What this module adds: the URL is checked before any network
traffic, every message and ``repr`` shows it with the password replaced by ``***``, and
each session runs in UTC so ``timestamptz`` values read back as UTC.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

from ...errors import StoreError

__all__ = ["SCHEMES", "PgUrl", "connect", "is_postgres_url", "scrub"]

SCHEMES = ("postgresql", "postgres")
# Query parameters that carry secrets of their own.
_SECRET_PARAMS = {"password", "sslpassword"}
_MASK = "***"
#: Seconds to wait for a server that does not answer, unless the URL says otherwise.
DEFAULT_CONNECT_TIMEOUT = 10


def is_postgres_url(value: str) -> bool:
    """Whether ``value`` names a PostgreSQL store (``NEONHUB_DB`` may also be a file path)."""
    return value.split("://", 1)[0].lower() in SCHEMES and "://" in value


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every non-empty secret (as given and percent-decoded) replaced by ***."""
    for secret in secrets:
        for form in {secret, unquote(secret), quote(secret, safe="")}:
            if form:
                text = text.replace(form, _MASK)
    return text


@dataclass(frozen=True)
class PgUrl:
    """A checked ``postgresql://`` URL; ``str`` and ``repr`` never show the password.

    Raises :class:`~neonhub_nb.errors.StoreError` (one line, password masked) when the
    scheme is not ``postgresql``/``postgres``, the URL names no database, or libpq
    rejects it (unknown query parameter, bad percent-encoding ...).
    """

    _raw: str = field(repr=False)

    def __post_init__(self) -> None:
        raw = self._raw
        secrets = self.secrets
        if not is_postgres_url(raw):
            scheme = raw.split("://", 1)[0] if "://" in raw else raw[:12]
            raise StoreError(f"url: must start with postgresql:// (got {scrub(scheme, secrets)!r})")
        try:
            parsed = conninfo_to_dict(raw)
        except psycopg.ProgrammingError as exc:
            message = " ".join(str(exc).split())  # libpq's messages end in a newline
            raise StoreError(f"url: {scrub(message, secrets)} in {self.redacted}") from None
        if not parsed.get("dbname"):
            raise StoreError(f"url: names no database (add /DBNAME): {self.redacted}")

    @property
    def secrets(self) -> tuple[str, ...]:
        """The password and any secret query parameters, as written in the URL."""
        parts = urlsplit(self._raw)
        found = [parts.password or ""]
        found += [v for k, v in parse_qsl(parts.query) if k.lower() in _SECRET_PARAMS]
        return tuple(s for s in found if s)

    @property
    def redacted(self) -> str:
        """The URL with its password and secret parameters replaced by ``***``."""
        parts = urlsplit(self._raw)
        netloc = parts.netloc
        if parts.password is not None:
            user, _, host = netloc.rpartition("@")
            netloc = f"{user.split(':', 1)[0]}:{_MASK}@{host}"
        query = urlencode(
            [(k, _MASK if k.lower() in _SECRET_PARAMS else v) for k, v in parse_qsl(parts.query)],
            safe="*",
        )
        return urlunsplit(parts._replace(netloc=netloc, query=query))

    @property
    def database(self) -> str:
        return str(conninfo_to_dict(self._raw)["dbname"])

    def conninfo(self) -> str:
        """The URL itself, with its password: only for handing to libpq."""
        return self._raw

    def __str__(self) -> str:
        return self.redacted

    def __repr__(self) -> str:
        return f"PgUrl({self.redacted!r})"


def connect(
    url: str | PgUrl, *, autocommit: bool = False, **kwargs: Any
) -> psycopg.Connection[Any]:
    """Open a connection to ``url`` whose session time zone is UTC.

    ``kwargs`` go to :func:`psycopg.connect` (they override the URL's parameters).
    ``connect_timeout`` defaults to 10 s and ``application_name`` to ``neonhub-nb``
    when the URL sets neither. Raises :class:`~neonhub_nb.errors.StoreError` naming the
    server by its redacted URL when the connection fails; the password is in no message.
    """
    target = url if isinstance(url, PgUrl) else PgUrl(url)
    given = conninfo_to_dict(target.conninfo())
    defaults: dict[str, Any] = {}
    if "connect_timeout" not in given:
        defaults["connect_timeout"] = DEFAULT_CONNECT_TIMEOUT
    if "application_name" not in given:
        defaults["application_name"] = "neonhub-nb"
    try:
        con = psycopg.connect(target.conninfo(), autocommit=autocommit, **{**defaults, **kwargs})
    except psycopg.Error as exc:
        message = " ".join(str(exc).split())  # libpq's messages span lines
        raise StoreError(
            f"cannot connect to {target.redacted}: {scrub(message, target.secrets)}"
        ) from None
    try:
        con.execute("SET TIME ZONE 'UTC'")
        if not autocommit:
            con.commit()
    except psycopg.Error as exc:
        con.close()
        raise StoreError(f"{target.redacted}: cannot set the session to UTC: {exc}") from None
    return con
