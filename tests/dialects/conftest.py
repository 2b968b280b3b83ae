"""Fixtures for the dialect suite: a scripted server and the live client pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from neonhub_nb.llm.live import OpenAILLM

from ..live_support import SleepLog, live_llm
from .server import DialectServer


@pytest.fixture
def dialect(fresh_live_state: None) -> Iterator[DialectServer]:
    with DialectServer() as server:
        yield server


@pytest.fixture
def clock() -> SleepLog:
    return SleepLog()


@pytest.fixture
def llm(dialect: DialectServer, tmp_path: Path, clock: SleepLog) -> Iterator[OpenAILLM]:
    with live_llm(dialect.url, tmp_path, clock) as client:
        yield client
