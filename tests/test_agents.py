"""Every agent in mock mode: deterministic, within its limits, tools recorded in order."""

from __future__ import annotations

from typing import Any

import pytest

from neonhub_nb import run_agent
from neonhub_nb.agents import AgentCatalog
from neonhub_nb.agents.ads import DESCRIPTION_LIMIT, HEADLINE_LIMIT
from neonhub_nb.agents.seo import META_LIMIT, TITLE_LIMIT
from neonhub_nb.agents.social import LIMITS
from neonhub_nb.agents.structured import fit, parse_fields
from neonhub_nb.config import Settings
from neonhub_nb.errors import AgentError, InvalidInputError
from neonhub_nb.llm import Completion
from neonhub_nb.models import RunRequest
from neonhub_nb.orchestrator import build_orchestrator
from neonhub_nb.store import AuditStore

CASES: dict[str, tuple[dict[str, Any], list[str]]] = {
    "content.generate_article": (
        {"topic": "Email for bakeries", "primary_keyword": "bakery newsletter", "word_count": 200},
        ["llm.chat.completions"],
    ),
    "seo.optimize": (
        {
            "primary_keyword": "newsletter growth",
            "title": "Grow your list",
            "content": "# Grow your list\n\nSome text about newsletters.",
        },
        ["connector.gsc.search_analytics", "llm.chat.completions"],
    ),
    "email.compose_campaign": (
        {"product": "Neonhub", "goal": "book a demo", "send_to": "ana@example.com"},
        ["llm.chat.completions", "connector.email.send_email"],
    ),
    "social.compose_posts": (
        {
            "message": "We launched our spring menu",
            "link": "https://example.com/menu",
            "hashtags": "spring, bakery",
            "publish": True,
            "image_url": "https://example.com/a.png",
        },
        [
            "llm.chat.completions",
            "connector.x.post",
            "connector.linkedin.create_post",
            "connector.instagram.publish_image",
        ],
    ),
    "ads.generate_variants": (
        {"product": "Neonhub", "primary_keyword": "ai marketing", "variants": 3},
        ["llm.chat.completions"],
    ),
    "eval.judge_draft": (
        {"draft": "# Bakery Newsletter\n\nA bakery newsletter ...", "primary_keyword": "bakery"},
        ["llm.chat.completions"],
    ),
    "insights.summarize_performance": (
        {"days": 14},
        [
            "connector.ga4.run_report",
            "connector.ga4.run_report",
            "connector.gsc.search_analytics",
            "llm.chat.completions",
        ],
    ),
}


def test_every_registered_agent_has_a_case() -> None:
    assert sorted(CASES) == sorted(
        s.intent for s in AgentCatalog.builtin().specs() if not s.intent.startswith("test.")
    )


@pytest.mark.parametrize("intent", sorted(CASES))
def test_agent_runs_deterministically_and_records_its_tools(
    intent: str, store: AuditStore, settings: Settings
) -> None:
    params, tools = CASES[intent]
    first = run_agent(intent, params, store=store, settings=settings)
    second = run_agent(intent, params, store=store, settings=settings)
    assert first.status == "succeeded", first.error
    assert first.output == {
        **second.output,
        **{k: first.output[k] for k in ("draft_id",) if k in first.output},
    }
    assert [f"{t.tool}.{t.operation}" for t in first.tool_executions] == tools
    detail = store.run_detail(first.run_id)
    recorded = detail.tool_executions
    assert [
        f"{t}.{o}" for t, o in zip(recorded["tool"], recorded["operation"], strict=True)
    ] == tools
    assert detail.run["prompt_name"] == first.prompt_name is not None
    assert detail.run["prompt_version"] == first.prompt_version is not None
    assert detail.metric("total_tokens") > 0


def test_outputs_respect_each_channel_limits(store: AuditStore, settings: Settings) -> None:
    seo = run_agent("seo.optimize", CASES["seo.optimize"][0], store=store, settings=settings)
    assert len(seo.output["title"]) <= TITLE_LIMIT
    assert len(seo.output["meta_description"]) <= META_LIMIT
    assert seo.output["keyword_in_title"]
    social = run_agent(
        "social.compose_posts", CASES["social.compose_posts"][0], store=store, settings=settings
    )
    for network, text in social.output["posts"].items():
        assert len(text) <= LIMITS[network]
    assert set(social.output["published"]) == {"x", "linkedin", "instagram"}
    ads = run_agent(
        "ads.generate_variants", CASES["ads.generate_variants"][0], store=store, settings=settings
    )
    assert len(ads.output["variants"]) == 3
    for ad in ads.output["variants"]:
        assert 3 <= len(ad["headlines"]) <= 15 and 2 <= len(ad["descriptions"]) <= 4
        assert all(len(h) <= HEADLINE_LIMIT for h in ad["headlines"])
        assert all(len(d) <= DESCRIPTION_LIMIT for d in ad["descriptions"])


def test_insights_computes_the_numbers_itself(store: AuditStore, settings: Settings) -> None:
    result = run_agent(
        "insights.summarize_performance", {"days": 7}, store=store, settings=settings
    )
    totals = result.output["totals"]
    assert totals["sessions"] > 0 and totals["clicks"] > 0
    assert f"{abs(totals['sessions_change_pct']):.1f}%" in result.output["summary"]


class _JunkLLM:
    provider = "junk"

    def complete(self, messages: Any, *, model: str, **kwargs: Any) -> Completion:
        return Completion(
            text="Sure! Here you go.", model=model, prompt_tokens=5, completion_tokens=4
        )


@pytest.mark.parametrize(
    "intent",
    ["seo.optimize", "email.compose_campaign", "social.compose_posts", "ads.generate_variants"],
)
def test_an_unusable_model_answer_fails_the_run_clearly(
    intent: str, store: AuditStore, settings: Settings
) -> None:
    orchestrator = build_orchestrator(settings, store=store, llm=_JunkLLM())
    result = orchestrator.run(RunRequest(intent=intent, params=CASES[intent][0]))
    assert result.status == "failed"
    assert result.error is not None and result.error.startswith("AgentError: the model's answer")
    assert not any(
        t.tool.startswith("connector.") and t.operation in {"send_email", "post"}
        for t in result.tool_executions
    ), "nothing is sent from a bad answer"


def test_instagram_publishing_without_an_image_is_refused_before_anything_runs(
    store: AuditStore, settings: Settings
) -> None:
    params = {**CASES["social.compose_posts"][0], "image_url": None, "publish": True}
    with pytest.raises(InvalidInputError, match="image_url: is required to publish on Instagram"):
        run_agent("social.compose_posts", params, store=store, settings=settings)
    assert store.runs().empty  # nothing ran, nothing was published or recorded


def test_structured_helpers() -> None:
    fields = parse_fields(
        "TITLE: A\nBODY: line one\nline two\nX: post", ("TITLE", "X"), multiline=("BODY",)
    )
    assert fields == {"TITLE": "A", "BODY": "line one\nline two", "X": "post"}
    with pytest.raises(AgentError, match="has no META line"):
        parse_fields("TITLE: A", ("TITLE", "META"))
    assert fit("one two three four", 12) == "one two…"
    assert fit("short\n\nkept", 50) == "short\n\nkept"
