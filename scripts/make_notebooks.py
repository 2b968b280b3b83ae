"""Writes the committed notebooks from their cell sources (clean: no outputs).

Notebooks are generated so their sources stay reviewable as Python; run
``.venv/bin/python scripts/make_notebooks.py`` after editing a cell here.
Cells are ("md", text), ("code", source) or ("parameters", source).
"""

from __future__ import annotations

import argparse
import configparser
import os
import re
import tempfile
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]

Cells = list[tuple[str, str]]


def build(cells: Cells) -> nbformat.NotebookNode:
    nb = new_notebook()
    for index, (kind, source) in enumerate(cells):
        source = source.strip("\n")
        cell = new_markdown_cell(source) if kind == "md" else new_code_cell(source)
        if kind == "parameters":
            cell.metadata["tags"] = ["parameters"]
        cell["id"] = f"cell-{index:02d}"
        nb.cells.append(cell)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    return nb


PLAYGROUND: Cells = [
    (
        "md",
        """
# Draft playground

Generate content drafts with the agents, review them, and reopen past runs. In **mock**
mode drafts are deterministic and need no credentials; every run is recorded in the audit
store (`data/neonhub.duckdb` unless `NEONHUB_DB` says otherwise).

**Use the form below**: fill in the fields (problems show next to each field), press
*Generate*, watch the draft stream in, then approve, reject (with a reason) or edit it.
The *History* tab lists recent runs and reopens any of them.
""",
    ),
    (
        "parameters",
        """
mode = "mock"
reviewer = ""
topic = "Email marketing for local bakeries"
primary_keyword = "bakery newsletter"
secondary_keywords = "email list, seasonal offers"
tone = "friendly"
audience = "small bakery owners"
word_count = 600
prompt_version = None
""",
    ),
    (
        "code",
        """
from neonhub_nb.widgets import DraftStudio

studio = DraftStudio(reviewer=reviewer, mode=mode, prompt_version=prompt_version,
                     topic=topic, primary_keyword=primary_keyword,
                     secondary_keywords=secondary_keywords, tone=tone, audience=audience,
                     word_count=word_count)
studio
""",
    ),
    (
        "md",
        """
## The same run from code

The form produces exactly these typed parameters; papermill sets them in the parameters
cell above.
""",
    ),
    (
        "code",
        """
from neonhub_nb import DraftParams, run_agent

params = DraftParams(
    topic=topic,
    primary_keyword=primary_keyword,
    secondary_keywords=secondary_keywords,
    tone=tone,
    audience=audience,
    word_count=word_count,
)
result = run_agent("content.generate_article", params, mode=mode, prompt_version=prompt_version)
result
""",
    ),
    (
        "md",
        """
## What was recorded

The run's metrics, read back from the audit store.
""",
    ),
    (
        "code",
        """
from neonhub_nb import default_store

detail = default_store().run_detail(result.run_id)
assert detail.run["status"] == result.status
detail.metrics.set_index("name")["value"]
""",
    ),
    (
        "md",
        """
## Connectors

The 17 services agents publish, send and read through: the transport this notebook's runs
use for each (its mock, where nothing leaves the machine, or the vendor's live API) and
whether its credentials are set. Only variable *names* are shown, never their values.
""",
    ),
    (
        "code",
        """
import pandas as pd

from neonhub_nb import load_settings
from neonhub_nb.connectors import connector_status

pd.DataFrame(connector_status(load_settings().with_mode(mode))).set_index("name")
""",
    ),
]

EXPERIMENTS: Cells = [
    (
        "md",
        """
# Prompt experiments

Run every prompt variant over every input, score the drafts and compare them side by side.
Each grid is one *experiment*: its runs carry the experiment id and variant in the audit
store, so you can reload and compare it later (`neonhub_nb.experiments.load_experiment`).

Scores: keyword in title and first paragraph, word-count adherence, banned phrases
(1 = none), Flesch reading ease (higher is easier).
""",
    ),
    (
        "parameters",
        """
variants = ["v1", "v2"]
inputs = "../data/experiment_inputs.json"
mode = "mock"
concurrency = 4
seed = 0
""",
    ),
    (
        "code",
        """
# NBVAL_IGNORE_OUTPUT
# (the progress bar shows timings)
from neonhub_nb.experiments import load_inputs, run_grid

grid_inputs = load_inputs(inputs)
experiment = run_grid("content.generate_article", variants, grid_inputs,
                      mode=mode, concurrency=concurrency, seed=seed)
""",
    ),
    (
        "code",
        """
succeeded = int((experiment.runs["status"] == "succeeded").sum())
print(f"{len(experiment.runs)} runs recorded, {succeeded} succeeded")
""",
    ),
    ("md", "## Summary per variant\n\nQuality, tokens and cost:"),
    ("code", 'experiment.summary().drop(columns=["p50_latency_ms"])'),
    ("md", "Latency in milliseconds (it varies from run to run):"),
    (
        "code",
        """
# NBVAL_IGNORE_OUTPUT
# (timings)
experiment.summary()[["runs", "p50_latency_ms"]]
""",
    ),
    ("md", "## Side by side, per input"),
    (
        "code",
        """
from IPython.display import Markdown, display

for index, item in enumerate(grid_inputs):
    display(Markdown(f"### {index}: {item['topic']} (keyword: *{item['primary_keyword']}*)"))
    display(experiment.comparison(index))
""",
    ),
    ("md", "## Scores, latency and cost per variant"),
    (
        "code",
        """
from neonhub_nb.display import show_figure

show_figure(experiment.plot_scores())
show_figure(experiment.plot_latency_cost())
""",
    ),
    (
        "md",
        """
Reload this experiment later, in any notebook, from the audit store:

```python
from neonhub_nb import default_store
from neonhub_nb.experiments import load_experiment
load_experiment(default_store(), "<experiment id>").summary()
```
""",
    ),
    (
        "code",
        """
# NBVAL_IGNORE_OUTPUT
# (a new id every run)
experiment.experiment_id
""",
    ),
]

