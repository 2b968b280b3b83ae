"""Prometheus as the README promises it: tokens and cost by agent and model, a mode
label on run metrics, a model-call latency histogram, neonhub_build_info; all equal to
what the store holds, and monotonic through prunes. Real runs (mock, live against a
local OpenAI-compatible server, replay), real stores, real prunes."""

from __future__ import annotations

import importlib.metadata
import json
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from neonhub_nb.api import replay_run, run_agent
from neonhub_nb.metrics import UNKNOWN, StoreCollector, StoreTally, build_registry
from neonhub_nb.store import AuditStore
from neonhub_nb.store.maintenance import prune

from .faultserver import Fault, FaultServer
from .live_support import live_settings

ARTICLE = {"topic": "Bakeries", "primary_keyword": "bakery newsletter", "word_count": 120}
POSTS = {"message": "Spring menu is here", "hashtags": "bakery"}


def model_calls_in_store(store: AuditStore) -> dict[tuple[str, str, str], dict[str, float]]:
    """Per (agent, mode, model): calls, and tokens and cost summed over the calls' own
    responses (the exporter reads the runs' totals: the two must agree)."""
    frame = store.sql(
        """SELECT r.agent, r.mode, r.model, t.request, t.response
           FROM tool_executions t JOIN agent_runs r USING (run_id) WHERE t.tool = 'llm'"""
    )
    totals: dict[tuple[str, str, str], dict[str, float]] = {}
    for row in frame.to_dict("records"):
        request, response = json.loads(row["request"]), json.loads(row["response"])
        assert request["model"] == row["model"]  # a run asks one model for every call
        key = (row["agent"], row["mode"], row["model"])
        usage = response.get("usage") or {}
        entry = totals.setdefault(key, {"calls": 0, "prompt": 0, "completion": 0, "cost": 0.0})
        entry["calls"] += 1
        entry["prompt"] += usage.get("prompt_tokens", 0)
        entry["completion"] += usage.get("completion_tokens", 0)
        entry["cost"] += response.get("cost_usd", 0.0)
    return totals


@pytest.fixture
def mixed_store(
    store: AuditStore, server: FaultServer, tmp_path: Path, fresh_live_state: None
) -> AuditStore:
    """Mock runs of two agents, two live runs (one retried after a 429), one replay."""
    run_agent("content.generate_article", ARTICLE, store=store)
    run_agent("content.generate_article", {**ARTICLE, "word_count": 300}, store=store)
    run_agent("social.compose_posts", POSTS, store=store)
    settings = live_settings(server.url, tmp_path, NEONHUB_LLM_MAX_RETRIES="2")
    server.push(Fault.rate_limited("0"), Fault.ok("# Live Bakery Newsletter\n\nBody."))
    live = run_agent("content.generate_article", ARTICLE, store=store, settings=settings)
    assert live.ok, live.error
    server.push(*[Fault.status(500)] * 3)
    assert (
        run_agent("content.generate_article", ARTICLE, store=store, settings=settings).status
        == "failed"
    )
    store.flush()
    replayed = replay_run(live.run_id, store=store, settings=settings)
    assert replayed.mode == "replay" and replayed.ok
    store.flush()
    return store


def test_tokens_cost_and_calls_equal_the_store(mixed_store: AuditStore) -> None:
    registry = build_registry(mixed_store)
    expected = model_calls_in_store(mixed_store)
    assert {mode for _, mode, _ in expected} == {"mock", "live", "replay"}
    for (agent, mode, model), want in expected.items():
        who = {"agent": agent, "mode": mode, "model": model}
        for kind in ("prompt", "completion"):
            got = registry.get_sample_value("neonhub_llm_tokens_total", {**who, "type": kind})
            assert got == want[kind], (who, kind)
        cost = registry.get_sample_value("neonhub_llm_cost_usd_total", who)
        assert cost == pytest.approx(want["cost"]), who
        calls = sum(
            registry.get_sample_value("neonhub_llm_requests_total", {**who, "status": s}) or 0
            for s in ("succeeded", "failed")
        )
        assert calls == want["calls"], who
        count = registry.get_sample_value("neonhub_llm_request_duration_seconds_count", who)
        inf = registry.get_sample_value(
            "neonhub_llm_request_duration_seconds_bucket", {**who, "le": "+Inf"}
        )
        assert count == inf == want["calls"], who


