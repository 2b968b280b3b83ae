"""Prompt experiments: every variant over every input, recorded as one experiment.

``run_grid`` runs a grid (variants x inputs): every run is recorded with the experiment id
and its variant, so the grid can be reloaded and compared later with ``load_experiment``.
Variants may be given as a list or as one string (``"v2"``, ``"v1, v2"``: what a papermill
``-p variants v2`` hands over); an unknown prompt version or a bad input is refused before
anything runs.

>>> exp = run_grid("content.generate_article", "v1, v2",
...                load_inputs("data/experiment_inputs.json"))          # doctest: +SKIP
>>> exp.winners()                                                        # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..config import Settings, load_settings
from ..errors import InvalidInputError
from ..ids import new_id
from ..models import RunRequest, RunResult, validate_params
from ..orchestrator import Orchestrator, build_orchestrator
from ..redaction import safe_value
from ..runtime import Runtime
from ..store.base import Store
from .experiment import Experiment
from .scoring import score_article

__all__ = [
    "Variant",
    "VariantSpec",
    "arun_grid",
    "load_experiment",
    "load_inputs",
    "parse_variants",
    "run_grid",
]


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


VariantSpec = str | Mapping[str, Any] | Variant


def parse_variants(spec: VariantSpec | Sequence[VariantSpec]) -> list[Variant]:
    """The variants of a grid from a list, or from one string as papermill and the CLI
    hand it over: ``"v2"``, ``"v1, v2"``, ``"v1 v2"`` or a JSON list ``'["v1", "v2"]'``."""
    items: Sequence[VariantSpec]
    if isinstance(spec, str):
        text = spec.strip()
        if text.startswith("["):
            try:
                items = json.loads(text)
            except ValueError:
                raise InvalidInputError(
                    "variants", f"is not a JSON list: {safe_value(text)}"
                ) from None
        else:
            items = [part for part in re.split(r"[,\s]+", text) if part]
    elif isinstance(spec, Mapping | Variant):
        items = [spec]
    else:
        items = list(spec)
    variants = [Variant.parse(item) for item in items]
    if not variants:
        raise InvalidInputError("variants", "must name at least one variant")
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        shown = ", ".join(safe_value(n) for n in names)
        raise InvalidInputError("variants", f"names must be unique (got {shown})")
    return variants


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


def _row(
    variant: Variant, index: int, params: Mapping[str, Any], result: RunResult
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
    if result.ok and result.content:
        row.update(score_article(result.title or "", result.content, params))
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
    arms: list[Variant] = field(default_factory=list)
    baseline: str | None = None

    @classmethod
    def prepare(
        cls,
        intent: str,
        variants: VariantSpec | Sequence[VariantSpec],
        inputs: Sequence[Mapping[str, Any]],
        *,
        mode: str | None,
        concurrency: int,
        seed: int,
        experiment_id: str | None,
        store: Store | None,
        settings: Settings | None,
        judge: bool,
        baseline: str | None = None,
        runtime: Runtime | None = None,
    ) -> _Grid:
        if not isinstance(concurrency, int) or concurrency < 1:
            raise InvalidInputError(
                "concurrency", f"must be at least 1 (got {safe_value(concurrency)})"
            )
        arms = parse_variants(variants)
        names = [arm.name for arm in arms]
        if baseline is not None and baseline not in names:
            raise InvalidInputError(
                "baseline",
                f"must be one of the variants {', '.join(names)} (got {safe_value(baseline)})",
            )
        if isinstance(inputs, str | Mapping) or not inputs:
            raise InvalidInputError("inputs", "must be a non-empty list of parameter objects")
        settings = settings or load_settings()
        if mode is not None:
            settings = settings.with_mode(mode)
        orchestrator = build_orchestrator(settings, runtime=runtime, store=store)
        spec = orchestrator.catalog.get(intent)
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
            arms,
            baseline or names[0],
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
        row = _row(arm, index, dumped, result)
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
        order = {arm.name: position for position, arm in enumerate(self.arms)}
        rows = sorted(rows, key=lambda r: (r["input_index"], order[r["variant"]]))
        return Experiment(self.experiment_id, pd.DataFrame(rows), baseline=self.baseline)


def run_grid(
    intent: str,
    variants: VariantSpec | Sequence[VariantSpec],
    inputs: Sequence[Mapping[str, Any]],
    *,
    mode: str | None = None,
    concurrency: int = 4,
    seed: int = 0,
    experiment_id: str | None = None,
    store: Store | None = None,
    settings: Settings | None = None,
    progress: bool = True,
    judge: bool = False,
    baseline: str | None = None,
) -> Experiment:
    """Run every variant over every input (``concurrency`` at a time) as one experiment.

    ``variants`` is a list, or one string (``"v1, v2"``; see :func:`parse_variants`);
    ``baseline`` is the variant the others are compared with (default: the first).
    ``judge=True`` also scores each draft with the ``eval.judge_draft`` agent (an
    LLM-as-judge: meaningful in live mode, deterministic in mock mode).
    Variants, prompt versions and inputs are checked before anything runs: a bad one
    raises one :class:`InvalidInputError` naming it, and nothing is recorded.
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
        baseline=baseline,
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
    variants: VariantSpec | Sequence[VariantSpec],
    inputs: Sequence[Mapping[str, Any]],
    *,
    mode: str | None = None,
    concurrency: int = 4,
    seed: int = 0,
    experiment_id: str | None = None,
    store: Store | None = None,
    settings: Settings | None = None,
    progress: bool = True,
    judge: bool = False,
    baseline: str | None = None,
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
        baseline=baseline,
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


