"""A store is recognised before it is used (issue example 4), and a read-only folder or a
full disk is one line, exit code 2, nothing lost."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import duckdb
import pytest

from neonhub_nb.store import LATEST_VERSION, AuditStore
from neonhub_nb.store.recognise import UnusableStoreError

from .audit_support import neonhub, one_error_line, remount_read_only, tmpfs

RUN = ("run", "content.generate_article", "-p", "topic=Email marketing", "-p", "primary_keyword=kw")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _a_store(tmp_path: Path) -> Path:
    db = tmp_path / "real.duckdb"
    assert neonhub(*RUN, db=db).returncode == 0
    return db


def _make(kind: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{kind}.duckdb"
    if kind == "folder":
        path.mkdir()
    elif kind == "text":
        path.write_text("run_id,status\nrun_1,succeeded\n")
    elif kind == "empty":
        path.touch()
    elif kind == "sqlite":
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE agent_runs (run_id TEXT)")
        con.commit()
        con.close()
    elif kind in ("truncated_header", "truncated_body"):
        whole = _a_store(tmp_path)
        AuditStore(whole, background=False).close()  # checkpointed: one file
        cut = 5000 if kind == "truncated_header" else 20000
        path.write_bytes(whole.read_bytes()[:cut])
    return path


EXPECTED = {
    "folder": "is a folder, not a store file: point NEONHUB_DB at a file in it",
    "text": "is not a DuckDB file (it holds text)",
    "empty": "is an empty file, not a neonhub-nb store",
    "sqlite": "is an SQLite database, not a neonhub-nb store (DuckDB)",
    "truncated_header": "is a truncated DuckDB file (5000 bytes)",
    "truncated_body": "cannot be opened as a DuckDB store",
}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
@pytest.mark.parametrize("command", [RUN, ("runs",), ("sql", "SELECT 1")])
def test_a_path_that_is_not_a_store_is_one_line_exit_2_and_left_as_it_was(
    tmp_path: Path, kind: str, command: tuple[str, ...]
) -> None:
    path = _make(kind, tmp_path)
    before = None if path.is_dir() else _digest(path)
    result = neonhub(*command, db=path)
    assert result.returncode == 2, result.stdout
    message = one_error_line(result)
    assert str(path) in message and EXPECTED[kind] in message
    assert "succeeded" not in result.stdout
    if before is not None:
        assert _digest(path) == before
    else:
        assert list(path.iterdir()) == []


def test_a_postgresql_url_is_a_team_store_and_a_server_away_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It used to be a folder named "postgresql:". Now it is the team store (docs/team.md);
    # with its server unreachable the run is recorded in this machine's spool, quietly.
    monkeypatch.chdir(tmp_path)
    url = "postgresql://analyst:s3cret-pw@db.example.invalid:5432/neonhub"
    spool = tmp_path / "spool"
    result = neonhub(*RUN, db=url, env={"NEONHUB_SPOOL_DIR": str(spool)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("succeeded") and result.stderr == ""
    run_id = result.stdout.split()[1]
    segments = list(spool.rglob("*.jsonl"))
    assert segments and any(run_id in path.read_text() for path in segments)
    assert not Path("postgresql:").exists() and not (tmp_path / "postgresql:").exists()
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert not [path for path in files if b"s3cret-pw" in path.read_bytes()]
    assert "s3cret-pw" not in result.stderr + result.stdout


def test_the_python_api_refuses_the_same_paths_with_one_error_type(tmp_path: Path) -> None:
    for kind, expected in EXPECTED.items():
        folder = tmp_path / kind
        folder.mkdir()
        with pytest.raises(UnusableStoreError) as caught:
            AuditStore(_make(kind, folder), background=False).runs()
        assert expected in str(caught.value)
        assert "\n" not in str(caught.value)


def test_a_store_from_a_newer_schema_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    db = _a_store(tmp_path)
    con = duckdb.connect(str(db))
    con.execute(
        "INSERT INTO schema_migrations VALUES (?, 'from_the_future', now()::TIMESTAMP)",
        [LATEST_VERSION + 1],
    )
    con.execute("CHECKPOINT")
    con.close()
    before = _digest(db)
    for command in (RUN, ("runs",), ("ingest",)):
        result = neonhub(*command, db=db)
        assert result.returncode == 2
        message = one_error_line(result)
        assert f"schema version {LATEST_VERSION + 1}" in message
        assert "upgrade neonhub-nb" in message
    assert _digest(db) == before


def test_a_read_only_folder_reads_and_refuses_writes_in_one_line() -> None:
    with tmpfs("16m") as folder:
        db = folder / "s.duckdb"
        first = neonhub(*RUN, "--json", db=db)
        assert first.returncode == 0, first.stderr
        remount_read_only(folder)

        listed = neonhub("runs", db=db)
        assert listed.returncode == 0, listed.stderr
        assert "succeeded" in listed.stdout
        assert "Traceback" not in listed.stderr
        counted = neonhub("sql", "SELECT count(*) AS n FROM agent_runs", db=db)
        assert counted.returncode == 0 and counted.stdout.split()[-1] == "1"

        for command in (RUN, ("ingest",), ("prune", "--older-than", "1d", "--yes")):
            result = neonhub(*command, db=db)
            assert result.returncode == 2, (command, result.stdout)
            message = one_error_line(result)
            assert str(db) in message and "read-only" in message


def test_a_full_disk_is_one_line_and_loses_nothing_recorded_before() -> None:
    with tmpfs("8m") as folder:
        db = folder / "s.duckdb"
        assert neonhub(*RUN, db=db).returncode == 0
        filler = folder / "filler"
        _fill(filler)

        result = neonhub(*RUN, db=db)
        assert result.returncode == 2
        message = one_error_line(result)
        assert str(db) in message and "the disk is full" in message

        listed = neonhub("runs", "--json", db=db)  # reads still answer
        assert listed.returncode == 0, listed.stderr
        assert "Traceback" not in listed.stderr

        filler.unlink()
        again = neonhub(*RUN, db=db)
        assert again.returncode == 0, again.stderr
        store = AuditStore(db, read_only=True)
        assert store.sql("SELECT count(*) AS n FROM agent_runs")["n"][0] == 2
        # The failed write left no partial line behind: nothing was quarantined.
        assert store.sql("SELECT count(*) AS n FROM ingest_quarantine")["n"][0] == 0


def _fill(path: Path) -> None:
    """Write zeros into ``path`` until the file system is full."""
    with open(path, "wb", buffering=0) as handle:
        written = 1
        while written:
            try:
                written = handle.write(b"\0" * 65536) or 0
            except OSError as exc:
                if exc.errno != 28:  # ENOSPC: full, as wanted
                    raise
                written = 0


def test_a_full_disk_during_ingestion_keeps_the_spool_and_reads_still_answer() -> None:
    from .audit_support import good_run, write_segment

    with tmpfs("8m") as folder:
        db = folder / "s.duckdb"
        assert neonhub(*RUN, db=db).returncode == 0
        segment = write_segment(db, "other", b"".join(good_run(f"run_{i}") for i in range(200)))
        before = segment.read_bytes()
        _fill(folder / "filler")

        ingested = neonhub("ingest", db=db)
        assert ingested.returncode == 2
        message = one_error_line(ingested)
        assert str(db) in message and "the disk is full" in message

        listed = neonhub("runs", "--json", db=db)
        assert listed.returncode == 0, listed.stderr
        assert listed.stderr.startswith("note: showing the last ingested state")
        assert segment.read_bytes() == before  # nothing lost, nothing half-taken

        (folder / "filler").unlink()
        assert neonhub("ingest", db=db).returncode == 0
        count = AuditStore(db, read_only=True).sql("SELECT count(*) AS n FROM agent_runs")
        assert count["n"][0] == 201