AUDIT_EXPLORER: Cells = [
    (
        "md",
        """
# Audit explorer

Every run, tool call, metric and draft is in DuckDB. `store.sql(...)` runs a read query and
returns a pandas DataFrame; it first ingests what other kernels have spooled, so you see
everything recorded so far.

Tables: `agent_runs`, `tool_executions`, `agent_run_metrics`, `content_drafts` (see
`docs/audit-store.md`). From a terminal: `duckdb -readonly data/neonhub.duckdb` for a short
session, or `neonhub-nb snapshot copy.duckdb` for a long one.
""",
    ),
    (
        "parameters",
        """
mode = "mock"
seed_runs_if_empty = True
""",
    ),
    (
        "code",
        """
from neonhub_nb import default_store
from neonhub_nb.experiments import load_inputs, run_grid

store = default_store()
runs_so_far = int(store.sql("SELECT count(*) AS n FROM agent_runs")["n"][0])
if seed_runs_if_empty and runs_so_far == 0:
    # An empty store teaches nothing: record a small demo experiment first.
    run_grid("content.generate_article", ["v1", "v2"],
             load_inputs("../data/experiment_inputs.json"), mode=mode, progress=False,
             experiment_id="demo-experiment")
store.sql("SELECT count(*) AS runs FROM agent_runs")
""",
    ),
    ("md", "## Failures by agent this week"),
    (
        "code",
        '''
store.sql("""
    SELECT agent, count(*) AS runs,
           count(*) FILTER (WHERE status = 'failed') AS failed,
           round(100.0 * count(*) FILTER (WHERE status = 'failed') / count(*), 1) AS failed_pct
    FROM agent_runs
    WHERE started_at >= now()::TIMESTAMP - INTERVAL 7 DAY
    GROUP BY agent ORDER BY failed DESC, agent
""")
''',
    ),
    ("md", "## Slowest tool calls"),
    (
        "code",
        '''
# NBVAL_IGNORE_OUTPUT
# (timings)
store.sql("""
    SELECT tool, operation, count(*) AS calls,
           round(quantile_cont(duration_ms, 0.5), 2) AS p50_ms,
           round(max(duration_ms), 2) AS max_ms
    FROM tool_executions
    GROUP BY tool, operation ORDER BY max_ms DESC LIMIT 10
""")
''',
    ),
    (
        "md",
        """
## Cost per campaign

Runs carry a `campaign` (from `run_agent(..., campaign=...)` or `--campaign`) and an
`experiment_id`; untagged runs are grouped under *(none)*.
""",
    ),
    (
        "code",
        '''
store.sql("""
    SELECT coalesce(r.campaign, r.experiment_id, '(none)') AS campaign,
           count(DISTINCT r.run_id) AS runs,
           sum(m.value) FILTER (WHERE m.name = 'total_tokens') AS tokens,
           round(sum(m.value) FILTER (WHERE m.name = 'cost_usd'), 6) AS cost_usd
    FROM agent_runs r JOIN agent_run_metrics m USING (run_id)
    GROUP BY ALL ORDER BY cost_usd DESC
""")
''',
    ),
    (
        "md",
        """
## One run in full

The newest run's tool calls.
""",
    ),
    (
        "code",
        """
# NBVAL_IGNORE_OUTPUT
# (timings)
newest = store.runs(limit=1)["run_id"][0]
detail = store.run_detail(newest)
detail.tool_executions[["seq", "tool", "operation", "status", "duration_ms"]]
""",
    ),
]