def load_experiment(store: Store, experiment_id: str, *, baseline: str | None = None) -> Experiment:
    """Rebuild an experiment's table (with scores and judge scores) from the audit store.

    ``baseline`` names the variant to compare with; by default the first in name order
    (the store does not keep the order variants were given in).
    """
    # Grouping keys spelled out, not DuckDB's GROUP BY ALL: one text for both engines.
    runs = store.sql(
        """SELECT r.run_id, r.started_at, r.intent, r.agent, r.mode, r.variant, r.status,
                  r.duration_ms, r.prompt_version, r.error, r.input, r.output, d.title,
                  d.content,
                  max(m.value) FILTER (WHERE m.name = 'total_tokens') AS total_tokens,
                  max(m.value) FILTER (WHERE m.name = 'cost_usd') AS cost_usd
           FROM agent_runs r
           LEFT JOIN content_drafts d USING (run_id)
           LEFT JOIN agent_run_metrics m USING (run_id)
           WHERE r.experiment_id = ?
           -- The keys named (not GROUP BY ALL): PostgreSQL runs this text too.
           GROUP BY r.run_id, r.started_at, r.intent, r.agent, r.mode, r.variant, r.status,
                    r.duration_ms, r.prompt_version, r.error, r.input, r.output, d.title,
                    d.content
           ORDER BY r.started_at, r.run_id""",
        [experiment_id],
    )
    judged = runs[runs["intent"] == "eval.judge_draft"]
    runs = runs[runs["intent"] != "eval.judge_draft"]
    if runs.empty:
        raise InvalidInputError(
            "experiment_id", f"no runs for experiment {safe_value(experiment_id)}"
        )
    # A judge run names the draft it scored in its input; its variant is the draft's.
    verdicts: dict[tuple[str, str], Any] = {}
    for record in judged.to_dict("records"):
        given, said = _json(record["input"]), _json(record["output"])
        if record["status"] == "succeeded":
            # The judge's parameters were stripped of surrounding whitespace; so is the key.
            key = (str(record["variant"]), str(given.get("draft") or "").strip())
            verdicts[key] = said.get("score")
    inputs: dict[str, int] = {}
    rows = []
    for record in runs.to_dict("records"):
        params = _json(record["input"])
        index = inputs.setdefault(json.dumps(params, sort_keys=True), len(inputs))
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
        row = _row(variant, index, params, result)
        if verdicts:
            row["judge_score"] = verdicts.get((variant.name, str(record["content"] or "").strip()))
        rows.append(row)
    frame = pd.DataFrame(rows).sort_values(["input_index", "variant"], kind="stable")
    names = sorted(frame["variant"].unique())
    return Experiment(experiment_id, frame.reset_index(drop=True), baseline=baseline or names[0])


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = json.loads(value)
    return dict(value) if isinstance(value, Mapping) else {}
