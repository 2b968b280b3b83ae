"""End-to-end core: a content draft in mock mode, recorded in a real DuckDB file and in
a real PostgreSQL team store (the ``store`` of this module runs each test on both)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from neonhub_nb import (
    DraftParams,
    InvalidInputError,
    UnknownIntentError,
    register_agent,
    run_agent,
    unregister_agent,
)
from neonhub_nb.agents import AgentSpec
from neonhub_nb.agents.base import AgentContext, AgentOutput
from neonhub_nb.agents.content import count_words
from neonhub_nb.config import Settings
from neonhub_nb.models import AgentParams
from neonhub_nb.store import AuditStore, Store

from .backends import Backend


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    """The recording store of either backend, closed (and fully ingested) afterwards."""
    recording = backend.store(ingest_interval=0.05)
    yield recording
    recording.close()


@pytest.fixture
def duck_store(settings: Settings) -> Iterator[AuditStore]:
    """A DuckDB store only: for the agent's own properties, where the engine is moot."""
    audit = AuditStore.from_settings(settings, ingest_interval=0.05)
    yield audit
    audit.close()


PARAMS = DraftParams(
    topic="Email marketing for local bakeries",
    primary_keyword="bakery newsletter",
    secondary_keywords=("email list", "seasonal offers"),
    tone="friendly",
    audience="small bakery owners",
    word_count=600,
)


def test_mock_draft_is_recorded_with_run_tools_metrics_and_draft(
    store: Store, settings: Settings
) -> None:
    result = run_agent("content.generate_article", PARAMS, store=store, settings=settings)

    assert result.status == "succeeded"
    assert result.title and "bakery newsletter" in result.title.lower()
    assert result.content and result.content.startswith(f"# {result.title}")
    assert result.prompt_tokens > 0 and result.completion_tokens > 0
    assert result.cost_usd > 0
    assert [(t.tool, t.operation) for t in result.tool_executions] == [("llm", "chat.completions")]

    runs = store.runs()
    assert runs["run_id"].tolist() == [result.run_id]
    assert runs.loc[0, "status"] == "succeeded"
    detail = store.run_detail(result.run_id)
    assert detail.run["input"]["primary_keyword"] == "bakery newsletter"
    assert detail.run["output"]["draft_id"] == result.draft_id
    assert detail.run["prompt_name"] == "content.article"
    assert detail.run["prompt_version"] == result.prompt_version
    assert detail.metric("prompt_tokens") == result.prompt_tokens
    assert detail.metric("completion_tokens") == result.completion_tokens
    assert detail.metric("cost_usd") == pytest.approx(result.cost_usd)
    assert detail.metric("word_count") == result.metadata["word_count"]
    assert detail.tool_executions["tool"].tolist() == ["llm"]
    assert detail.draft is not None
    assert detail.draft["status"] == "draft"
    assert detail.draft["content"] == result.content


def test_same_parameters_give_the_same_draft_byte_for_byte(
    store: Store, settings: Settings
) -> None:
    first = run_agent("content.generate_article", PARAMS, store=store, settings=settings)
    second = run_agent("content.generate_article", PARAMS, store=store, settings=settings)
    assert first.run_id != second.run_id
    assert first.content == second.content
    assert (first.prompt_tokens, first.completion_tokens) == (
        second.prompt_tokens,
        second.completion_tokens,
    )
    other = run_agent("content.generate_article", PARAMS, store=store, settings=settings, seed=7)
    assert other.content != first.content


