"""Every notebook runs headless under papermill with its default parameters (mock mode).

The autouse ``clean_environment`` fixture points NEONHUB_DB at a temp store; the kernel
inherits the environment, so the notebook records there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import papermill as pm
import pytest

from neonhub_nb.store import AuditStore

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def execute(notebook: Path, out: Path, **parameters: object) -> dict[str, object]:
    pm.execute_notebook(
        str(notebook),
        str(out),
        cwd=str(notebook.parent),
        kernel_name="python3",
        progress_bar=False,
        parameters=parameters,
    )
    executed: dict[str, object] = json.loads(out.read_text())
    return executed


def recorded_store() -> AuditStore:
    return AuditStore(Path(os.environ["NEONHUB_DB"]), background=False)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_with_default_parameters(notebook: Path, tmp_path: Path) -> None:
    execute(notebook, tmp_path / notebook.name, mode="mock")
    with recorded_store() as store:
        runs = store.runs()
    assert len(runs) >= 1
    assert set(runs["status"]) == {"succeeded"}


def test_playground_parameters_reach_the_recorded_run(tmp_path: Path) -> None:
    notebook = ROOT / "notebooks" / "01_draft_playground.ipynb"
    execute(
        notebook,
        tmp_path / "out.ipynb",
        topic="Trail running",
        primary_keyword="trail shoes",
        word_count=200,
    )
    with recorded_store() as store:
        articles = store.runs(intent="content.generate_article")
        assert len(articles) == 1
        detail = store.run_detail(articles.loc[0, "run_id"])
    assert detail.run["input"]["topic"] == "Trail running"
    assert detail.run["input"]["word_count"] == 200
    assert detail.draft is not None and "trail shoes" in detail.draft["title"].lower()


def test_bad_parameter_fails_the_notebook_with_the_field_named(tmp_path: Path) -> None:
    notebook = ROOT / "notebooks" / "01_draft_playground.ipynb"
    with pytest.raises(pm.PapermillExecutionError, match="word_count: must be between"):
        execute(notebook, tmp_path / "bad.ipynb", word_count=10)
