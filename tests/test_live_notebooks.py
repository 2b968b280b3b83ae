"""The regression notebook in live mode against the real local model server, one case per
agent, with the notebook's tolerant checks (status, tool sequence, usage recorded)."""

from __future__ import annotations

import pytest

from neonhub_nb.regression import Case, load_cases, run_case

from .llama import MODEL_ALIAS, LlamaServer

pytestmark = pytest.mark.live_model

ONE_PER_AGENT = list({case.intent: case for case in reversed(load_cases())}.values())


@pytest.mark.parametrize("case", ONE_PER_AGENT, ids=lambda c: c.id)
def test_regression_notebook_runs_live(
    case: Case, llama: LlamaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The notebook's kernel inherits these; connectors stay on their mocks (no vendors here).
    monkeypatch.setenv("OPENAI_BASE_URL", llama.url)
    monkeypatch.setenv("NEONHUB_MODEL", MODEL_ALIAS)
    monkeypatch.setenv("NEONHUB_LLM_TIMEOUT_S", "120")
    monkeypatch.setenv("USE_MOCK_CONNECTORS", "true")
    recorded = run_case(case, mode="live")
    assert recorded["status"] in {"succeeded", "failed"}
    assert any(t["tool"] == "llm" for t in recorded["tools"])
    assert recorded["tokens"]["completion"] > 0
    if case.intent == "content.generate_article" and recorded["status"] == "succeeded":
        assert recorded["draft"]["content"]
