"""Sessions of the team store: bounded connects, DuckDB-shaped values, read-only SQL.

* :func:`open_session` connects with bounds, so a server that is away is an error in
  seconds, never a hang: ``connect_timeout`` (5 s unless the URL says otherwise) and TCP
  keepalives with a user timeout for a server that vanishes mid-query. Parameters the
  URL gives win (``sslmode`` and the rest pass through unchanged).
* Values come back as the DuckDB store gives them, so every reader sees one shape:
  ``timestamptz`` as naive UTC ``datetime``, JSON as text, ``numeric`` as ``float``.
* :func:`to_pyformat` turns the product's ``?`` placeholders (DuckDB's) into psycopg's
  ``%s``: the dialect decision of docs/team.md, one text per engine where the text
  differs, placeholders converted where it does not.
* :func:`read_frame` runs one statement in a read-only transaction that is rolled back.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.adapt import Buffer, Loader
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.datetime import TimestamptzLoader
from psycopg.types.string import TextLoader

from ...errors import StoreError
from .url import PgUrl, connect, scrub

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "READ_ONLY_REFUSAL",
    "away_error",
    "is_connection_error",
    "open_session",
    "read_frame",
    "reading_cursor",
    "to_pyformat",
]

#: What analysts read when their SQL tries to change the trail (same words as DuckDB's).
READ_ONLY_REFUSAL = (
    "sql: the audit store is read-only here, so the statement was refused "
    "(runs are deleted by `neonhub-nb prune` alone)"
)
# Seconds; libpq's own names. A dead peer is noticed in about 15 s instead of the
# kernel's two hours of TCP retransmissions.
_BOUNDS: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 15_000,  # milliseconds
}


class _NaiveUtcLoader(TimestamptzLoader):
    """``timestamptz`` as naive UTC, as the DuckDB store keeps every time."""

    def load(self, data: Buffer) -> datetime:
        value = super().load(data)
        return value.astimezone(UTC).replace(tzinfo=None)


class _FloatFromNumeric(Loader):
    """``numeric`` (``sum`` of bigints, roll-up costs) as ``float``, as DuckDB gives it."""

    def load(self, data: Buffer) -> float:
        return float(bytes(data))


def open_session(
    url: PgUrl,
    *,
    autocommit: bool = True,
    read_only: bool = False,
    connect_timeout: float = 5.0,
) -> psycopg.Connection[Any]:
    """A connection to ``url`` with bounded waits, in UTC, giving DuckDB-shaped values.

    ``read_only`` makes every transaction of the session read-only. Raises
    :class:`StoreError` naming the server by its masked URL when it cannot connect.
    """
    given = conninfo_to_dict(url.conninfo())
    extra = {k: v for k, v in _BOUNDS.items() if k not in given}
    if "connect_timeout" not in given:
        extra["connect_timeout"] = max(1, round(connect_timeout))
    con = connect(url, autocommit=autocommit, **extra)
    for name in ("json", "jsonb"):
        con.adapters.register_loader(name, TextLoader)
    con.adapters.register_loader("timestamptz", _NaiveUtcLoader)
    con.adapters.register_loader("numeric", _FloatFromNumeric)
    if read_only:
        try:
            con.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            if not autocommit:
                con.commit()
        except psycopg.Error as exc:
            con.close()
            raise away_error(url, exc) from None
    return con


def reading_cursor(con: psycopg.Connection[Any]) -> psycopg.Cursor[Any]:
    """A cursor of ``con`` giving the values :func:`open_session` gives (naive UTC times,
    JSON as text, ``numeric`` as ``float``), whoever opened the connection: what
    :func:`neonhub_nb.store.dialect.execute` reads PostgreSQL with."""
    cursor = con.cursor()
    for name in ("json", "jsonb"):
        cursor.adapters.register_loader(name, TextLoader)
    cursor.adapters.register_loader("timestamptz", _NaiveUtcLoader)
    cursor.adapters.register_loader("numeric", _FloatFromNumeric)
    return cursor


def is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` says the server is away (not that a statement was wrong)."""
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return True
    state = getattr(exc, "sqlstate", None) or ""
    # 08: connection exception; 57P0x: the server shut down or is starting.
    return state.startswith("08") or state.startswith("57P")


def away_error(url: PgUrl, exc: BaseException) -> StoreError:
    """``exc`` as one line naming the server (masked) and saying what still works."""
    text = scrub(" ".join(str(exc).split()) or type(exc).__name__, url.secrets)
    return StoreError(f"cannot reach the team store {url.redacted}: {text}")


