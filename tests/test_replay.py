"""Replay mode: a recorded live run re-executed from the audit store, byte for byte.

The "live" runs here use the real live connector code over vendor mock transports (the
vendors cannot be reached from here) and a deterministic model; what matters is that the
replay never touches either and reproduces the run exactly. The end-to-end test against
the real local model server is in tests/test_live_model.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from neonhub_nb import replay_experiment, replay_run, run_agent
from neonhub_nb.agents import AgentCatalog
from neonhub_nb.config import Settings
from neonhub_nb.connectors import connector_factory, get_mock_class, list_connectors
from neonhub_nb.errors import ReplayMissError, StoreError
from neonhub_nb.llm import MockLLM
from neonhub_nb.models import RunRequest
from neonhub_nb.orchestrator import Orchestrator
from neonhub_nb.regression import fingerprint
from neonhub_nb.replay import ReplayIndex, ReplayLLM
from neonhub_nb.store import Store

from .backends import Backend


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    """The recording store of either backend (DuckDB file, real PostgreSQL)."""
    recording = backend.store(ingest_interval=0.05)
    yield recording
    recording.close()


class _VendorCounter:
    def __init__(self) -> None:
        self.requests = 0


def live_orchestrator(
    settings: Settings, store: Store, vendor_calls: _VendorCounter, llm: Any = None
) -> Orchestrator:
    """Live mode: live connector code (credentials set) over the vendors' mock transports."""
    environ = dict(settings.environ)
    for spec in list_connectors():
        environ.update(spec.mock_credentials())
    live = replace(settings, mode="live", mock_connectors=False, environ=environ)

    def client_for(name: str) -> httpx.Client:
        vendor = get_mock_class(name)()

        def handler(request: httpx.Request) -> httpx.Response:
            vendor_calls.requests += 1
            return vendor(request)

        return httpx.Client(transport=httpx.MockTransport(handler))

    return Orchestrator(
        settings=live,
        store=store,
        llm=llm or MockLLM(AgentCatalog.builtin().mock_writers()),
        connectors=connector_factory(live, client_for=client_for),
    )


CASES = {
    "insights.summarize_performance": {"days": 14},
    "social.compose_posts": {
        "message": "Spring menu",
        "publish": True,
        "image_url": "https://example.com/a.png",
    },
    "email.compose_campaign": {
        "product": "Neonhub",
        "goal": "book a demo",
        "send_to": "ana@example.com",
    },
    "content.generate_article": {
        "topic": "Bakeries",
        "primary_keyword": "bakery newsletter",
        "word_count": 300,
    },
}


@pytest.mark.parametrize("intent", sorted(CASES))
def test_replayed_run_matches_the_recorded_one_without_network(
    intent: str, store: Store, settings: Settings
) -> None:
    calls = _VendorCounter()
    original = live_orchestrator(settings, store, calls).run(
        RunRequest(intent=intent, params=CASES[intent], seed=3)
    )
    assert original.status == "succeeded", original.error
    served_live = calls.requests

    replayed = replay_run(original.run_id, store=store, settings=settings)
    assert calls.requests == served_live, "replay must not reach any vendor"
    assert replayed.status == "succeeded", replayed.error
    assert replayed.mode == "replay" and replayed.run_id != original.run_id
    assert fingerprint(store, replayed.run_id) == fingerprint(store, original.run_id)
    assert replayed.output == {
        **original.output,
        **({"draft_id": replayed.output["draft_id"]} if "draft_id" in original.output else {}),
    }


def test_a_request_never_recorded_fails_loudly_naming_the_difference(
    store: Store, settings: Settings
) -> None:
    original = live_orchestrator(settings, store, _VendorCounter()).run(
        RunRequest(intent="content.generate_article", params=CASES["content.generate_article"])
    )
    index = ReplayIndex.from_store(store, run_ids=[original.run_id])
    replay = Orchestrator(settings=settings.with_mode("replay"), store=store, llm=ReplayLLM(index))
    changed = {**CASES["content.generate_article"], "topic": "Coffee shops"}
    result = replay.run(RunRequest(intent="content.generate_article", params=changed))
    assert result.status == "failed"
    assert result.error is not None
    assert "ReplayMissError: replay: this LLM request was never recorded" in result.error
    assert "messages[1]" in result.error
    assert "-" in result.error and "Coffee shops" in result.error


def test_a_connector_request_never_recorded_names_what_differed(
    store: Store, settings: Settings
) -> None:
    original = live_orchestrator(settings, store, _VendorCounter()).run(
        RunRequest(intent="email.compose_campaign", params=CASES["email.compose_campaign"])
    )
    detail = store.run_detail(original.run_id)
    assert '"http"' in detail.tool_executions["response"].iloc[1]
    index = ReplayIndex.from_store(store, run_ids=[original.run_id])
    from neonhub_nb.redact import Redactor
    from neonhub_nb.replay import replay_transport

    client = httpx.Client(transport=replay_transport(index, "email", Redactor()))
    with pytest.raises(ReplayMissError, match="email request never recorded"):
        client.post(
            "https://gmail.googleapis.com/gmail/v1/users/me/messages/send",
            json={"raw": "something else"},
        )


def test_replaying_a_whole_experiment(store: Store, settings: Settings) -> None:
    orchestrator = live_orchestrator(settings, store, _VendorCounter())
    for topic in ("Bakeries", "Coffee"):
        orchestrator.run(
            RunRequest(
                intent="content.generate_article",
                experiment_id="exp-1",
                params={"topic": topic, "primary_keyword": "local shops", "word_count": 120},
            )
        )
    replayed = replay_experiment("exp-1", store=store, settings=settings)
    assert [r.status for r in replayed] == ["succeeded", "succeeded"]
    assert sorted(r.title or "" for r in replayed) == sorted(
        store.sql(
            "SELECT title FROM content_drafts d JOIN agent_runs r USING (run_id) "
            "WHERE r.mode = 'live'"
        )["title"]
    )


def test_mock_runs_are_not_replayed(store: Store, settings: Settings) -> None:
    result = run_agent(
        "content.generate_article",
        CASES["content.generate_article"],
        store=store,
        settings=settings,
    )
    with pytest.raises(StoreError, match="only runs that called a live model or vendor"):
        replay_run(result.run_id, store=store, settings=settings)


def test_replay_mode_from_the_environment_serves_every_recorded_live_run(
    store: Store, settings: Settings
) -> None:
    original = live_orchestrator(settings, store, _VendorCounter()).run(
        RunRequest(intent="content.generate_article", params=CASES["content.generate_article"])
    )
    again = run_agent(
        "content.generate_article",
        CASES["content.generate_article"],
        mode="replay",
        store=store,
        settings=settings,
    )
    assert again.status == "succeeded" and again.mode == "replay"
    assert again.content == original.content
