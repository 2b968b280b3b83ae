"""Widget logic without a browser: set .value, call .click(). The studio's tests run on
a DuckDB file and on a real PostgreSQL team store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from neonhub_nb import DraftParams
from neonhub_nb.config import Settings, load_settings
from neonhub_nb.store import AuditStore, Store
from neonhub_nb.widgets import DraftStudio

from .backends import Backend


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    """The recording store of either backend."""
    recording = backend.store(ingest_interval=0.05)
    yield recording
    recording.close()


@pytest.fixture
def duck_store(settings: Settings) -> Iterator[AuditStore]:
    """A DuckDB store only: for tests about the widget's form, not the store."""
    audit = AuditStore.from_settings(settings, ingest_interval=0.05)
    yield audit
    audit.close()


@pytest.fixture
def studio(store: Store, settings: Settings) -> DraftStudio:
    return DraftStudio(store=store, settings=settings, reviewer="Ana")


def fill(studio: DraftStudio, **values: object) -> None:
    """Put values in the form as a notebook's parameters do (typed, not typed-in text)."""
    for name, value in values.items():
        studio.form.set_value(name, value)


def test_bad_values_are_flagged_next_to_their_fields(studio: DraftStudio) -> None:
    form = studio.form
    assert form.generate.disabled  # topic and keyword are required and empty
    assert "topic: is required" in form.messages["topic"].value
    fill(studio, topic="Bakeries", primary_keyword="bakery newsletter")
    assert form.errors == {}
    assert not form.generate.disabled
    assert form.messages["topic"].value == ""
    form.fields["topic"].value = "   "  # as typed in the browser
    assert form.errors == {"topic": "must not be empty"}
    assert "topic: must not be empty" in form.messages["topic"].value
    assert form.generate.disabled


def test_form_builds_the_same_params_as_the_python_api(studio: DraftStudio) -> None:
    fill(
        studio,
        topic="Bakeries",
        primary_keyword="bakery newsletter",
        secondary_keywords="email list, offers",
        tone="witty",
        audience="bakers",
        word_count=450,
    )
    assert studio.form.params() == DraftParams(
        topic="Bakeries",
        primary_keyword="bakery newsletter",
        secondary_keywords=("email list", "offers"),
        tone="witty",
        audience="bakers",
        word_count=450,
    )
    assert studio.form.fields["tone"].options == (
        "professional",
        "friendly",
        "authoritative",
        "conversational",
        "witty",
        "persuasive",
    )
    assert "50–5000" in studio.form.fields["word_count"].placeholder


def test_live_mode_is_offered_only_when_configured(store: Store, tmp_path: object) -> None:
    offline = DraftStudio(store=store, settings=load_settings({}))
    assert offline.form.mode.options == ("mock", "replay")
    assert "OPENAI_API_KEY" in offline.form.mode_note.value
    online = DraftStudio(store=store, settings=load_settings({"OPENAI_BASE_URL": "http://x/v1"}))
    assert online.form.mode.options == ("mock", "live", "replay")


def test_generate_streams_then_shows_card_and_records(studio: DraftStudio, store: Store) -> None:
    fill(studio, topic="Bakeries", primary_keyword="bakery newsletter", word_count=300)
    seen: list[str] = []
    original = studio.result_view.on_token
    studio.result_view.on_token = lambda chunk: (seen.append(chunk), original(chunk))  # type: ignore[method-assign]
    studio.form.generate.click()
    result = studio.result
    assert result is not None and result.status == "succeeded"
    assert "".join(seen) == result.content  # the draft arrived as a stream
    assert result.run_id in studio.result_view.card.value
    assert "succeeded" in studio.result_view.card.value
    assert "<h2>" in studio.result_view.draft.value
    assert store.runs()["run_id"].tolist() == [result.run_id]
    assert not studio.review.approve.disabled


