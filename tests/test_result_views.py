"""Each agent's recorded output, shown as its users read it (HTML and CLI text), from
real mock runs read back from a real store."""

from __future__ import annotations

import html
import re

import pytest

from neonhub_nb import result_views
from neonhub_nb.agents import ads, email, seo, social
from neonhub_nb.api import run_agent
from neonhub_nb.models import RunResult
from neonhub_nb.result_views import (
    detail_output_text,
    output_html,
    output_text,
    result_output_html,
    result_output_text,
)
from neonhub_nb.store import AuditStore

PARAMS = {
    "social.compose_posts": {
        "message": "Our spring menu is here",
        "hashtags": "bakery, spring",
        "link": "https://example.com/spring",
    },
    "ads.generate_variants": {"product": "Crumb", "primary_keyword": "bakery software"},
    "email.compose_campaign": {"product": "Crumb", "goal": "book a tasting"},
    "seo.optimize": {
        "primary_keyword": "bakery newsletter",
        "title": "Newsletters",
        "content": "# Newsletters\n\nA bakery newsletter keeps regulars coming back.",
    },
    "insights.summarize_performance": {"end_date": "2026-01-31"},
    "content.generate_article": {"topic": "Bakeries", "primary_keyword": "bakery newsletter"},
}


def recorded(intent: str, store: AuditStore) -> RunResult:
    """The run as reopened from the store (what the CLI and History show)."""
    result = run_agent(intent, PARAMS[intent], store=store)
    assert result.ok, result.error
    return store.run_detail(result.run_id).to_result()


def plain(markup: str) -> str:
    """The page's text as a reader sees it (tags gone, spaces collapsed)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def test_limits_are_the_agents_own() -> None:
    assert dict(result_views.SOCIAL_LIMITS) == social.LIMITS
    assert result_views.AD_HEADLINE_LIMIT == ads.HEADLINE_LIMIT
    assert result_views.AD_DESCRIPTION_LIMIT == ads.DESCRIPTION_LIMIT
    assert (result_views.AD_HEADLINES_REQUIRED[0], result_views.AD_DESCRIPTIONS_REQUIRED[0]) == (
        ads.MIN_HEADLINES,
        ads.MIN_DESCRIPTIONS,
    )
    assert result_views.EMAIL_SUBJECT_LIMIT == email.SUBJECT_LIMIT
    assert (result_views.SEO_TITLE_LIMIT, result_views.SEO_META_LIMIT) == (
        seo.TITLE_LIMIT,
        seo.META_LIMIT,
    )


def test_social_posts_per_network_with_counts(store: AuditStore) -> None:
    result = recorded("social.compose_posts", store)
    posts = result.output["posts"]
    text = result_output_text(result)
    page = plain(result_output_html(result))
    for network, limit in (("x", 280), ("linkedin", 3000), ("instagram", 2200)):
        count = f"{len(posts[network])}/{limit} characters"
        assert count in text and count in page, (network, count)
        assert posts[network].splitlines()[0] in text
    assert text.index("X ") < text.index("LINKEDIN") < text.index("INSTAGRAM")


def test_ads_headlines_and_descriptions_against_google_limits(store: AuditStore) -> None:
    result = recorded("ads.generate_variants", store)
    text = result_output_text(result)
    first = result.output["variants"][0]
    for headline in first["headlines"]:
        assert f"H  {headline}  [{len(headline)}/30 characters]" in text
    for line in first["descriptions"]:
        assert f"D  {line}  [{len(line)}/90 characters]" in text
    page = plain(result_output_html(result))
    assert f"{len(first['headlines'])} headlines (Google: 3-15)" in page
    assert "Ad variant 2" in page


def test_email_subjects_preview_and_body(store: AuditStore) -> None:
    result = recorded("email.compose_campaign", store)
    text = result_output_text(result)
    for subject in result.output["subject_lines"]:
        assert f"{subject}  [{len(subject)}/78 characters]" in text
    assert "BODY" in text and result.output["body"].splitlines()[0] in text
    page = plain(result_output_html(result))
    assert "Preview text" in page and "Body" in page


def test_seo_title_meta_and_keywords(store: AuditStore) -> None:
    result = recorded("seo.optimize", store)
    out = result.output
    text = result_output_text(result)
    assert f"TITLE  [{len(out['title'])}/60 characters]" in text
    assert f"META DESCRIPTION  [{len(out['meta_description'])}/160 characters]" in text
    assert "KEYWORDS  " + ", ".join(out["keywords"]) in text
    page = plain(result_output_html(result))
    assert "primary keyword in title: yes" in page


def test_insights_totals_are_shown_as_computed(store: AuditStore) -> None:
    result = recorded("insights.summarize_performance", store)
    totals = result.output["totals"]
    text = result_output_text(result)
    assert f"{totals['sessions']:,}" in text
    assert f"{totals['sessions_change_pct']:+.1f}%" in text
    assert f"{totals['impressions']:,}" in text
    assert ".000000" not in text  # counts are integers
    page = plain(result_output_html(result))
    assert f"{totals['clicks']:,}" in page and "Summary" in page


def test_article_facts_and_text(store: AuditStore) -> None:
    result = recorded("content.generate_article", store)
    text = result_output_text(result)
    assert text.startswith(f"ARTICLE  {result.title}")
    assert f"words: {result.metadata['word_count']:,} of 800" in text
    assert result.content is not None and result.content.strip() in text


def test_everything_is_escaped() -> None:
    hostile = {"posts": {"x": "<script>alert(1)</script>"}}
    page = output_html("social", hostile)
    assert "<script>" not in page and "&lt;script&gt;" in page
    generic = output_html("custom", {"note": "<b>hi</b>"})
    assert "<b>hi</b>" not in generic and "&lt;b&gt;hi&lt;/b&gt;" in generic


def test_over_limit_text_is_flagged() -> None:
    page = output_html("social", {"posts": {"x": "a" * 290}})
    assert "290/280 characters (over by 10)" in plain(page)
    assert "OVER BY 10" in output_text("social", {"posts": {"x": "a" * 290}})


def test_unknown_agents_show_their_output_and_failed_runs_show_nothing() -> None:
    assert '"score": 3' in output_text("my_agent", {"score": 3})
    assert output_html("social", {}) == ""
    assert output_text("ads", None) == ""


@pytest.mark.parametrize("intent", sorted(PARAMS))
def test_the_run_card_carries_the_output_view(intent: str, store: AuditStore) -> None:
    result = recorded(intent, store)
    card = result._repr_html_()
    assert f"neonhub-output-{result.agent}" in card
    assert "neonhub-timeline" in card


@pytest.mark.parametrize("intent", sorted(PARAMS))
def test_the_cli_text_of_a_stored_run_is_the_result_text(intent: str, store: AuditStore) -> None:
    result = run_agent(intent, PARAMS[intent], store=store)
    detail = store.run_detail(result.run_id)
    assert detail_output_text(detail) == result_output_text(result)
    assert detail_output_text(detail)  # never empty for a successful run
