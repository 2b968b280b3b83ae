"""Every reviewable output enters the review flow, and a reviewer's edit keeps the agent's
format and limits (an over-long X post or ad headline is refused, nothing recorded)."""

from __future__ import annotations

from typing import Any

import pytest

from neonhub_nb import run_agent
from neonhub_nb.agents import AgentCatalog
from neonhub_nb.config import Settings
from neonhub_nb.errors import InvalidInputError
from neonhub_nb.store import AuditStore
from neonhub_nb.widgets import ReviewPanel

REVIEWABLE: dict[str, dict[str, Any]] = {
    "content.generate_article": {"topic": "Bakeries", "primary_keyword": "bakery newsletter"},
    "social.compose_posts": {"message": "Spring menu is here", "networks": "x, linkedin"},
    "ads.generate_variants": {"product": "Sourdough kit", "primary_keyword": "sourdough"},
    "email.compose_campaign": {"product": "Sourdough kit", "goal": "book a tasting"},
    "seo.optimize": {"primary_keyword": "bakery newsletter", "title": "T", "content": "Body"},
}
# For each agent: an edit that breaks one of its limits, and the rule the error states.
BROKEN: dict[str, tuple[str, str]] = {
    "content.generate_article": ("  \n ", "no title line"),
    "social.compose_posts": ("X: " + "a" * 281, "the X post 1 has 281 characters"),
    "ads.generate_variants": (
        "VARIANT: 1\nHEADLINE: " + "h" * 31 + "\nHEADLINE: b\nHEADLINE: c\n"
        "DESCRIPTION: d\nDESCRIPTION: e",
        "headline 1 has 31 characters; the limit is 30",
    ),
    "email.compose_campaign": ("SUBJECT: " + "s" * 79 + "\nBODY: hi", "limit is 78"),
    "seo.optimize": ("TITLE: " + "t" * 61 + "\nMETA: m\nKEYWORDS: k", "limit is 60"),
}


@pytest.mark.parametrize("intent", sorted(REVIEWABLE))
def test_each_reviewable_agent_makes_a_draft_for_review(
    intent: str, store: AuditStore, settings: Settings
) -> None:
    result = run_agent(intent, REVIEWABLE[intent], store=store, settings=settings)
    assert result.ok, result.error
    assert result.draft_id and result.content and result.title
    assert store.review_state(result.draft_id).status == "draft"


def test_insights_and_judge_make_no_draft(store: AuditStore, settings: Settings) -> None:
    report = run_agent("insights.summarize_performance", {}, store=store, settings=settings)
    assert report.ok and report.draft_id is None
    assert report.output["actions"]  # the ACTIONS line is read, not swallowed by SUMMARY


@pytest.mark.parametrize("intent", sorted(BROKEN))
def test_an_edit_that_breaks_the_agents_limits_is_refused(
    intent: str, store: AuditStore, settings: Settings
) -> None:
    result = run_agent(intent, REVIEWABLE[intent], store=store, settings=settings)
    panel = ReviewPanel(store, "Dana", AgentCatalog.builtin())
    panel.load(result)
    panel._open_editor()
    broken, rule = BROKEN[intent]
    panel.editor.value = broken
    assert panel.decide("edit", edited=True) is False
    assert rule in panel.message.value
    store.flush()
    assert store.review_trail(str(result.draft_id)).empty  # nothing recorded

    panel.editor.value = result.content or ""  # the agent's own text passes its checks
    assert panel.decide("edit", edited=True) is True
    store.flush()
    assert store.review_trail(str(result.draft_id))["decision"].tolist() == ["edit"]


@pytest.mark.parametrize("intent", sorted(BROKEN))
def test_the_agents_check_names_the_field_and_rule(intent: str) -> None:
    check = AgentCatalog.builtin().get(intent).check_edit
    assert check is not None
    with pytest.raises(InvalidInputError) as caught:
        check(BROKEN[intent][0])
    assert caught.value.field == "content"
