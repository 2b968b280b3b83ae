"""A real, throwaway PostgreSQL for the tests: one cluster per test session, one fresh
database per test.

The cluster is started by ``scripts/postgres.sh`` (Debian's server; run as the
``postgres`` user when the tests run as root) in a new folder under /tmp and stopped and
deleted at the end of the session. Where it cannot start, the tests that need it are
skipped with the reason, except in CI (``CI=true``), where they fail: CI must run them.

Bind the fixtures in a test module to use them::

    from . import pg

    pg_cluster, pg_url = pg.pg_cluster, pg.pg_url
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

__all__ = [
    "IN_CI",
    "PG_SCRIPT",
    "PgCluster",
    "as_role",
    "merge_rows",
    "pg_cluster",
    "pg_url",
    "run_rows",
    "with_database",
]

ROOT = Path(__file__).resolve().parents[1]
PG_SCRIPT = ROOT / "scripts" / "postgres.sh"
# Read at import, before the autouse fixture clears the environment for each test.
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def with_database(url: str, database: str) -> str:
    """``url`` pointing at another database (same credentials and parameters)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@dataclass(frozen=True)
class PgCluster:
    """A running local cluster: the superuser's URL (database ``neonhub``) and its folder."""

    url: str
    folder: Path

    @property
    def password(self) -> str:
        return urlsplit(self.url).password or ""

    def stop(self) -> None:
        subprocess.run([str(PG_SCRIPT), "stop", str(self.folder)], check=True, timeout=120)

    def start(self) -> None:
        subprocess.run(
            [str(PG_SCRIPT), "start", str(self.folder)],
            check=True,
            timeout=120,
            capture_output=True,
        )

    def create_database(self) -> str:
        """A new empty database; returns the superuser's URL for it."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as con:
            con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return with_database(self.url, name)

    def drop_database(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        with psycopg.connect(self.url, autocommit=True) as con:
            con.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true, so the PostgreSQL tests must run, but: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One PostgreSQL cluster for the whole test session (about 1.5 s to start)."""
    # Not pytest's tmp_path: its folders are closed to other users, and the server runs
    # as the postgres user when the tests run as root.
    folder = Path(tempfile.mkdtemp(prefix="neonhub-pg-", dir="/tmp"))
    try:
        started = subprocess.run(
            [str(PG_SCRIPT), "start", str(folder)],
            capture_output=True,
            text=True,
            timeout=600,  # may apt-get install postgresql first
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        _unavailable(f"scripts/postgres.sh could not run: {exc}")
        raise  # unreachable: _unavailable skips or fails
    if started.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        _unavailable(f"scripts/postgres.sh start failed: {started.stderr.strip()[-500:]}")
    cluster = PgCluster(started.stdout.strip().splitlines()[-1], folder)
    try:
        yield cluster
    finally:
        subprocess.run([str(PG_SCRIPT), "stop", str(folder)], check=False, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> Iterator[str]:
    """The superuser's URL of a fresh, empty database, dropped after the test."""
    url = pg_cluster.create_database()
    try:
        yield url
    finally:
        pg_cluster.drop_database(url)


def as_role(url: str, user: str, password: str) -> str:
    """``url`` logging in as another role."""
    parts = urlsplit(url)
    netloc = f"{user}:{password}@{parts.hostname}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def run_rows(run_id: str, *, status: str = "succeeded", tools: int = 5) -> dict[str, list[Any]]:
    """One finished run as the ingester hands it over: the run, its tool executions, four
    metrics and a draft (about 4 KB, most of it in the tool calls' JSON)."""
    started = "2026-05-01T10:00:00.250000"
    run = {
        "run_id": run_id,
        "agent": "content",
        "intent": "content.generate_article",
        "status": status,
        "mode": "mock",
        "started_at": started,
        "finished_at": "2026-05-01T10:00:01.750000" if status != "running" else None,
        "duration_ms": 1500.0 if status != "running" else None,
        "input": {"topic": "bakery newsletters", "word_count": 600},
        "output": {"title": "Rise and shine"} if status != "running" else None,
        "error": None,
        "model": "mock-writer",
        "redacted_fields": [],
        "writer_id": "laptop-1-1234-abcd",
        "seed": 7,
    }
    executions = [
        {
            "execution_id": f"{run_id}-t{seq}",
            "run_id": run_id,
            "seq": seq,
            "tool": "llm" if seq == 0 else "connector.gsc",
            "operation": "chat" if seq == 0 else "query",
            "status": "succeeded",
            "started_at": started,
            "duration_ms": 12.5,
            "request": {"prompt": "x" * 300, "seq": seq},
            "response": {"text": "y" * 300, "rate_limited": False},
            "error": None,
        }
        for seq in range(tools)
    ]
    metrics = [
        {"run_id": run_id, "name": name, "value": value, "unit": unit}
        for name, value, unit in (
            ("prompt_tokens", 420.0, "tokens"),
            ("completion_tokens", 800.0, "tokens"),
            ("total_tokens", 1220.0, "tokens"),
            ("cost_usd", 0.0012, "usd"),
        )
    ]
    drafts = [
        {
            "draft_id": f"{run_id}-d",
            "run_id": run_id,
            "title": "Rise and shine",
            "content": "Dear bakers, " * 20,
            "metadata": {"words": 600},
            "status": "draft",
            "created_at": started,
            "updated_at": started,
            "topic": "bakery newsletters",
            "primary_keyword": "bakery newsletter",
        }
    ]
    return {
        "agent_runs": [run],
        "tool_executions": executions,
        "agent_run_metrics": metrics,
        "content_drafts": drafts,
    }


def merge_rows(*batches: dict[str, list[Any]]) -> dict[str, list[Any]]:
    merged: dict[str, list[Any]] = {}
    for batch in batches:
        for table, rows in batch.items():
            merged.setdefault(table, []).extend(rows)
    return merged
