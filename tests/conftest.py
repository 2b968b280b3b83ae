"""Shared fixtures: a clean environment, real DuckDB files in temp dirs, fresh settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from neonhub_nb.config import Settings, load_settings
from neonhub_nb.store import AuditStore

from .backends import backend
from .faultserver import FaultServer
from .llama import IN_CI, LlamaServer, find_build, llama_server
from .pg import pg_cluster, pg_url

# Fixtures defined elsewhere, offered to every test module: a store on either backend
# (``backend``) and the real PostgreSQL the team-store tests use.
__all__ = ["backend", "pg_cluster", "pg_url"]

ROOT = Path(__file__).resolve().parents[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite data/golden/ from the current code instead of comparing with it",
    )


_KEEP = {
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "SYSTEMROOT",
    "COVERAGE_PROCESS_START",
    "COV_CORE_SOURCE",
    "COV_CORE_CONFIG",
    "COV_CORE_DATAFILE",
    "COV_CORE_BRANCH",
    "COV_CORE_CONTEXT",
    "TERM",
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's keys, endpoints or store."""
    for name in list(os.environ):
        if name not in _KEEP and not name.startswith(
            ("PYTEST_", "COV_", "COVERAGE_", "JUPYTER_PLATFORM")
        ):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NEONHUB_DB", str(tmp_path / "store" / "neonhub.duckdb"))


@pytest.fixture(autouse=True)
def fresh_runtime() -> Iterator[None]:
    """Each test ends with the process's runtime as a new process has it: stores closed
    (and ingested), clients closed, breakers, spend, prices and catalogs forgotten."""
    yield
    from neonhub_nb.runtime import default_runtime

    default_runtime().reset()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings({"NEONHUB_DB": str(tmp_path / "store" / "neonhub.duckdb")})


@pytest.fixture
def store(settings: Settings) -> Iterator[AuditStore]:
    """A real DuckDB store in a temp dir; closed (and fully ingested) after the test."""
    audit = AuditStore.from_settings(settings, ingest_interval=0.05)
    yield audit
    audit.close()


@pytest.fixture(scope="session")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """The real local model server (llama-server + Gemma 3 270M), one per test session."""
    found = require_llama_build()
    log = tmp_path_factory.mktemp("llama") / "llama-server.log"
    with llama_server(*found, log) as server:
        yield server


def require_llama_build() -> tuple[Path, Path]:
    """The cached build, or fail (CI) / skip (elsewhere) saying how to make it."""
    found = find_build()
    if isinstance(found, str):
        if IN_CI:
            pytest.fail(f"CI=true, so the live-model tests must run, but: {found}", pytrace=False)
        pytest.skip(found)
    return found


@pytest.fixture
def fresh_live_state() -> Iterator[None]:
    """Live-mode tests start and end with a new process runtime (clients, breakers, spend,
    prices)."""
    from .live_support import reset_live_state

    reset_live_state()
    yield
    reset_live_state()


@pytest.fixture
def server() -> Iterator[FaultServer]:
    """The fault-injecting OpenAI-compatible server of tests/faultserver.py."""
    with FaultServer() as fault_server:
        yield fault_server