def to_pyformat(
    query: str, params: Sequence[Any] | Mapping[str, Any] | None
) -> tuple[str, Sequence[Any] | Mapping[str, Any]]:
    """``query`` with DuckDB's placeholders as psycopg's, and the parameters to send.

    ``?`` becomes ``%s`` when ``params`` is a sequence; ``$name`` becomes ``%(name)s``
    when it is a mapping. A literal ``%`` becomes ``%%``. Quoted text, quoted names,
    dollar-quoted bodies and comments are left alone. Parameters are always sent (an
    empty list when there are none), so the statement goes by the extended protocol,
    which runs exactly one statement: ``SELECT 1; DELETE ...`` is refused whole.
    """
    named = isinstance(params, Mapping)
    out: list[str] = []
    i, n = 0, len(query)
    while i < n:
        char = query[i]
        if char in "'\"":
            end = _closing(query, i + 1, char)
            out.append(query[i:end].replace("%", "%%"))
            i = end
        elif query.startswith("--", i):
            end = query.find("\n", i)
            end = n if end < 0 else end
            out.append(query[i:end].replace("%", "%%"))
            i = end
        elif query.startswith("/*", i):
            end = query.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(query[i:end].replace("%", "%%"))
            i = end
        elif char == "$":
            j = i + 1
            while j < n and (query[j].isalnum() or query[j] == "_"):
                j += 1
            if j < n and query[j] == "$":  # $tag$ ... $tag$: a dollar-quoted body
                tag = query[i : j + 1]
                end = query.find(tag, j + 1)
                end = n if end < 0 else end + len(tag)
                out.append(query[i:end].replace("%", "%%"))
                i = end
            elif named and j > i + 1 and not query[i + 1].isdigit():
                out.append(f"%({query[i + 1 : j]})s")
                i = j
            else:
                out.append(query[i:j])
                i = j
        elif char == "?" and params is not None and not named:
            out.append("%s")
            i += 1
        elif char == "%":
            out.append("%%")
            i += 1
        else:
            out.append(char)
            i += 1
    sent: Sequence[Any] | Mapping[str, Any] = params if params is not None else []
    return "".join(out), sent


def _closing(query: str, start: int, quote: str) -> int:
    """Index just past the quote that closes the one before ``start`` ('' escapes)."""
    i = start
    while i < len(query):
        if query[i] == quote:
            if i + 1 < len(query) and query[i + 1] == quote:
                i += 2
                continue
            return i + 1
        i += 1
    return len(query)


def read_frame(
    con: psycopg.Connection[Any],
    query: str,
    params: Sequence[Any] | Mapping[str, Any] | None = None,
    *,
    observers: Sequence[Any] = (),
    name: str = "sql",
) -> pd.DataFrame:
    """One statement (``?`` placeholders) in a read-only transaction that is rolled
    back, as a DataFrame; ``observers`` get ``(name, seconds)``.

    Raises :class:`StoreError`: :data:`READ_ONLY_REFUSAL` for a statement that would
    change the store, ``sql: <PostgreSQL's message>`` for any other refusal. A lost
    connection raises psycopg's error for the caller to name the server.
    """
    import pandas as pd

    text, sent = to_pyformat(query, params)
    start = time.perf_counter()
    try:
        con.execute("BEGIN READ ONLY")
        # A first snapshot: from here the transaction can no longer be made read-write.
        con.execute("SELECT 1")
        cursor = con.execute(text, sent)
        names = [column.name for column in cursor.description or ()]
        rows = cursor.fetchall() if cursor.description else []
    except psycopg.Error as exc:
        _rollback(con)
        if is_connection_error(exc):
            raise
        if exc.sqlstate in ("25006", "42501"):  # read-only transaction, no privilege
            raise StoreError(READ_ONLY_REFUSAL) from None
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise StoreError(f"{name}: {message}") from None
    _rollback(con)
    elapsed = time.perf_counter() - start
    for observe in observers:
        observe(name, elapsed)
    return pd.DataFrame(rows, columns=names)


def _rollback(con: psycopg.Connection[Any]) -> None:
    # Nothing a read did is kept, whatever it managed to do.
    if not con.closed and con.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        try:
            con.execute("ROLLBACK")
        except psycopg.Error:
            return
