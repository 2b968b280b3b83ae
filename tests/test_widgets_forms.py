"""Forms derived from each agent's schema: controls that fit the field types, optional
fields that stay optional, out-of-range values refused with the field's error, and
failures shown in the panel where the user looks."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import duckdb
import ipywidgets as w
import pytest

from neonhub_nb.agents import AgentCatalog
from neonhub_nb.config import Settings
from neonhub_nb.errors import NeonhubError
from neonhub_nb.store import AuditStore
from neonhub_nb.widgets import DraftStudio

INTENTS = [spec.intent for spec in AgentCatalog.builtin().specs()]


@pytest.fixture
def studio(store: AuditStore, settings: Settings) -> DraftStudio:
    return DraftStudio(store=store, settings=settings, reviewer="Ana")


@pytest.mark.parametrize("intent", INTENTS)
def test_only_required_fields_say_required(studio: DraftStudio, intent: str) -> None:
    studio.form.intent.value = intent
    model = studio.form.params_model
    for name, control in studio.form.controls.items():
        placeholder = str(getattr(control.widget, "placeholder", ""))
        required = model.model_fields[name].is_required()
        has_placeholder = hasattr(control.widget, "placeholder")
        assert ("(required)" in placeholder) == (required and has_placeholder), (name, placeholder)
        if not required:
            assert name not in studio.form.errors, (name, studio.form.errors)  # untouched


def test_controls_fit_the_field_types(studio: DraftStudio) -> None:
    form = studio.form
    form.intent.value = "social.compose_posts"
    assert isinstance(form.fields["publish"], w.Checkbox)
    assert form.fields["publish"].value is False
    networks = form.fields["networks"]
    assert isinstance(networks, w.TagsInput)
    assert list(networks.allowed_tags) == ["x", "linkedin", "instagram"]
    assert isinstance(form.fields["hashtags"], w.TagsInput)
    form.intent.value = "insights.summarize_performance"
    assert isinstance(form.fields["end_date"], w.DatePicker)
    assert form.fields["end_date"].value is None
    form.intent.value = "email.compose_campaign"
    assert isinstance(form.fields["send_to"], w.TagsInput)
    assert isinstance(form.fields["tone"], w.Dropdown)
    form.intent.value = "seo.optimize"
    assert isinstance(form.fields["content"], w.Textarea)  # up to 60,000 characters


@pytest.mark.parametrize("intent", ["insights.summarize_performance", "seo.optimize"])
def test_an_empty_optional_date_runs(studio: DraftStudio, intent: str, store: AuditStore) -> None:
    form = studio.form
    form.intent.value = intent
    if intent == "seo.optimize":
        form.fields["primary_keyword"].value = "bakery newsletter"
        form.fields["title"].value = "Newsletters for bakeries"
        form.fields["content"].value = "# Newsletters\n\nA bakery newsletter keeps regulars."
    assert form.errors == {}
    assert not form.generate.disabled
    form.generate.click()
    assert studio.result is not None and studio.result.status == "succeeded", studio.result
    assert store.run_detail(studio.result.run_id).run["input"]["end_date"] is None


def test_a_chosen_date_reaches_the_run(studio: DraftStudio, store: AuditStore) -> None:
    studio.form.intent.value = "insights.summarize_performance"
    studio.form.fields["end_date"].value = date(2026, 1, 31)
    studio.form.generate.click()
    assert studio.result is not None and studio.result.ok
    assert store.run_detail(studio.result.run_id).run["input"]["end_date"] == "2026-01-31"


def test_checkbox_and_tags_build_the_same_params_as_the_cli(studio: DraftStudio) -> None:
    from neonhub_nb.agents.social import SocialParams

    form = studio.form
    form.intent.value = "social.compose_posts"
    form.fields["message"].value = "Spring menu"
    form.fields["networks"].value = ["x", "linkedin"]
    form.fields["hashtags"].value = ["bakery", "spring"]
    form.fields["publish"].value = True
    form.fields["image_url"].value = ""
    assert form.errors == {}
    # The CLI hands lists over as "a, b": the same typed parameters come out.
    cli = SocialParams(
        message="Spring menu", networks="x, linkedin", hashtags="bakery, spring", publish=True
    )
    assert form.params() == cli


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (math.nan, "word_count: must be a whole number (got 'nan')"),
        (-5, "word_count: must be between 50 and 5000 (got -5)"),
        (10**30, f"word_count: must be between 50 and 5000 (got {10**30})"),
    ],
)
def test_out_of_range_values_are_refused_not_clamped(
    store: AuditStore, settings: Settings, value: float, rule: str
) -> None:
    # As a papermill parameter reaches the form: no TraitError, no silent clamp.
    studio = DraftStudio(
        store=store, settings=settings, topic="Bakeries", primary_keyword="bakery", word_count=value
    )
    form = studio.form
    assert form.errors == {"word_count": rule.split(": ", 1)[1]}
    assert rule in form.messages["word_count"].value.replace("&#x27;", "'")
    assert form.generate.disabled
    studio.generate()
    assert studio.result is None and store.runs().empty  # nothing ran, nothing recorded
    form.fields["word_count"].value = "600"  # the user corrects it
    assert form.errors == {}
    assert form.params().word_count == 600


def test_typed_text_in_a_number_field_is_the_field_error(studio: DraftStudio) -> None:
    studio.form.fields["topic"].value = "Bakeries"
    studio.form.fields["primary_keyword"].value = "bakery newsletter"
    studio.form.fields["word_count"].value = "six hundred"
    assert studio.form.errors["word_count"] == "must be a whole number (got 'six hundred')"
    studio.form.fields["word_count"].value = ""
    assert "word_count" not in studio.form.errors  # optional: empty means the default
    assert studio.form.params().word_count == 800


def test_an_item_over_the_shared_limit_is_the_field_error(studio: DraftStudio) -> None:
    # The bound every agent shares (200 characters an item) is flagged next to its field,
    # as validate_params would refuse it, not only on the card after Generate.
    form = studio.form
    form.fields["topic"].value = "Bakeries"
    form.fields["primary_keyword"].value = "bakery newsletter"
    form.set_value("secondary_keywords", "ok, " + "k" * 201)
    assert form.errors == {"secondary_keywords": "items must be at most 200 characters (got 201)"}
    assert form.generate.disabled


def test_a_value_a_widget_cannot_hold_is_reported(studio: DraftStudio) -> None:
    form = studio.form
    form.intent.value = "social.compose_posts"
    form.set_value("networks", ["x", "facebook"])
    assert form.errors["networks"] == "must be one of 'x', 'linkedin', 'instagram' (got 'facebook')"
    form.fields["networks"].value = ["x"]  # editing the field drops the unshowable value
    assert "networks" not in form.errors


def test_a_run_that_cannot_be_recorded_shows_on_the_card(
    settings: Settings, tmp_path: Path
) -> None:
    store = AuditStore(tmp_path / "closed.duckdb", background=False)
    studio = DraftStudio(store=store, settings=settings)
    store.close()  # the store is gone while the form is open
    studio.form.set_value("topic", "Bakeries")
    studio.form.set_value("primary_keyword", "bakery newsletter")
    assert studio.generate() is None
    card = studio.result_view.card.value
    assert "Could not run" in card and "closed" in card, card
    assert "Traceback" not in card


def test_history_reads_through_a_lock_and_says_what_it_shows(
    settings: Settings, store: AuditStore
) -> None:
    """A ``duckdb -readonly`` session held on the store (as docs/audit-store.md suggests)
    never turns into an error or a hang: History lists the runs and says it shows the last
    ingested state."""
    studio = DraftStudio(store=store, settings=settings, topic="Bakeries", primary_keyword="k")
    assert studio.generate() is not None
    store.flush()
    holder = duckdb.connect(str(settings.db_path), read_only=True)
    try:
        studio.widget.selected_index = 1
        assert studio.history.pending is not None
        studio.history.pending.join(timeout=30)
    finally:
        holder.close()
    assert len(studio.history.runs.options) == 1
    assert "showing the last ingested state" in studio.history.message.value
    assert not studio.history.refresh_button.disabled


def test_an_unreadable_store_is_refused_in_one_line(settings: Settings) -> None:
    settings.db_path.parent.mkdir(parents=True, exist_ok=True)
    settings.db_path.write_bytes(b"this is not a DuckDB file" * 100)
    with pytest.raises(NeonhubError) as caught:
        DraftStudio(settings=settings)
    assert "is not a DuckDB file" in str(caught.value) and "\n" not in str(caught.value)


def test_reopening_a_run_that_is_gone_says_so(studio: DraftStudio) -> None:
    studio.history.runs.options = [("a run that was pruned", "run_missing")]
    studio.history.runs.value = "run_missing"
    assert studio.history.open_selected() is None
    assert "Could not reopen run_missing" in studio.history.message.value


def test_initial_values_and_prompt_version_belong_to_the_initial_intent(
    store: AuditStore, settings: Settings
) -> None:
    studio = DraftStudio(
        store=store, settings=settings, prompt_version="v2", topic="Bakeries", primary_keyword="x"
    )
    assert studio.form.prompt_version_value() == "v2"
    studio.form.intent.value = "social.compose_posts"  # has no v2: no error, latest
    assert studio.form.message.value == ""
    assert studio.form.prompt_version_value() is None
    studio.form.intent.value = "content.generate_article"
    assert studio.form.fields["topic"].value == "Bakeries"
    assert studio.form.prompt_version_value() == "v2"


def test_the_studio_can_open_on_another_agent(store: AuditStore, settings: Settings) -> None:
    studio = DraftStudio(
        store=store, settings=settings, intent="email.compose_campaign", product="Crumb", goal="x"
    )
    assert studio.form.intent.value == "email.compose_campaign"
    assert studio.form.errors == {}


def test_review_shows_only_for_drafts(studio: DraftStudio) -> None:
    studio.form.intent.value = "insights.summarize_performance"
    studio.form.generate.click()
    assert studio.result is not None and studio.result.draft_id is None
    assert studio.review.widget.layout.display == "none"
    assert "it makes no draft to review" in studio.review_note.value
    studio.form.intent.value = "content.generate_article"
    studio.form.fields["topic"].value = "Bakeries"
    studio.form.fields["primary_keyword"].value = "bakery newsletter"
    studio.form.generate.click()
    assert studio.result is not None and studio.result.draft_id is not None
    assert studio.review.widget.layout.display is None and studio.review_note.value == ""


def test_choosing_another_agent_clears_the_shown_result(studio: DraftStudio) -> None:
    studio.form.fields["topic"].value = "Bakeries"
    studio.form.fields["primary_keyword"].value = "bakery newsletter"
    studio.form.generate.click()
    assert studio.result is not None and studio.result_view.card.value
    assert studio.review.widget.layout.display is None
    studio.form.intent.value = "social.compose_posts"
    # Nothing of the article's run is left under the social form to approve by mistake.
    assert studio.result is None
    assert studio.result_view.card.value == "" and studio.result_view.timeline.value == ""
    assert studio.review.widget.layout.display == "none"
