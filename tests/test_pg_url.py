"""Connecting from a postgresql:// URL: parameters pass through, the password never shows."""

from __future__ import annotations

import logging
import traceback
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

from neonhub_nb.errors import StoreError
from neonhub_nb.store.pg import PgUrl, connect, is_postgres_url

from . import pg
from .pg import PgCluster

pg_cluster, pg_url = pg.pg_cluster, pg.pg_url  # the fixtures, for this module's tests


def _with_params(url: str, query: str) -> str:
    return urlunsplit(urlsplit(url)._replace(query=query))


def _with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}:{quote(password, safe='')}@{parts.hostname}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _everything_shown(exc: BaseException) -> str:
    return "\n".join([str(exc), repr(exc), *traceback.format_exception(exc)])


def test_a_session_runs_in_utc_and_tells_who_it_is(pg_url: str) -> None:
    with connect(pg_url) as con:
        row = con.execute("SHOW TimeZone").fetchone()
        name = con.execute("SHOW application_name").fetchone()
        stamp = con.execute("SELECT '2026-03-01 12:00:00+02'::timestamptz").fetchone()
    assert row == ("UTC",)
    assert name == ("neonhub-nb",)
    assert stamp is not None
    assert stamp[0].isoformat() == "2026-03-01T10:00:00+00:00"


def test_query_parameters_reach_libpq(pg_url: str) -> None:
    named = _with_params(pg_url, "sslmode=disable&application_name=team-dashboard")
    with connect(named) as con:
        assert con.execute("SHOW application_name").fetchone() == ("team-dashboard",)
        assert con.execute(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        ).fetchone() == (False,)
    # The local server has no TLS: libpq refuses sslmode=require, proving it got there.
    with pytest.raises(StoreError, match="server does not support SSL"):
        connect(_with_params(pg_url, "sslmode=require"))


def test_the_password_is_in_no_error_log_or_repr(
    pg_cluster: PgCluster, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cr%t/pw:with@odd+chars"
    wrong = _with_password(pg_cluster.url, secret)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(StoreError) as failed:
        connect(wrong)
    shown = _everything_shown(failed.value)
    assert "password authentication failed" in shown
    assert "postgres:***@127.0.0.1" in shown
    for form in (secret, quote(secret, safe="")):
        assert form not in shown
        assert form not in caplog.text
        assert form not in repr(PgUrl(wrong))
        assert form not in str(PgUrl(wrong))

    right = pg_cluster.password
    with connect(pg_cluster.url) as con:
        assert right not in repr(con)
        assert right not in str(con.info.dsn)
    assert right not in caplog.text


def test_secret_query_parameters_are_masked_too(pg_url: str) -> None:
    url = _with_params(pg_url, "sslmode=disable&sslpassword=keyphrase-123")
    shown = PgUrl(url).redacted
    assert "keyphrase-123" not in shown
    assert "sslmode=disable" in shown
    assert "sslpassword=***" in shown


def test_a_server_that_is_not_there_is_one_line_without_the_password() -> None:
    url = "postgresql://ingest:hunter2-pw@127.0.0.1:1/neonhub?connect_timeout=2"
    with pytest.raises(StoreError) as failed:
        connect(url)
    message = str(failed.value)
    assert "\n" not in message
    assert message.startswith("cannot connect to postgresql://ingest:***@127.0.0.1:1/neonhub")
    assert "hunter2-pw" not in _everything_shown(failed.value)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://u:pw-9@h/db", "url: must start with postgresql://"),
        ("postgresql://u:pw-9@localhost:5432", "url: names no database"),
        (
            "postgresql://u:pw-9@localhost/db?nosuchparam=1",
            'invalid URI query parameter: "nosuchparam"',
        ),
        ("postgresql://u:pw-9%zz@localhost/db", "invalid percent-encoded token"),
    ],
)
def test_bad_urls_are_refused_before_any_connection(url: str, says: str) -> None:
    with pytest.raises(StoreError, match=says) as failed:
        PgUrl(url)
    assert "pw-9" not in _everything_shown(failed.value)
    assert "\n" not in str(failed.value)


def test_which_values_name_a_postgres_store() -> None:
    assert is_postgres_url("postgresql://h/db")
    assert is_postgres_url("postgres://h/db")
    assert not is_postgres_url("data/neonhub.duckdb")
    assert not is_postgres_url("postgresql.duckdb")