def test_mock_and_live_are_counted_apart(mixed_store: AuditStore) -> None:
    registry = build_registry(mixed_store)
    content = {"agent": "content", "intent": "content.generate_article"}
    assert (
        registry.get_sample_value(
            "neonhub_agent_runs_total", {**content, "status": "succeeded", "mode": "mock"}
        )
        == 2
    )
    assert (
        registry.get_sample_value(
            "neonhub_agent_runs_total", {**content, "status": "succeeded", "mode": "live"}
        )
        == 1
    )
    assert (
        registry.get_sample_value(
            "neonhub_agent_runs_total", {**content, "status": "failed", "mode": "live"}
        )
        == 1
    )
    assert (
        registry.get_sample_value(
            "neonhub_agent_runs_total", {**content, "status": "succeeded", "mode": "replay"}
        )
        == 1
    )
    assert (
        registry.get_sample_value(
            "neonhub_agent_run_duration_seconds_count", {**content, "mode": "mock"}
        )
        == 2
    )
    live_failed = {"agent": "content", "mode": "live", "model": "fault-model", "status": "failed"}
    assert registry.get_sample_value("neonhub_llm_requests_total", live_failed) == 1


def test_costs_and_tokens_stay_through_a_prune(mixed_store: AuditStore) -> None:
    before = generate_latest(build_registry(mixed_store))
    cutoff = mixed_store.sql("SELECT max(started_at) AS t FROM agent_runs")["t"][0]
    report = prune(
        mixed_store,
        timedelta(0),
        now=cutoff.to_pydatetime() + timedelta(seconds=1),
        include_unreviewed=True,
    )
    assert report.runs == 6 and report.tool_executions >= 6
    assert mixed_store.sql("SELECT count(*) AS n FROM tool_executions")["n"][0] == 0
    after = generate_latest(build_registry(mixed_store))
    lines = lambda text: sorted(  # noqa: E731
        line
        for line in text.decode().splitlines()
        if line.startswith("neonhub_llm_") or line.startswith("neonhub_agent_run")
    )
    assert lines(after) == lines(before)


def test_a_scraping_exporter_counts_new_model_calls_as_a_full_count_does(
    store: AuditStore,
) -> None:
    tally = StoreTally()
    for index in range(3):
        run_agent("content.generate_article", {**ARTICLE, "word_count": 100 + index}, store=store)
        run_agent("social.compose_posts", POSTS, store=store)
        with store.connect() as con:
            counted = tally.refresh(con).samples
            fresh = StoreTally().refresh(con).samples
        assert counted == pytest.approx(fresh)
    assert tally.recounts == 1  # every later scrape counted only the new calls
    tokens = {k: v for k, v in counted.items() if k[0] == "neonhub_llm_tokens_total"}
    assert sum(tokens.values()) > 0


def test_baselines_folded_before_the_mode_label_show_as_unknown(store: AuditStore) -> None:
    run_agent("content.generate_article", ARTICLE, store=store)
    with store.connect() as con:  # what a prune of an older version left behind
        con.execute(
            "INSERT INTO metric_baselines VALUES (?, ?, 4)",
            [
                "neonhub_agent_runs_total",
                '{"agent":"content","intent":"content.generate_article","status":"succeeded"}',
            ],
        )
    registry = build_registry(store)
    labels = {"agent": "content", "intent": "content.generate_article", "status": "succeeded"}
    assert registry.get_sample_value("neonhub_agent_runs_total", {**labels, "mode": UNKNOWN}) == 4
    assert registry.get_sample_value("neonhub_agent_runs_total", {**labels, "mode": "mock"}) == 1
    assert StoreCollector(store).refresh().samples  # and nothing else breaks


def test_build_info(store: AuditStore) -> None:
    registry = build_registry(store)
    version = importlib.metadata.version("neonhub-nb")
    assert (
        registry.get_sample_value("neonhub_build_info", {"version": version, "python": "3.11"}) == 1
    )
