"""Record live runs against the real local model server, stop the server, replay them
from the audit store: the replayed runs match byte for byte, with no server running."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from neonhub_nb import DraftParams, replay_run, run_agent
from neonhub_nb.regression import fingerprint
from neonhub_nb.store import AuditStore

from .conftest import require_llama_build
from .live_support import live_settings, reset_live_state
from .llama import MODEL_ALIAS, llama_server

pytestmark = pytest.mark.live_model


def test_live_runs_replay_byte_for_byte_after_the_server_is_gone(tmp_path: Path) -> None:
    reset_live_state()
    settings = live_settings(
        "http://placeholder/v1",
        tmp_path,
        NEONHUB_MODEL=MODEL_ALIAS,
        NEONHUB_LLM_TIMEOUT_S="120",
        USE_MOCK_CONNECTORS="true",
    )
    store = AuditStore.from_settings(settings)
    with llama_server(*require_llama_build(), tmp_path / "llama.log") as server:
        from dataclasses import replace

        settings = replace(settings, openai_base_url=server.url)
        recorded = [
            run_agent(
                "content.generate_article",
                DraftParams(
                    topic="Bakery newsletters", primary_keyword="bakery newsletter", word_count=50
                ),
                settings=settings,
                store=store,
                seed=11,
            ),
            # A small base model rarely answers in the labelled format: a failed run must
            # replay as the same failure, from the same recorded answer.
            run_agent(
                "insights.summarize_performance",
                {"days": 7, "end_date": "2026-10-31"},
                settings=settings,
                store=store,
                seed=11,
            ),
        ]
        url = server.url
    reset_live_state()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url.removesuffix("/v1") + "/health", timeout=2)  # the server is gone

    for original in recorded:
        assert original.mode == "live" and original.completion_tokens > 0
        again = replay_run(original.run_id, store=store, settings=settings)
        assert again.mode == "replay"
        assert again.status == original.status
        assert again.content == original.content
        assert again.error == original.error
        assert fingerprint(store, again.run_id) == fingerprint(store, original.run_id)
    store.close()
