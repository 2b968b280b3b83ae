"""Writes the committed notebooks from their cell sources (clean: no outputs).

Notebooks are generated so their sources stay reviewable as Python; run
``.venv/bin/python scripts/make_notebooks.py`` after editing a cell here.
Cells are ("md", text), ("code", source) or ("parameters", source), optionally with a
third item: the cell's tags. ``nbval-ignore-output`` marks a cell whose output varies by
design (timings, new ids, live widgets): nbval does not compare it and ``--execute`` keeps
none of it. Tags stay in the metadata, out of the reader's way (never a comment in the
source).
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

Cell = tuple[str, str] | tuple[str, str, list[str]]
Cells = list[Cell]
IGNORE_OUTPUT = "nbval-ignore-output"
# What ipykernel's kernel spec and kernel_info say: JupyterLab writes both into the
# notebook when a kernel starts, so any difference would open the notebook "modified".
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
    "version": "{major}.{minor}.{micro}",
}


def language_info() -> dict[str, object]:
    """:data:`LANGUAGE_INFO` for the Python that runs the notebooks (the project's venv)."""
    import sys

    version = LANGUAGE_INFO["version"]
    assert isinstance(version, str)
    return {
        **LANGUAGE_INFO,
        "version": version.format(
            major=sys.version_info.major,
            minor=sys.version_info.minor,
            micro=sys.version_info.micro,
        ),
    }


def build(cells: Cells) -> nbformat.NotebookNode:
    nb = new_notebook()
    for index, item in enumerate(cells):
        kind, source = item[0], item[1].strip("\n")
        tags = list(item[2]) if len(item) > 2 else []  # type: ignore[misc]
        cell = new_markdown_cell(source) if kind == "md" else new_code_cell(source)
        if kind == "parameters":
            tags.insert(0, "parameters")
        if tags:
            cell.metadata["tags"] = tags
        cell["id"] = f"cell-{index:02d}"
        nb.cells.append(cell)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = language_info()
    return nb


PLAYGROUND: Cells = [
    (
        "md",
        """
# Agent playground

Run any agent, read its result the way its users do, see what each run called and what it
cost, and reopen past runs. In **mock** mode results are deterministic and need no
credentials; every run is recorded in the audit store (`data/neonhub.duckdb` unless
`NEONHUB_DB` says otherwise).

**Use the form below**: pick an agent, fill in its fields (problems show next to each
field; optional fields may stay empty), press *Generate*. You get:

- the result as its users read it: an article; posts per network with their length against
  each network's limit; ad headlines and descriptions against Google Ads limits; subject
  lines and body of an email; an SEO title, meta description and keywords; an insights
  summary with the totals it was computed from;
- the **timeline** of the run: each model and connector call, when it started, how long it
  took, its attempts, tokens and cost;
- for articles, *Approve*, *Reject* (with a reason) or *Edit*.

The *History* tab lists recent runs and reopens any of them.
""",
    ),
    (
        "parameters",
        """
mode = "mock"
reviewer = ""
intent = "content.generate_article"
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

studio = DraftStudio(reviewer=reviewer, mode=mode, intent=intent, prompt_version=prompt_version,
                     topic=topic, primary_keyword=primary_keyword,
                     secondary_keywords=secondary_keywords, tone=tone, audience=audience,
                     word_count=word_count)
studio
""",
        [IGNORE_OUTPUT],
    ),
    (
        "md",
        """
## The same run from code

The form produces exactly these typed parameters; papermill sets them in the parameters
cell above. The card shows the run, its result and (unfold *Timeline*) its calls.
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
from neonhub_nb.display import readable_metrics

detail = default_store().run_detail(result.run_id)
assert detail.run["status"] == result.status
readable_metrics(detail.metrics)
""",
    ),
    (
        "md",
        """
## Another agent

Every agent's result reads as its users expect: here, posts for X, LinkedIn and Instagram
with their length against each network's limit.
""",
    ),
    (
        "code",
        """
run_agent("social.compose_posts", {"message": f"New on the blog: {result.title}",
                                   "hashtags": "bakery, newsletter"}, mode=mode)
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

Run every prompt variant over every input, score the drafts, and compare each variant
with a **baseline**: a winner per input, and the full drafts side by side with what
changed, word by word. Each grid is one *experiment*: its runs carry the experiment id and
variant in the audit store, so you can reload and compare it later
(`neonhub_nb.experiments.load_experiment`).

Every score has a threshold, and a draft passes or fails each check:

| check | passes when |
| --- | --- |
| title length | 20 to 60 characters (Google shows about 60) |
| keyword in the title | yes |
| first use of the keyword | within the first 25 words |
| keyword density | 0.5% to 3% of the words |
| distance from the word target | 10% or less |
| Flesch reading ease | 60 or more (plain English) |
| sentence length | 20 words or fewer on average |
| clichés found | none |
| LLM judge (`judge = True`) | 4 or more out of 5 |

The winner of an input succeeded and passed the most checks; on a tie, the higher judge
score; still tied, the baseline is kept.
""",
    ),
    (
        "parameters",
        """
variants = ["v1", "v2"]  # or one string: "v2", "v1, v2" (papermill: -p variants v2)
baseline = None  # the variant the others are compared with; None: the first
inputs = "../data/experiment_inputs.json"
mode = "mock"
judge = True  # score each draft with the LLM judge too (one more model call per draft)
concurrency = 4
seed = 0
""",
    ),
    (
        "code",
        """
from neonhub_nb.experiments import load_inputs, run_grid

grid_inputs = load_inputs(inputs)
experiment = run_grid("content.generate_article", variants, grid_inputs, mode=mode,
                      judge=judge, baseline=baseline, concurrency=concurrency, seed=seed)
""",
        [IGNORE_OUTPUT],
    ),
    (
        "code",
        """
succeeded = int((experiment.runs["status"] == "succeeded").sum())
print(f"{len(experiment.runs)} runs recorded, {succeeded} succeeded; "
      f"baseline: {experiment.baseline}")
""",
    ),
    ("md", "## Summary per variant\n\nMean value of each measure, and how often it passed:"),
    (
        "code",
        """
from IPython.display import HTML

HTML(experiment.summary_html(timings=False))
""",
    ),
    ("md", "Latency in milliseconds (it varies from run to run):"),
    (
        "code",
        'experiment.summary()[["runs", "p50_latency_ms"]].round(1)',
        [IGNORE_OUTPUT],
    ),
    ("md", "## Winner per input\n\nChecks passed by each variant, the winner and why:"),
    ("code", "experiment.winners()"),
    (
        "md",
        """
## Side by side, per input

The baseline on the left, the variant on the right: the full drafts, words the variant
removed struck through in red, words it added in green, and every check beside them.
""",
    ),
    (
        "code",
        """
from IPython.display import Markdown, display

for index, item in enumerate(grid_inputs):
    display(Markdown(f"### {index}: {item['topic']} (keyword: *{item['primary_keyword']}*)"))
    display(HTML(experiment.compare_html(index, timings=False)))
""",
    ),
    ("md", "## Checks passed, latency and cost per variant"),
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
load_experiment(default_store(), "<experiment id>", baseline="v1").winners()
```
""",
    ),
    ("code", "experiment.experiment_id", [IGNORE_OUTPUT]),
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
from datetime import UTC, datetime, timedelta

# Stored times are UTC: the week is counted back from the time in UTC, whatever TZ is.
week_ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=7)
store.sql(
    """
    SELECT agent, count(*) AS runs,
           count(*) FILTER (WHERE status = 'failed') AS failed,
           round(100.0 * count(*) FILTER (WHERE status = 'failed') / count(*), 1) AS failed_pct
    FROM agent_runs
    WHERE started_at >= ?
    GROUP BY agent ORDER BY failed DESC, agent
""",
    [week_ago],
)
''',
    ),
    ("md", "## Slowest tool calls"),
    (
        "code",
        '''
store.sql("""
    SELECT tool, operation, count(*) AS calls,
           round(quantile_cont(duration_ms, 0.5), 2) AS p50_ms,
           round(max(duration_ms), 2) AS max_ms
    FROM tool_executions
    GROUP BY tool, operation ORDER BY max_ms DESC LIMIT 10
""")
''',
        [IGNORE_OUTPUT],
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
           sum(m.value) FILTER (WHERE m.name = 'total_tokens')::BIGINT AS tokens,
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

The newest run's tool calls, as a timeline: when each started, how long it took, its
attempts, tokens and cost.
""",
    ),
    (
        "code",
        """
from IPython.display import HTML

from neonhub_nb.display import timeline_html

newest = store.runs(limit=1)["run_id"][0]
detail = store.run_detail(newest)
HTML(timeline_html(detail.tool_executions.to_dict("records"),
                   run_started_at=detail.run["started_at"]))
""",
        [IGNORE_OUTPUT],
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
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = language_info()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)  # timestamps
        cell.metadata.pop("papermill", None)
        if IGNORE_OUTPUT in cell.metadata.get("tags", []):
            cell.outputs = []  # varies by design; nbval does not compare it either
            cell.execution_count = None
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
