"""Experiments as library functions: grids, scorers, comparisons, charts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from neonhub_nb.config import Settings
from neonhub_nb.errors import InvalidInputError
from neonhub_nb.experiments import (
    Variant,
    flesch_reading_ease,
    load_experiment,
    load_inputs,
    run_grid,
    score_draft,
)
from neonhub_nb.store import Store

from .backends import Backend


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    """The recording store of either backend (DuckDB file, real PostgreSQL)."""
    recording = backend.store(ingest_interval=0.05)
    yield recording
    recording.close()


ROOT = Path(__file__).resolve().parents[1]
INPUTS = load_inputs(ROOT / "data" / "experiment_inputs.json")


def test_grid_runs_every_variant_over_every_input_and_records_them(
    store: Store, settings: Settings
) -> None:
    exp = run_grid(
        "content.generate_article",
        ["v1", "v2"],
        INPUTS,
        store=store,
        settings=settings,
        concurrency=3,
        progress=False,
    )
    assert len(exp.runs) == 2 * len(INPUTS)
    assert set(exp.runs["status"]) == {"succeeded"}
    recorded = store.runs(experiment_id=exp.experiment_id, limit=None)
    assert sorted(recorded["run_id"]) == sorted(exp.runs["run_id"])
    assert set(recorded["variant"]) == {"v1", "v2"}
    assert set(recorded["prompt_version"]) == {"v1", "v2"}
    summary = exp.summary()
    assert list(summary.index) == ["v1", "v2"]  # the baseline first
    assert (summary["succeeded"] == len(INPUTS)).all()
    side_by_side = exp.comparison(0)
    assert list(side_by_side.columns) == ["v1", "v2"]
    assert side_by_side.loc["title", "v1"] != side_by_side.loc["title", "v2"]


def test_grid_is_deterministic_in_mock_mode(store: Store, settings: Settings) -> None:
    first = run_grid(
        "content.generate_article",
        ["v1"],
        INPUTS[:2],
        store=store,
        settings=settings,
        progress=False,
    )
    second = run_grid(
        "content.generate_article",
        ["v1"],
        INPUTS[:2],
        store=store,
        settings=settings,
        progress=False,
        concurrency=1,
    )
    assert first.runs["content"].tolist() == second.runs["content"].tolist()
    assert first.experiment_id != second.experiment_id


def test_reloading_an_experiment_from_the_store_gives_the_same_scores(
    store: Store, settings: Settings
) -> None:
    exp = run_grid(
        "content.generate_article",
        ["v1", "v2"],
        INPUTS[:2],
        store=store,
        settings=settings,
        progress=False,
    )
    again = load_experiment(store, exp.experiment_id)
    cols = ["checks_passed", "title_chars", "keyword_density_pct", "reading_ease", "mean_tokens"]
    assert again.summary()[cols].equals(exp.summary()[cols])
    assert again.winners().equals(exp.winners())


def test_a_bad_input_is_refused_before_anything_runs(store: Store, settings: Settings) -> None:
    bad = [*INPUTS[:1], {"topic": "x", "primary_keyword": "y", "word_count": 9}]
    with pytest.raises(InvalidInputError, match=r"inputs\[1\]\.word_count: must be between"):
        run_grid(
            "content.generate_article", ["v1"], bad, store=store, settings=settings, progress=False
        )
    assert store.sql("SELECT count(*) AS n FROM agent_runs")["n"][0] == 0


def test_variant_with_parameter_overrides(store: Store, settings: Settings) -> None:
    exp = run_grid(
        "content.generate_article",
        [
            Variant("short", "v1", {"word_count": 120}),
            {"name": "long", "prompt_version": "v1", "params": {"word_count": 480}},
        ],
        INPUTS[:1],
        store=store,
        settings=settings,
        progress=False,
    )
    words = exp.runs.set_index("variant")["content"].str.split().str.len()
    assert words["short"] < words["long"]


def test_scorers() -> None:
    content = "# Bakery Newsletter Tips\n\nA bakery newsletter keeps customers coming back.\n"
    scores = score_draft("Bakery Newsletter Tips", content, "bakery newsletter", 10)
    assert scores["keyword_in_title"] == 1.0
    assert scores["keyword_in_first_paragraph"] == 1.0
    assert scores["word_count_adherence"] == 1.0  # 10 words, target 10
    assert score_draft("t", content, "x", 8)["word_count_adherence"] == 0.75
    assert scores["no_banned_phrases"] == 1.0
    assert score_draft("t", "This is a game-changer.", "x", 4)["no_banned_phrases"] == 0.0
    assert flesch_reading_ease("The cat sat on the mat.") > flesch_reading_ease(
        "Organizational interdependencies necessitate comprehensive institutional evaluation."
    )


def test_charts_render_to_png(store: Store, settings: Settings, tmp_path: Path) -> None:
    exp = run_grid(
        "content.generate_article",
        ["v1", "v2"],
        INPUTS[:2],
        store=store,
        settings=settings,
        progress=False,
    )
    for name, figure in (("scores", exp.plot_scores()), ("cost", exp.plot_latency_cost())):
        path = tmp_path / f"{name}.png"
        figure.savefig(path)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(figure.axes) == (1 if name == "scores" else 2)


def test_inputs_file_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="inputs: no inputs file"):
        load_inputs(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"topic": "x"}')
    with pytest.raises(InvalidInputError, match="must hold a JSON list of objects"):
        load_inputs(tmp_path / "bad.json")
    (tmp_path / "in.csv").write_text("topic,primary_keyword\nA,b\n")
    assert load_inputs(tmp_path / "in.csv") == [{"topic": "A", "primary_keyword": "b"}]


def test_llm_as_judge_scores_each_draft_and_is_recorded(store: Store, settings: Settings) -> None:
    exp = run_grid(
        "content.generate_article",
        ["v1"],
        INPUTS[:2],
        store=store,
        settings=settings,
        progress=False,
        judge=True,
    )
    assert exp.runs["judge_score"].between(1, 5).all()
    assert "judge_score" in exp.summary()
    assert exp.scorers[-1].name == "judge_score"  # the judge is a check with a threshold
    again = load_experiment(store, exp.experiment_id)
    assert again.runs["judge_score"].tolist() == exp.runs["judge_score"].tolist()
    judged = store.runs(experiment_id=exp.experiment_id, intent="eval.judge_draft", limit=None)
    assert len(judged) == 2 and set(judged["status"]) == {"succeeded"}


def test_async_grid_gives_the_same_drafts_as_the_threaded_one(
    store: Store, settings: Settings
) -> None:
    import asyncio

    from neonhub_nb.experiments import arun_grid

    threaded = run_grid(
        "content.generate_article",
        ["v1", "v2"],
        INPUTS[:2],
        store=store,
        settings=settings,
        progress=False,
    )
    awaited = asyncio.run(
        arun_grid(
            "content.generate_article",
            ["v1", "v2"],
            INPUTS[:2],
            store=store,
            settings=settings,
            progress=False,
            concurrency=2,
        )
    )
    assert awaited.runs["content"].tolist() == threaded.runs["content"].tolist()
    assert len(store.runs(experiment_id=awaited.experiment_id, limit=None)) == 4
