"""The store's two backends as one test fixture: a DuckDB file, or a real PostgreSQL
database (migrated, with its writer and reader roles) behind a machine's spool.

A test that takes ``backend`` runs twice. ``backend.store()`` is what an analyst's
process opens (the PostgreSQL side logs in as the writer role), ``backend.owner()`` what
prune needs, ``backend.reader()`` what the dashboard and the exporter open;
``backend.write_segment`` puts hand-written spool lines where that store's ingester
looks, and ``backend.cli`` runs ``neonhub-nb`` in a fresh process on the same store and
spool.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from neonhub_nb.store import AuditStore, Store
from neonhub_nb.store.pg import PgStore, apply_migrations, connect, ensure_roles
from neonhub_nb.store.pg.machine import machine_id, team_spool_dir

from .audit_support import neonhub
from .pg import as_role

__all__ = ["READER_PW", "WRITER_PW", "Backend", "backend", "team_urls"]

WRITER_PW = "writer-pw-Tq93xLm"
READER_PW = "reader-pw-Hv27sKd"


@dataclass(frozen=True)
class Backend:
    """One store under test: its engine, where it spools, how to open it."""

    name: str
    db: Path | None = None
    owner_url: str | None = None
    writer_url: str | None = None
    reader_url: str | None = None
    spool_root: Path | None = None

    @property
    def is_pg(self) -> bool:
        return self.name == "postgresql"

    @property
    def target(self) -> str:
        """``NEONHUB_DB`` for this store (a writer's)."""
        return self.writer_url if self.is_pg else str(self.db)  # type: ignore[return-value]

    @property
    def spool_dir(self) -> Path:
        if self.is_pg:
            assert self.spool_root is not None and self.writer_url is not None
            return team_spool_dir(self.spool_root, self.writer_url)
        assert self.db is not None
        return self.db.with_name(self.db.name + ".spool")

    @property
    def machine(self) -> str:
        assert self.spool_root is not None
        return machine_id(self.spool_root)

    def _open(self, url: str | None, **kwargs: Any) -> Store:
        if not self.is_pg:
            assert self.db is not None
            return AuditStore(self.db, **kwargs)
        assert url is not None
        kwargs.setdefault("spool_root", self.spool_root)
        kwargs.setdefault("spool_dir", self.spool_dir)
        return PgStore(url, **kwargs)

    def store(self, **kwargs: Any) -> Store:
        """A recording store (DuckDB, or PostgreSQL as the writer role)."""
        return self._open(self.writer_url, **kwargs)

    def owner(self, **kwargs: Any) -> Store:
        """A store as the database owner (prune needs it on PostgreSQL)."""
        return self._open(self.owner_url, **kwargs)

    def reader(self) -> Store:
        """A read-only store (the reader role on PostgreSQL)."""
        return self._open(self.reader_url, read_only=True)

    def write_segment(self, name: str, data: bytes) -> Path:
        """A spool segment of a writer that is gone (nobody holds its lock)."""
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        path = self.spool_dir / f"{name}.00001.jsonl"
        with open(path, "ab") as handle:
            handle.write(data)
        return path

    def segment_key(self, segment: Path) -> str:
        """How the quarantine names ``segment``: ``machine/segment`` on PostgreSQL."""
        return f"{self.machine}/{segment.name}" if self.is_pg else segment.name

    def env(self) -> dict[str, str]:
        env = {"NEONHUB_DB": self.target}
        if self.spool_root is not None:
            env["NEONHUB_SPOOL_DIR"] = str(self.spool_root)
        return env

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``neonhub-nb ARGS`` in a fresh process on this store and spool."""
        return neonhub(*args, db=self.target, env=self.env(), timeout=timeout)


def team_urls(owner_url: str) -> tuple[str, str]:
    """Migrate the database at ``owner_url`` and make both roles; their URLs."""
    with connect(owner_url, autocommit=True) as con:
        apply_migrations(con)
        ensure_roles(con, writer_password=WRITER_PW, reader_password=READER_PW)
    return (
        as_role(owner_url, "neonhub_writer", WRITER_PW),
        as_role(owner_url, "neonhub_reader", READER_PW),
    )


@pytest.fixture(params=["duckdb", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each store test once on a DuckDB file and once on a real PostgreSQL."""
    if request.param == "duckdb":
        yield Backend("duckdb", db=tmp_path / "s.duckdb")
        return
    owner = request.getfixturevalue("pg_url")
    writer, reader = team_urls(owner)
    yield Backend(
        "postgresql",
        owner_url=owner,
        writer_url=writer,
        reader_url=reader,
        spool_root=tmp_path / "team-spool",
    )
