"""A comparison worth reading: variants given as papermill hands them over, scorers that
tell variants apart with pass/fail thresholds, a winner per input, full drafts side by
side with a word diff, and failed runs that break nothing."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from neonhub_nb.config import Settings
from neonhub_nb.errors import InvalidInputError
from neonhub_nb.experiments import (
    SCORERS,
    Experiment,
    Scorer,
    Variant,
    load_inputs,
    parse_variants,
    run_grid,
    score_article,
    word_diff,
)
from neonhub_nb.store import AuditStore

from .faultserver import Fault, FaultServer
from .live_support import live_settings

ROOT = Path(__file__).resolve().parents[1]
INPUTS = load_inputs(ROOT / "data" / "experiment_inputs.json")


@pytest.fixture
def exp(store: AuditStore, settings: Settings) -> Experiment:
    return run_grid(
        "content.generate_article", ["v1", "v2"], INPUTS, store=store, settings=settings,
        progress=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("given", "names"),
    [
        ("v2", ["v2"]),
        ("v1, v2", ["v1", "v2"]),
        ("v1 v2", ["v1", "v2"]),
        ('["v2", "v1"]', ["v2", "v1"]),
        (["v1"], ["v1"]),
        ({"name": "short", "prompt_version": "v1"}, ["short"]),
    ],
)
def test_variants_from_a_string_or_a_list(given: object, names: list[str]) -> None:
    assert [v.name for v in parse_variants(given)] == names  # type: ignore[arg-type]


@pytest.mark.parametrize(("given", "rule"), [("", "at least one"), ("v1, v1", "unique")])
def test_bad_variant_lists_are_refused(given: str, rule: str) -> None:
    with pytest.raises(InvalidInputError, match=f"variants: .*{rule}"):
        parse_variants(given)


def test_a_string_runs_that_variant_only(store: AuditStore, settings: Settings) -> None:
    exp = run_grid(
        "content.generate_article", "v2", INPUTS[:2], store=store, settings=settings,
        progress=False,
    )  # fmt: skip
    recorded = store.runs(experiment_id=exp.experiment_id, limit=None)
    assert len(recorded) == 2
    assert set(recorded["prompt_version"]) == {"v2"} and set(recorded["variant"]) == {"v2"}


@pytest.mark.parametrize("variants", [["v", "2"], "v1, v9", [Variant("x", "nope")]])
def test_unknown_prompt_versions_are_refused_before_anything_runs(
    store: AuditStore, settings: Settings, variants: object
) -> None:
    with pytest.raises(InvalidInputError, match=r"prompt_version: .*has no version"):
        run_grid(
            "content.generate_article", variants, INPUTS, store=store, settings=settings,  # type: ignore[arg-type]
            progress=False,
        )  # fmt: skip
    assert store.sql("SELECT count(*) AS n FROM agent_runs")["n"][0] == 0


def test_a_baseline_that_is_not_a_variant_is_refused(store: AuditStore, settings: Settings) -> None:
    with pytest.raises(InvalidInputError, match="baseline: must be one of the variants v1, v2"):
        run_grid(
            "content.generate_article", "v1, v2", INPUTS, store=store, settings=settings,
            baseline="v3", progress=False,
        )  # fmt: skip


def test_scorers_tell_the_variants_apart(exp: Experiment) -> None:
    summary = exp.summary()
    differing = [s.name for s in SCORERS if summary.loc["v1", s.name] != summary.loc["v2", s.name]]
    # At least half the measures differ between v1 and v2 (not all 1.0 for both).
    assert len(differing) >= len(SCORERS) // 2, differing
    pass_rates = summary[[f"{s.name}_pass" for s in SCORERS]]
    assert ((pass_rates > 0) & (pass_rates < 1)).any(axis=None) or (
        pass_rates.loc["v1"] != pass_rates.loc["v2"]
    ).any(), "no check passes for one variant and fails for the other"


def test_thresholds_pass_and_fail() -> None:
    title = next(s for s in SCORERS if s.name == "title_chars")
    assert title.passes(60) and not title.passes(61) and not title.passes(5)
    assert title.rule == "20–60"
    banned = next(s for s in SCORERS if s.name == "banned_phrases")
    assert banned.passes(0) and not banned.passes(1) and banned.rule == "≤ 0"
    assert not Scorer("x", "x", "", lambda t, c, p: None, 1).passes(None)
    scores = score_article(
        "A Bakery Newsletter Guide",
        "# A Bakery Newsletter Guide\n\nThis game-changer bakery newsletter works. It is fine.",
        {"primary_keyword": "bakery newsletter", "word_count": 10},
    )
    assert scores["keyword_in_title"] == 1.0
    assert scores["keyword_first_word"] == 3.0  # "This game-changer bakery newsletter"
    assert scores["banned_phrases"] == 1.0
    assert scores["word_count_error_pct"] == 20.0  # 12 words against 10 (heading included)


def test_the_winner_passes_the_most_checks_or_the_baseline_is_kept(exp: Experiment) -> None:
    winners = exp.winners()
    assert list(winners.index) == list(range(len(INPUTS)))
    for index, row in winners.iterrows():
        passed = {v: int(str(row[v]).split("/")[0]) for v in ("v1", "v2")}
        if passed["v1"] == passed["v2"]:
            assert row["winner"] == "tie: v1 kept" and "both pass" in row["why"]
        else:
            assert row["winner"] == max(passed, key=passed.__getitem__), (index, row)
            assert f"{passed[row['winner']]}/" in row["why"]


def test_side_by_side_shows_both_full_drafts_with_a_word_diff(exp: Experiment) -> None:
    page = exp.compare_html(0)
    v1, v2 = (
        exp.runs[(exp.runs.input_index == 0) & (exp.runs.variant == v)].iloc[0]
        for v in ("v1", "v2")
    )
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    for content in (v1["content"], v2["content"]):
        assert content.split()[-1] in text and content.split()[3] in text
        assert len(content.split()) > 60  # a full draft, not a 45-character excerpt
    assert text.count(v2["content"].split("\n\n")[-1].strip()) >= 1
    assert "line-through" in page and "#dafbe1" in page  # removed and added words marked
    assert "checks passed" in text and "pass" in text and "fail" in text
    assert "(baseline)" in text and "winner" in text
    assert "$" in text and "e-0" not in text  # money as money


def test_word_diff_marks_only_what_changed() -> None:
    diff = word_diff("the quick brown fox", "the slow brown fox jumps")
    assert (diff.removed_words, diff.added_words, diff.same_words) == (1, 2, 3)
    assert "quick" in diff.left_html and "line-through" in diff.left_html
    assert "slow" in diff.right_html and "jumps" in diff.right_html
    assert "brown" in diff.left_html and "brown" in diff.right_html
    assert word_diff("a b", "a b").changed_share == 0.0


def test_summary_reads_without_scrolling(exp: Experiment) -> None:
    page = exp.summary_html()
    assert page.count("<tr>") == 2 + len(SCORERS) + 3 + 1  # one row per measure
    assert page.count("<th") == 3  # a column per variant, not per measure
    assert "v1 (baseline)" in page
    assert re.search(r"\$0\.\d+", page) and "e-0" not in page


def test_failed_runs_break_nothing(
    server: FaultServer, tmp_path: Path, store: AuditStore, fresh_live_state: None
) -> None:
    settings = live_settings(server.url, tmp_path, NEONHUB_LLM_MAX_RETRIES="0")
    server.push(*[Fault.status(500)] * 4)
    exp = run_grid(
        "content.generate_article", "v1, v2", INPUTS[:2], store=store, settings=settings,
        concurrency=1, progress=False,
    )  # fmt: skip
    assert set(exp.runs["status"]) == {"failed"}
    assert (exp.summary()["succeeded"] == 0).all()
    assert set(exp.winners()["why"]) == {"no variant succeeded"}
    figure = exp.plot_scores()  # no IndexError
    assert figure.axes[0].texts[0].get_text() == "no successful runs to score"
    exp.plot_latency_cost()
    assert "500" in exp.compare_html(0) or "failed" in exp.compare_html(0)


def test_a_failed_variant_loses_to_one_that_succeeded(
    server: FaultServer, tmp_path: Path, store: AuditStore, fresh_live_state: None
) -> None:
    settings = live_settings(server.url, tmp_path, NEONHUB_LLM_MAX_RETRIES="0")
    server.push(
        Fault.ok("# Bakery Newsletter Basics\n\nA bakery newsletter, plainly."), Fault.status(500)
    )
    exp = run_grid(
        "content.generate_article", "v1, v2", INPUTS[:1], store=store, settings=settings,
        concurrency=1, progress=False,
    )  # fmt: skip
    by_variant = exp.runs.set_index("variant")["status"]
    winner = exp.winners().loc[0, "winner"]
    assert by_variant[winner] == "succeeded"
    assert "failed" in exp.winners().loc[0, "why"]
