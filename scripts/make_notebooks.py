"""Writes the committed notebooks from their cell sources (clean: no outputs).

Notebooks are generated so their sources stay reviewable as Python; run
``.venv/bin/python scripts/make_notebooks.py`` after editing a cell here.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]


def _notebook(cells: list[nbformat.NotebookNode]) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index:02d}"
    return nb


def playground() -> nbformat.NotebookNode:
    parameters = new_code_cell(
        'mode = "mock"\n'
        'topic = "Email marketing for local bakeries"\n'
        'primary_keyword = "bakery newsletter"\n'
        'secondary_keywords = "email list, seasonal offers"\n'
        'tone = "friendly"\n'
        'audience = "small bakery owners"\n'
        "word_count = 600\n"
        "prompt_version = None\n"
    )
    parameters.metadata["tags"] = ["parameters"]
    return _notebook(
        [
            new_markdown_cell(
                "# Draft playground\n\n"
                "Generate a content draft with the content agent. In **mock** mode the draft is "
                "deterministic and needs no credentials; every run is recorded in the audit "
                "store (`data/neonhub.duckdb` unless `NEONHUB_DB` says otherwise).\n\n"
                "Change the parameters below and run all cells."
            ),
            parameters,
            new_code_cell(
                "from neonhub_nb import DraftParams, run_agent\n\n"
                "params = DraftParams(\n"
                "    topic=topic,\n"
                "    primary_keyword=primary_keyword,\n"
                "    secondary_keywords=secondary_keywords,\n"
                "    tone=tone,\n"
                "    audience=audience,\n"
                "    word_count=word_count,\n"
                ")\n"
                'result = run_agent("content.generate_article", params, mode=mode, '
                "prompt_version=prompt_version)\n"
                "result"
            ),
            new_markdown_cell(
                "## What was recorded\n\nThe run, its tool calls and metrics, "
                "read back from the audit store."
            ),
            new_code_cell(
                "from neonhub_nb import default_store\n\n"
                "detail = default_store().run_detail(result.run_id)\n"
                'assert detail.run["status"] == result.status\n'
                'detail.metrics.set_index("name")["value"]'
            ),
        ]
    )


def main() -> None:
    notebooks = {"notebooks/01_draft_playground.ipynb": playground()}
    for relative, nb in notebooks.items():
        path = ROOT / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.validate(nb)
        path.write_text(nbformat.writes(nb) + "\n")
        print(f"wrote {relative}")


if __name__ == "__main__":
    main()