@pytest.mark.parametrize("tone", ["professional", "friendly", "witty", "persuasive"])
@pytest.mark.parametrize("word_count", [50, 120, 600, 2000, 5000])
def test_draft_honours_keyword_audience_and_word_count(
    duck_store: Store, settings: Settings, tone: str, word_count: int
) -> None:
    params = PARAMS.model_copy(update={"tone": tone, "word_count": word_count})
    result = run_agent("content.generate_article", params, store=duck_store, settings=settings)
    assert result.content is not None and result.title is not None
    words = count_words(result.content)
    assert abs(words - word_count) <= 0.1 * word_count, (words, word_count)
    assert result.metadata["word_count"] == words
    assert result.metadata["keyword_in_title"]
    assert result.metadata["keyword_in_first_paragraph"]
    if word_count >= 600:
        assert "small bakery owners" in result.content.lower()
        assert result.content.count("\n## ") >= 2


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("topic", "", "topic: must not be empty"),
        ("topic", "   ", "topic: must not be empty"),
        ("primary_keyword", "", "primary_keyword: must not be empty"),
        ("word_count", 49, "word_count: must be between 50 and 5000 (got 49)"),
        ("word_count", 5001, "word_count: must be between 50 and 5000 (got 5001)"),
        ("word_count", "many", "word_count: must be a whole number (got 'many')"),
        ("tone", "angry", "tone: must be one of 'professional', 'friendly'"),
        ("colour", "red", "colour: unknown field; known fields: topic"),
    ],
)
def test_bad_input_names_field_and_rule_and_writes_nothing(
    store: Store, settings: Settings, field: str, value: object, message: str
) -> None:
    raw = {"topic": "Bakeries", "primary_keyword": "bakery newsletter", field: value}
    with pytest.raises(InvalidInputError) as caught:
        run_agent("content.generate_article", raw, store=store, settings=settings)
    assert str(caught.value).startswith(message)
    assert caught.value.field == field
    assert store.sql("SELECT count(*) AS n FROM agent_runs")["n"][0] == 0
    assert store._spool.bytes_written == 0  # type: ignore[attr-defined]


def test_missing_required_field_and_unknown_intent(store: Store, settings: Settings) -> None:
    with pytest.raises(InvalidInputError, match=r"^primary_keyword: is required$"):
        run_agent("content.generate_article", {"topic": "x"}, store=store, settings=settings)
    with pytest.raises(UnknownIntentError, match=r"known intents: .*content\.generate_article"):
        run_agent("content.write_poem", {"topic": "x"}, store=store, settings=settings)
    assert store._spool.bytes_written == 0  # type: ignore[attr-defined]


class _BoomParams(AgentParams):
    topic: str


class _BoomAgent:
    name = "boom"

    def run(self, params: _BoomParams, ctx: AgentContext) -> AgentOutput:
        ctx.complete([{"role": "user", "content": f"say something about {params.topic}"}])
        raise RuntimeError(f"could not write about {params.topic}")


@pytest.fixture(autouse=True)
def boom_agent() -> Iterator[None]:
    register_agent(
        AgentSpec(
            intent="test.boom",
            agent="boom",
            params_model=_BoomParams,
            factory=_BoomAgent,
            description="always fails after one LLM call",
        )
    )
    yield
    unregister_agent("test.boom")


def test_failing_agent_is_recorded_as_failed_with_its_error(
    store: Store, settings: Settings
) -> None:
    result = run_agent("test.boom", {"topic": "cakes"}, store=store, settings=settings)
    assert result.status == "failed"
    assert result.error == "RuntimeError: could not write about cakes"
    detail = store.run_detail(result.run_id)
    assert detail.run["status"] == "failed"
    assert detail.run["error"] == "RuntimeError: could not write about cakes"
    assert detail.run["finished_at"] is not None and detail.run["duration_ms"] >= 0
    # The tool call made before the failure is kept, and so are the tokens it used.
    assert detail.tool_executions["tool"].tolist() == ["llm"]
    assert detail.metric("prompt_tokens") > 0
    assert detail.draft is None


def test_secrets_in_inputs_and_errors_never_reach_the_store(
    store: Store, settings: Settings
) -> None:
    secret = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2"
    result = run_agent("test.boom", {"topic": f"key {secret}"}, store=store, settings=settings)
    assert secret not in (result.error or "")
    with store.connect() as con:
        dump = json.dumps(
            [
                con.execute(f"SELECT * FROM {t}").fetchall()
                for t in ("agent_runs", "tool_executions", "agent_run_metrics", "content_drafts")
            ],
            default=str,
        )
    assert secret not in dump
    assert "[REDACTED]" in dump
    assert "input.topic" in store.run_detail(result.run_id).run["redacted_fields"]


def test_run_result_renders_as_a_card() -> None:
    from neonhub_nb.clock import FakeClock
    from neonhub_nb.models import RunResult

    card = RunResult(
        run_id="run_1",
        intent="content.generate_article",
        agent="content",
        status="failed",
        mode="mock",
        started_at=FakeClock().now(),
        error="boom <b>",
        title="A <title>",
        content="# A <title>\n\nBody & more",
    )._repr_html_()
    assert "failed" in card and "boom &lt;b&gt;" in card and "Body &amp; more" in card