def test_review_panel_appends_decisions_and_shows_the_derived_status_and_trail(
    studio: DraftStudio, store: Store
) -> None:
    fill(studio, topic="Bakeries", primary_keyword="bakery newsletter", word_count=200)
    studio.form.generate.click()
    assert studio.result is not None
    draft_id = studio.result.draft_id
    panel = studio.review
    assert "status:</b> draft" in panel.status.value
    assert "no review decisions yet" in panel.trail.value

    panel.reject.click()  # no reason yet: refused, nothing recorded
    assert "reason: must say why when you reject a draft" in panel.message.value
    panel.reason.value = "too generic"
    panel.reject.click()
    row = store.sql("SELECT * FROM content_drafts WHERE draft_id = ?", [draft_id]).iloc[0]
    assert (row["status"], row["reviewer"], row["review_note"]) == (
        "rejected",
        "Ana",
        "too generic",
    )
    assert panel.reason.value == ""  # a reason belongs to its own decision
    panel.approve.click()  # a rejected draft needs a reopen first
    assert "reopen it" in panel.message.value
    panel.edit.click()
    panel.editor.value = "# A Better Bakery Newsletter Title\n\nShorter body."
    panel.save.click()  # editing a rejected draft needs a reopen too
    assert "reopen it" in panel.message.value
    panel.reason.value = "worth another pass"
    panel.reopen.click()
    panel.save.click()
    panel.approve.click()
    assert "status:</b> approved" in panel.status.value
    row = store.sql("SELECT * FROM content_drafts WHERE draft_id = ?", [draft_id]).iloc[0]
    assert row["status"] == "approved"
    assert row["title"] == "A Better Bakery Newsletter Title"
    assert row["content"].endswith("Shorter body.")
    trail = store.review_trail(draft_id)
    assert trail["decision"].tolist() == ["reject", "reopen", "edit", "approve"]
    assert trail["reviewer"].tolist() == ["Ana"] * 4
    # Nobody gave a reason for the edit or the approval: the trail says none.
    reasons = [None if r is None or r != r else r for r in trail["reason"].tolist()]
    assert reasons == ["too generic", "worth another pass", None, None]
    for decision in ("reject", "reopen", "edit", "approve"):
        assert f"<td style='padding:2px 8px'>{decision}</td>" in panel.trail.value
    assert "UTC" in panel.trail.value


def test_review_panel_says_an_edit_after_approval_sends_the_draft_back(
    studio: DraftStudio, store: Store
) -> None:
    fill(studio, topic="Bakeries", primary_keyword="bakery newsletter", word_count=200)
    studio.form.generate.click()
    assert studio.result is not None
    studio.review.approve.click()
    studio.review.edit.click()
    studio.review.editor.value = "# New Title\n\nNew body."
    studio.review.save.click()
    assert "edited after approval: back to review" in studio.review.message.value
    assert "status:</b> draft" in studio.review.status.value
    assert store.review_state(studio.result.draft_id or "").status == "draft"


def test_history_lists_runs_and_reopens_one(studio: DraftStudio) -> None:
    fill(studio, topic="Bakeries", primary_keyword="bakery newsletter", word_count=100)
    studio.form.generate.click()
    first = studio.result
    fill(studio, topic="Coffee shops", primary_keyword="coffee loyalty")
    studio.form.generate.click()
    assert first is not None and studio.result is not None
    studio.widget.selected_index = 1  # opening the tab refreshes it, in a thread
    assert studio.history.pending is not None
    studio.history.pending.join(timeout=30)
    assert len(studio.history.runs.options) == 2
    assert "2 most recent runs" in studio.history.message.value
    studio.history.runs.value = first.run_id
    studio.history.reopen.click()
    assert studio.result.run_id == first.run_id
    assert studio.result.content == first.content
    assert studio.widget.selected_index == 0


def test_reopening_another_agents_run_puts_its_agent_and_parameters_in_the_form(
    studio: DraftStudio,
) -> None:
    fill(studio, topic="Bakeries", primary_keyword="bakery newsletter", word_count=120)
    studio.form.generate.click()
    article = studio.result
    studio.form.intent.value = "seo.optimize"  # another agent's form
    assert article is not None and studio.result is None
    studio.reopen(article)
    assert studio.form.intent.value == "content.generate_article"
    raw = studio.form.raw()
    assert (raw["topic"], raw["primary_keyword"], raw["word_count"]) == (
        "Bakeries", "bakery newsletter", 120
    )  # fmt: skip
    assert studio.result is not None and studio.result.run_id == article.run_id
    assert studio.review.widget.layout.display is None  # its draft can be reviewed
    studio.form.generate.click()  # Generate runs what the form now shows
    assert studio.result.input["topic"] == "Bakeries" and studio.result.run_id != article.run_id


def test_errors_show_as_a_readable_message_not_a_traceback(store: Store, backend: Backend) -> None:
    settings = load_settings({"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", **backend.env()})
    studio = DraftStudio(store=store, settings=settings)
    fill(studio, topic="Bakeries", primary_keyword="bakery newsletter", word_count=100)
    studio.form.mode.value = "live"
    studio.form.generate.click()
    card = studio.result_view.card.value
    assert "Traceback" not in card
    assert studio.result is not None and studio.result.status == "failed"
    assert "failed" in card


def test_form_can_start_from_given_values(duck_store: AuditStore, settings: Settings) -> None:
    studio = DraftStudio(
        store=duck_store,
        settings=settings,
        topic="Bakeries",
        primary_keyword="bakery newsletter",
        secondary_keywords=["a", "b"],
        word_count=300,
    )
    assert studio.form.errors == {}
    assert studio.form.fields["secondary_keywords"].value == ["a", "b"]
    assert studio.form.params().word_count == 300