REGRESSION: Cells = [
    (
        "md",
        """
# Regression: one agent run

Runs one agent with the parameters below and checks what the **audit store** recorded
(not what was printed). `tests/test_regression.py` executes this notebook with papermill
for every case in `data/regression/cases.json` and compares the recorded run with
`data/golden/`.
""",
    ),
    (
        "parameters",
        """
intent = "content.generate_article"
params_json = '{"topic": "Email marketing", "primary_keyword": "bakery newsletter"}'
prompt_version = None
seed = 0
mode = "mock"
""",
    ),
    (
        "code",
        """
import json

from neonhub_nb import default_store, run_agent

result = run_agent(intent, json.loads(params_json), mode=mode,
                   prompt_version=prompt_version, seed=seed)
detail = default_store().run_detail(result.run_id)
print(detail.run["status"], detail.run["prompt_name"], detail.run["prompt_version"])
""",
    ),
    (
        "code",
        """
# The store holds exactly what the run returned.
recorded_tools = list(zip(detail.tool_executions["tool"], detail.tool_executions["operation"]))
assert recorded_tools == [(t.tool, t.operation) for t in result.tool_executions], recorded_tools
assert detail.run["intent"] == intent and detail.run["mode"] == mode
assert detail.run["status"] == result.status
assert detail.metric("prompt_tokens") == result.prompt_tokens
assert detail.metric("completion_tokens") == result.completion_tokens
if result.draft_id:
    # A draft from an answer cut at max_tokens is kept, but not queued as complete.
    complete = detail.run["ending"] == "complete"
    assert detail.draft["status"] == ("draft" if complete else "truncated"), detail.run["ending"]
    assert detail.draft["content"] == result.content

if mode == "live":
    # A real model's text varies: check the plumbing, not the prose.
    assert detail.run["status"] in {"succeeded", "failed"}
    assert [t for t, _ in recorded_tools].count("llm") >= 1
    assert detail.metric("completion_tokens") > 0
else:
    assert detail.run["status"] == "succeeded", detail.run["error"]
""",
    ),
]

NOTEBOOKS = {
    "notebooks/01_draft_playground.ipynb": PLAYGROUND,
    "notebooks/02_prompt_experiments.ipynb": EXPERIMENTS,
    "notebooks/03_audit_explorer.ipynb": AUDIT_EXPLORER,
    "notebooks/regression/agent_run.ipynb": REGRESSION,
}


def sanitize_patterns(
    path: Path = ROOT / "nbval_sanitize.cfg",
) -> list[tuple[re.Pattern[str], str]]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    return [(re.compile(parser[s]["regex"]), parser[s]["replace"]) for s in parser.sections()]


def _clean_outputs(nb: nbformat.NotebookNode) -> None:
    """Keep only deterministic outputs, sanitized like nbval sanitizes them."""
    patterns = sanitize_patterns()

    def scrub(text: str) -> str:
        for regex, replacement in patterns:
            text = regex.sub(replacement, text)
        return text

    nb.metadata.pop("widgets", None)  # widget state: random model ids
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)  # timestamps
        cell.metadata.pop("papermill", None)
        if "NBVAL_IGNORE_OUTPUT" in cell.source:
            cell.outputs = []  # varies by design; nbval does not compare it either
            continue
        kept = []
        for output in cell.outputs:
            data = output.get("data", {})
            # Widget views carry random model ids; PNGs are not compared by nbval and bloat
            # the repository. Their text/plain stays, so nbval still sees the output.
            data.pop("application/vnd.jupyter.widget-view+json", None)
            data.pop("image/png", None)
            if output.get("output_type") == "error":
                raise SystemExit(f"a cell failed: {output.get('ename')}: {output.get('evalue')}")
            if "text" in output:
                output["text"] = scrub(output["text"])
            for mime in list(data):
                if isinstance(data[mime], str):
                    data[mime] = scrub(data[mime])
            if "metadata" in output:
                output["metadata"] = {}  # renderer hints only; nbval ignores them
            kept.append(output)
        cell.outputs = kept


def execute(nb: nbformat.NotebookNode, folder: Path) -> nbformat.NotebookNode:
    """Run ``nb`` in ``folder`` against a fresh temp store, mock mode."""
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory(prefix="neonhub-nb-outputs-") as tmp:
        previous = {k: os.environ.get(k) for k in ("NEONHUB_DB", "NEONHUB_MODE")}
        os.environ.update({"NEONHUB_DB": f"{tmp}/outputs.duckdb", "NEONHUB_MODE": "mock"})
        try:
            NotebookClient(
                nb,
                timeout=600,
                kernel_name="python3",
                resources={"metadata": {"path": str(folder)}},
            ).execute()
        finally:
            for key, value in previous.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    _clean_outputs(nb)
    return nb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--execute",
        action="store_true",
        help="run each notebook (mock mode, temp store) and keep its deterministic outputs",
    )
    args = parser.parse_args()
    for relative, cells in NOTEBOOKS.items():
        nb = build(cells)
        path = ROOT / relative
        if args.execute:
            nb = execute(nb, path.parent)
        nbformat.validate(nb)
        path.write_text(nbformat.writes(nb) + "\n")
        print(f"wrote {relative}")


if __name__ == "__main__":
    main()
