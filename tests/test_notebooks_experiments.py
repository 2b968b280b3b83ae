"""The experiments notebook under papermill as CI and analysts run it: a string where a
list is expected, the judge as a parameter, an unknown prompt version refused before
anything runs (the kernel records into the temp store of ``clean_environment``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import papermill as pm
import pytest

from neonhub_nb.store import AuditStore

from .test_notebooks import execute

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "02_prompt_experiments.ipynb"
INPUTS = json.loads((NOTEBOOK.parents[1] / "data" / "experiment_inputs.json").read_text())


def recorded_runs() -> list[dict[str, object]]:
    with AuditStore(Path(os.environ["NEONHUB_DB"]), background=False) as store:
        return store.runs(limit=None).to_dict("records")


def outputs(executed: dict[str, object]) -> str:
    return json.dumps(executed["cells"])


def test_a_single_variant_given_as_a_string_runs_that_variant(tmp_path: Path) -> None:
    # What `papermill -p variants v2` hands over: the string "v2", not a list.
    executed = execute(NOTEBOOK, tmp_path / "out.ipynb", variants="v2", judge=False)
    runs = recorded_runs()
    assert len(runs) == len(INPUTS)
    assert {(r["variant"], r["prompt_version"], r["status"]) for r in runs} == {
        ("v2", "v2", "succeeded")
    }
    text = outputs(executed)
    assert f"{len(INPUTS)} runs recorded, {len(INPUTS)} succeeded; baseline: v2" in text
    assert "Error" not in text  # plot_scores and friends ran


def test_a_comma_separated_string_and_a_baseline(tmp_path: Path) -> None:
    executed = execute(NOTEBOOK, tmp_path / "out.ipynb", variants="v2, v1", baseline="v1",
                       judge=False)  # fmt: skip
    assert {r["variant"] for r in recorded_runs()} == {"v1", "v2"}
    assert "baseline: v1" in outputs(executed)


def test_the_judge_is_a_parameter(tmp_path: Path) -> None:
    execute(NOTEBOOK, tmp_path / "judged.ipynb", variants="v1")  # judge = True by default
    judged = [r for r in recorded_runs() if r["intent"] == "eval.judge_draft"]
    assert len(judged) == len(INPUTS)
    executed = execute(NOTEBOOK, tmp_path / "unjudged.ipynb", variants="v1", judge=False)
    assert len([r for r in recorded_runs() if r["intent"] == "eval.judge_draft"]) == len(INPUTS)
    assert "LLM judge" not in outputs(executed).split("Summary per variant")[1]


def test_an_unknown_prompt_version_stops_the_notebook_before_anything_runs(
    tmp_path: Path,
) -> None:
    with pytest.raises(pm.PapermillExecutionError, match=r"prompt_version: .* has no version 'v3'"):
        execute(NOTEBOOK, tmp_path / "bad.ipynb", variants="v1, v3")
    assert recorded_runs() == []
