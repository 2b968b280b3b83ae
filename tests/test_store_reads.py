"""Reads: analysts' SQL cannot change the trail (issue example 3), and a read never fails
because another process holds the file (issue example 9)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from neonhub_nb.errors import StoreError
from neonhub_nb.store import AuditStore

from .audit_support import neonhub, one_error_line

RUN = ("run", "content.generate_article", "-p", "topic=Email marketing", "-p", "primary_keyword=kw")

WRITES = [
    "DELETE FROM agent_runs WHERE status = 'succeeded'",
    "UPDATE agent_runs SET status = 'failed'",
    "DROP TABLE agent_runs",
    "INSERT INTO agent_runs (run_id) VALUES ('x')",
    "CREATE TABLE notes (x INTEGER)",
    "ALTER TABLE agent_runs ADD COLUMN x INTEGER",
    "ATTACH ':memory:' AS m; USE m; DETACH neonhub_db; "
    "ATTACH '{db}' AS w (READ_WRITE); DELETE FROM w.agent_runs",
]


@pytest.mark.parametrize("statement", WRITES)
def test_sql_is_read_only_and_deletes_nothing(tmp_path: Path, statement: str) -> None:
    db = tmp_path / "neonhub_db.duckdb"
    assert neonhub(*RUN, db=db).returncode == 0
    result = neonhub("sql", statement.format(db=db), db=db)
    assert result.returncode == 2
    message = one_error_line(result)
    assert "read-only" in message and "prune" in message
    counted = neonhub("sql", "SELECT count(*) AS n FROM agent_runs", db=db)
    assert counted.stdout.split()[-1] == "1"


OUTSIDE = [
    "COPY agent_runs TO '{out}'",
    "COPY (SELECT * FROM agent_runs) TO '{out}' (FORMAT csv)",
    "SELECT count(*) FROM read_csv('/etc/passwd')",
    "SELECT * FROM '/etc/passwd'",
    "SELECT * FROM agent_runs, (SELECT * FROM read_text('/etc/hostname'))",
    "WITH x AS (SELECT * FROM glob('/*')) SELECT count(*) FROM x",
    "EXPORT DATABASE '{out}'",
    "INSTALL httpfs",
    "SET enable_external_access = true",
]


@pytest.mark.parametrize("statement", OUTSIDE)
def test_sql_reads_the_store_and_nothing_outside_it(tmp_path: Path, statement: str) -> None:
    db = tmp_path / "s.duckdb"
    assert neonhub(*RUN, db=db).returncode == 0
    out = tmp_path / "out.csv"
    result = neonhub("sql", statement.format(out=out), db=db)
    assert result.returncode == 2
    message = one_error_line(result)
    assert "is refused" in message and "reads its tables and nothing else" in message
    assert not out.exists()
    assert "root:" not in result.stdout


def test_sql_that_computes_and_reads_the_store_still_runs(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    assert neonhub(*RUN, db=db).returncode == 0
    query = (
        "WITH r AS (SELECT run_id FROM main.agent_runs) "
        "SELECT (SELECT count(*) FROM r) AS runs, (SELECT count(*) FROM range(6)) AS six"
    )
    result = neonhub("sql", query, db=db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["1", "6"]


def test_the_python_sql_is_read_only_too(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "s.duckdb", background=False)
    store.record_run_started(
        {
            "run_id": "run_1",
            "agent": "content",
            "intent": "content.generate_article",
            "status": "running",
            "mode": "mock",
            "started_at": "2026-03-01T12:00:00",
        }
    )
    with pytest.raises(StoreError, match="read-only"):
        store.sql("DELETE FROM agent_runs")
    assert store.sql("SELECT count(*) AS n FROM agent_runs")["n"][0] == 1
    store.close()


_HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
con.execute("SELECT count(*) FROM agent_runs").fetchall()
print("HOLDING", flush=True)
time.sleep(600)
"""


@contextmanager
def held(db: Path, mode: str) -> Iterator[None]:
    """Another process holding the store open (``ro``: like ``duckdb -readonly``)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(db), mode], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "HOLDING"
        yield
    finally:
        holder.kill()
        holder.wait(timeout=30)
        holder.stdout.close()


def test_a_long_read_only_session_elsewhere_never_becomes_a_lock_error_here(
    tmp_path: Path,
) -> None:
    db = tmp_path / "s.duckdb"
    first = json.loads(neonhub(*RUN, "--json", db=db).stdout)
    with held(db, "ro"):
        second = neonhub(*RUN, "--json", db=db)  # spooled: the file is held
        assert second.returncode == 0, second.stderr
        spooled = json.loads(second.stdout)["run_id"]

        listed = neonhub("runs", db=db)
        assert listed.returncode == 0, listed.stderr
        assert "error" not in listed.stderr
        assert listed.stderr.startswith(
            "note: showing the last ingested state of the audit store (another process holds "
            "the file)"
        )
        assert "1 run) are not in it yet" in listed.stderr
        assert f"still spooled, not in the list below yet: {spooled}" in listed.stdout
        assert first["run_id"] in listed.stdout

        counted = neonhub("sql", "SELECT count(*) AS n FROM agent_runs", db=db)
        assert counted.returncode == 0 and counted.stdout.split()[-1] == "1"
        shown = neonhub("show", first["run_id"], db=db)
        assert shown.returncode == 0 and first["run_id"] in shown.stdout
    after = neonhub("runs", db=db)
    assert after.returncode == 0 and after.stderr == ""
    assert spooled in after.stdout and first["run_id"] in after.stdout


def test_a_file_held_read_write_elsewhere_is_read_from_a_copy(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    first = json.loads(neonhub(*RUN, "--json", db=db).stdout)
    with held(db, "rw"):
        listed = neonhub("runs", "--json", db=db)
        assert listed.returncode == 0, listed.stderr
        assert listed.stderr.startswith("note: showing a copy of the audit store")
        assert [row["run_id"] for row in json.loads(listed.stdout)] == [first["run_id"]]
    assert list(Path(db.parent).glob("neonhub-read-*")) == []


def test_last_read_says_where_an_answer_came_from(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    assert neonhub(*RUN, db=db).returncode == 0
    store = AuditStore(db, background=False)
    store.runs()
    assert store.last_read.source == "live" and not store.last_read.stale
    with held(db, "ro"):
        store.runs()
        assert store.last_read.source == "last_ingested"
        assert store.last_read.reason == "another process holds the file"
    store.close()


@pytest.mark.parametrize(
    ("args", "rule"),
    [
        (("--limit", "-1"), "--limit': must be a whole number from 1 to 1,000,000 (got -1)"),
        (("--limit", "99999999999999999999"), "--limit': must be a whole number from 1 to"),
        (("--status", "bogus"), "--status': 'bogus' is not one of 'queued', 'running'"),
    ],
)
def test_runs_refuses_bad_listing_options_in_one_line(
    tmp_path: Path, args: tuple[str, ...], rule: str
) -> None:
    db = tmp_path / "s.duckdb"
    assert neonhub(*RUN, db=db).returncode == 0
    result = neonhub("runs", *args, db=db)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert rule in result.stderr


def test_an_empty_filtered_listing_says_so(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    assert neonhub(*RUN, db=db).returncode == 0
    assert neonhub("runs", "--agent", "nope", db=db).stdout.strip() == "no runs match these filters"
