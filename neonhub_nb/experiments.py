"""Prompt experiments: every variant over every input, scored and compared.

``run_grid`` runs a grid (variants x inputs) as one experiment: every run is recorded with
the experiment id and its variant, so the grid can be reloaded and compared later with
``load_experiment``. Scorers are plain functions of a draft; comparisons are DataFrames and
matplotlib figures (PNG: they render offline in JupyterLab and Voila alike).

>>> exp = run_grid("content.generate_article", [Variant("v1", "v1"), Variant("v2", "v2")],
...                load_inputs("data/experiment_inputs.json"))          # doctest: +SKIP
>>> exp.summary()                                                        # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .agents.content import count_words
from .config import Settings, load_settings
from .errors import InvalidInputError
from .ids import new_id
from .models import RunRequest, RunResult, validate_params
from .orchestrator import Orchestrator, build_orchestrator
from .runtime import Runtime
from .store import AuditStore

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "BANNED_PHRASES",
    "Experiment",
    "Variant",
    "arun_grid",
    "flesch_reading_ease",
    "load_experiment",
    "load_inputs",
    "run_grid",
    "score_draft",
]

BANNED_PHRASES = (
    "game-changer",
    "game changer",
    "in today's fast-paced world",
    "unlock the power",
    "delve into",
    "revolutionize",
    "synergy",
    "cutting-edge",
    "look no further",
    "it's important to note",
)
SCORE_COLUMNS = (
    "keyword_in_title",
    "keyword_in_first_paragraph",
    "word_count_adherence",
    "no_banned_phrases",
    "reading_ease",
)


@dataclass(frozen=True)
class Variant:
    """One arm of an experiment: a prompt version and optional parameter overrides."""

    name: str
    prompt_version: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: str | Mapping[str, Any] | Variant) -> Variant:
        """``"v2"`` (a prompt version) or ``{"name": ..., "prompt_version": ..., "params": {}}``."""
        if isinstance(spec, Variant):
            return spec
        if isinstance(spec, str):
            return cls(name=spec, prompt_version=spec)
        return cls(
            name=str(spec["name"]),
            prompt_version=spec.get("prompt_version"),
            params=dict(spec.get("params") or {}),
        )


def load_inputs(path: str | Path) -> list[dict[str, Any]]:
    """Inputs of a grid from a JSON list of objects or a CSV file with a header row."""
    source = Path(path)
    if not source.is_file():
        raise InvalidInputError("inputs", f"no inputs file at {source}")
    if source.suffix == ".csv":
        with source.open(newline="") as handle:
            return [dict(row) for row in csv.DictReader(handle)]
    data = json.loads(source.read_text())
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise InvalidInputError("inputs", f"{source} must hold a JSON list of objects")
    return data


# ------------------------------------------------------------------------ scorers
@lru_cache(maxsize=1)
def _hyphenator() -> Any:
    import pyphen

    return pyphen.Pyphen(lang="en_US")


_WORDS = re.compile(r"[A-Za-z][A-Za-z'’\-]*")
_SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)")


def flesch_reading_ease(text: str) -> float:
    """Flesch reading ease (higher is easier; 60-70 is plain English), Markdown stripped."""
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    words = _WORDS.findall(body)
    if not words:
        return 0.0
    sentences = max(1, len(_SENTENCE_END.findall(body)))
    hyphenator = _hyphenator()
    syllables = sum(len(hyphenator.positions(word.lower())) + 1 for word in words)
    return round(206.835 - 1.015 * len(words) / sentences - 84.6 * syllables / len(words), 1)


def score_draft(title: str, content: str, keyword: str, target_words: int) -> dict[str, float]:
    """The standard scores of a draft; each in [0, 1] except ``reading_ease``."""
    lowered_keyword = keyword.lower()
    paragraphs = [p for p in content.split("\n\n") if p.strip() and not p.lstrip().startswith("#")]
    words = count_words(content)
    banned = [phrase for phrase in BANNED_PHRASES if phrase in content.lower()]
    scores = {
        "keyword_in_title": float(lowered_keyword in title.lower()),
        "keyword_in_first_paragraph": float(
            bool(paragraphs) and lowered_keyword in paragraphs[0].lower()
        ),
        "word_count_adherence": round(max(0.0, 1 - abs(words - target_words) / target_words), 3),
        "no_banned_phrases": float(not banned),
        "reading_ease": flesch_reading_ease(content),
    }
    return scores


# -------------------------------------------------------------------- experiments
@dataclass
class Experiment:
    """The runs of one grid, one row per (variant, input), with scores."""

    experiment_id: str
    runs: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """Per variant: success rate, mean scores, median latency, tokens and total cost."""
        frame = self.runs
        grouped = frame.groupby("variant", sort=True)
        summary = pd.DataFrame(
            {
                "runs": grouped.size(),
                "success_rate": grouped["status"].apply(lambda s: float((s == "succeeded").mean())),
                **{name: grouped[name].mean() for name in SCORE_COLUMNS if name in frame},
                "p50_latency_ms": grouped["duration_ms"].median(),
                "mean_tokens": grouped["total_tokens"].mean(),
                "total_cost_usd": grouped["cost_usd"].sum(),
            }
        )
        if "judge_score" in frame:
            summary["judge_score"] = grouped["judge_score"].mean()
        return summary.round(4)

    def comparison(self, input_index: int, excerpt_words: int = 60) -> pd.DataFrame:
        """One input, side by side: a column per variant (title, excerpt, scores)."""
        rows = self.runs[self.runs["input_index"] == input_index]
        if rows.empty:
            raise InvalidInputError("input_index", f"no runs for input {input_index}")
        table: dict[str, dict[str, Any]] = {}
        for row in rows.sort_values("variant").to_dict("records"):
            content = row.get("content") or ""
            words = content.split()
            table[row["variant"]] = {
                "title": row.get("title") or row.get("error"),
                "excerpt": " ".join(words[:excerpt_words])
                + (" …" if len(words) > excerpt_words else ""),
                **{name: row.get(name) for name in SCORE_COLUMNS},
                "tokens": row["total_tokens"],
                "cost_usd": row["cost_usd"],
            }
        return pd.DataFrame(table)

    def plot_scores(self) -> Figure:
        """Mean score per variant for each scorer (bars)."""
        from matplotlib.figure import Figure

        summary = self.summary()
        columns = [c for c in SCORE_COLUMNS if c != "reading_ease" and c in summary]
        figure = Figure(figsize=(8, 3.2), dpi=100)
        axes = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1]})
        summary[columns].T.plot.bar(ax=axes[0], rot=15, ylim=(0, 1.05))
        axes[0].set_title("scores (mean, higher is better)")
        axes[0].legend(title="variant", fontsize=8)
        summary[["reading_ease"]].plot.bar(ax=axes[1], rot=0, legend=False)
        axes[1].set_title("reading ease")
        figure.tight_layout()
        return figure

    def plot_latency_cost(self) -> Figure:
        """Latency distribution and total cost per variant."""
        from matplotlib.figure import Figure

        figure = Figure(figsize=(8, 3.2), dpi=100)
        axes = figure.subplots(1, 2)
        variants = sorted(self.runs["variant"].unique())
        axes[0].boxplot(
            [self.runs.loc[self.runs["variant"] == v, "duration_ms"].dropna() for v in variants],
            tick_labels=variants,
        )
        axes[0].set_title("latency (ms)")
        costs = self.runs.groupby("variant")["cost_usd"].sum().reindex(variants)
        axes[1].bar(variants, costs.to_numpy())
        axes[1].set_title("total cost (USD)")
        figure.tight_layout()
        return figure


def _row(
    variant: Variant,
    index: int,
    params: Mapping[str, Any],
    result: RunResult,
    target_words: int | None,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "variant": variant.name,
        "input_index": index,
        "run_id": result.run_id,
        "status": result.status,
        "duration_ms": result.duration_ms,
        "total_tokens": result.total_tokens,
        "cost_usd": result.cost_usd,
        "prompt_version": result.prompt_version,
        "title": result.title,
        "content": result.content,
        "error": result.error,
    }
    keyword = str(params.get("primary_keyword") or "")
    if result.content and result.title and keyword and target_words:
        row.update(score_draft(result.title, result.content, keyword, target_words))
    return row


@dataclass
class _Grid:
    """The validated jobs of one grid and how to run one of them (threads or asyncio)."""

    intent: str
    jobs: list[tuple[Variant, int, Any]]
    experiment_id: str
    orchestrator: Orchestrator
    seed: int
    judge: bool

    @classmethod
    def prepare(
        cls,
        intent: str,
        variants: Sequence[str | Mapping[str, Any] | Variant],
        inputs: Sequence[Mapping[str, Any]],
        *,
        mode: str | None,
        concurrency: int,
        seed: int,
        experiment_id: str | None,
        store: AuditStore | None,
        settings: Settings | None,
        judge: bool,
        runtime: Runtime | None = None,
    ) -> _Grid:
        if concurrency < 1:
            raise InvalidInputError("concurrency", f"must be at least 1 (got {concurrency})")
        if not variants:
            raise InvalidInputError("variants", "must name at least one variant")
        settings = settings or load_settings()
        if mode is not None:
            settings = settings.with_mode(mode)
        orchestrator = build_orchestrator(settings, runtime=runtime, store=store)
        spec = orchestrator.catalog.get(intent)
        arms = [Variant.parse(v) for v in variants]
        for arm in arms:  # an unknown prompt version is refused before anything runs
            orchestrator.catalog.check_prompt_version(intent, arm.prompt_version)
        jobs = []
        for index, raw in enumerate(inputs):
            for arm in arms:
                try:
                    params = validate_params(spec.params_model, {**raw, **arm.params})
                except InvalidInputError as exc:
                    raise InvalidInputError(f"inputs[{index}].{exc.field}", exc.rule) from None
                jobs.append((arm, index, params))
        return cls(
            intent,
            jobs,
            experiment_id or new_id("exp"),
            orchestrator,
            seed,
            judge,
        )

    def run_one(self, job: tuple[Variant, int, Any]) -> dict[str, Any]:
        arm, index, params = job
        result = self.orchestrator.run(
            RunRequest(
                intent=self.intent,
                params=params,
                experiment_id=self.experiment_id,
                prompt_version=arm.prompt_version,
                variant=arm.name,
                seed=self.seed,
            )
        )
        dumped = params.model_dump()
        row = _row(arm, index, dumped, result, dumped.get("word_count"))
        if self.judge and result.content:
            # The judge is an agent too: its call, tokens and cost are recorded with the grid.
            verdict = self.orchestrator.run(
                RunRequest(
                    intent="eval.judge_draft",
                    experiment_id=self.experiment_id,
                    variant=arm.name,
                    seed=self.seed,
                    params={
                        "draft": result.content,
                        "primary_keyword": dumped.get("primary_keyword") or "-",
                        "audience": dumped.get("audience") or "readers",
                    },
                )
            )
            row["judge_score"] = verdict.output.get("score") if verdict.ok else None
        return row

    def result(self, rows: list[dict[str, Any]]) -> Experiment:
        frame = pd.DataFrame(rows).sort_values(["input_index", "variant"]).reset_index(drop=True)
        return Experiment(self.experiment_id, frame)


def run_grid(
    intent: str,
    variants: Sequence[str | Mapping[str, Any] | Variant],
    inputs: Sequence[Mapping[str, Any]],
    *,
    mode: str | None = None,
    concurrency: int = 4,
    seed: int = 0,
    experiment_id: str | None = None,
    store: AuditStore | None = None,
    settings: Settings | None = None,
    progress: bool = True,
    judge: bool = False,
) -> Experiment:
    """Run every variant over every input (``concurrency`` at a time) as one experiment.

    ``judge=True`` also scores each draft with the ``eval.judge_draft`` agent (an
    LLM-as-judge: meaningful in live mode, deterministic in mock mode).
    Inputs are validated before anything runs: a bad input raises one
    :class:`InvalidInputError` naming the input and field, and nothing is recorded.
    From a notebook cell, ``await arun_grid(...)`` does the same on the kernel's event loop.
    """
    grid = _Grid.prepare(
        intent,
        variants,
        inputs,
        mode=mode,
        concurrency=concurrency,
        seed=seed,
        experiment_id=experiment_id,
        store=store,
        settings=settings,
        judge=judge,
    )
    from tqdm.auto import tqdm

    rows: list[dict[str, Any]] = []
    with (
        ThreadPoolExecutor(max_workers=concurrency) as pool,
        tqdm(
            total=len(grid.jobs), desc=grid.experiment_id, disable=not progress, unit="run"
        ) as bar,
    ):
        for future in as_completed([pool.submit(grid.run_one, job) for job in grid.jobs]):
            rows.append(future.result())
            bar.update(1)
    return grid.result(rows)


async def arun_grid(
    intent: str,
    variants: Sequence[str | Mapping[str, Any] | Variant],
    inputs: Sequence[Mapping[str, Any]],
    *,
    mode: str | None = None,
    concurrency: int = 4,
    seed: int = 0,
    experiment_id: str | None = None,
    store: AuditStore | None = None,
    settings: Settings | None = None,
    progress: bool = True,
    judge: bool = False,
) -> Experiment:
    """:func:`run_grid` on an asyncio event loop (``await`` it in a notebook cell).

    At most ``concurrency`` runs are in flight (an asyncio semaphore); each run's blocking
    model and vendor calls happen in a worker thread, so the kernel stays responsive.
    """
    grid = _Grid.prepare(
        intent,
        variants,
        inputs,
        mode=mode,
        concurrency=concurrency,
        seed=seed,
        experiment_id=experiment_id,
        store=store,
        settings=settings,
        judge=judge,
    )
    from tqdm.auto import tqdm

    gate = asyncio.Semaphore(concurrency)
    bar = tqdm(total=len(grid.jobs), desc=grid.experiment_id, disable=not progress, unit="run")

    async def one(job: tuple[Variant, int, Any]) -> dict[str, Any]:
        async with gate:
            row = await asyncio.to_thread(grid.run_one, job)
        bar.update(1)
        return row

    try:
        rows = await asyncio.gather(*(one(job) for job in grid.jobs))
    finally:
        bar.close()
    return grid.result(list(rows))


def load_experiment(store: AuditStore, experiment_id: str) -> Experiment:
    """Rebuild an experiment's table (with scores) from the audit store."""
    runs = store.sql(
        """SELECT r.run_id, r.started_at, r.variant, r.status, r.duration_ms, r.prompt_version,
                  r.error, r.intent, r.agent, r.mode,
                  r.input, d.title, d.content,
                  max(m.value) FILTER (WHERE m.name = 'total_tokens') AS total_tokens,
                  max(m.value) FILTER (WHERE m.name = 'cost_usd') AS cost_usd
           FROM agent_runs r
           LEFT JOIN content_drafts d USING (run_id)
           LEFT JOIN agent_run_metrics m USING (run_id)
           WHERE r.experiment_id = ? AND r.intent != 'eval.judge_draft'
           GROUP BY ALL ORDER BY r.started_at""",
        [experiment_id],
    )
    if runs.empty:
        raise InvalidInputError("experiment_id", f"no runs for experiment {experiment_id!r}")
    inputs: dict[str, int] = {}
    rows = []
    for record in runs.to_dict("records"):
        params = json.loads(record["input"]) if isinstance(record["input"], str) else {}
        key = json.dumps(params, sort_keys=True)
        index = inputs.setdefault(key, len(inputs))
        result = RunResult(
            run_id=record["run_id"],
            intent=record["intent"],
            agent=record["agent"],
            status=record["status"],
            mode=record["mode"],
            started_at=pd.Timestamp(record["started_at"]).to_pydatetime(),
            duration_ms=record["duration_ms"],
            error=record["error"],
            title=record["title"],
            content=record["content"],
            prompt_tokens=int(record["total_tokens"] or 0),
            cost_usd=record["cost_usd"] or 0.0,
            prompt_version=record["prompt_version"],
        )
        variant = Variant(name=record["variant"] or record["prompt_version"] or "default")
        rows.append(_row(variant, index, params, result, params.get("word_count")))
    return Experiment(experiment_id, pd.DataFrame(rows))
