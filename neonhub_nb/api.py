"""The public entry points: run an agent, replay recorded runs, extend the catalogs.

Each function takes optional ``settings`` (default: :func:`~neonhub_nb.config.load_settings`)
and ``runtime`` (default: the process's, :func:`~neonhub_nb.runtime.default_runtime`) and
builds an orchestrator over them; nothing here keeps state of its own.

>>> from neonhub_nb import DraftParams, run_agent                       # doctest: +SKIP
>>> run_agent("content.generate_article",
...           DraftParams(topic="Email", primary_keyword="newsletter"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .agents.catalog import AgentSpec
from .agents.prompts import PromptTemplate
from .config import Settings, load_settings
from .connectors.base import Connector
from .connectors.mock import MockVendor
from .errors import InvalidInputError, StoreError
from .llm import TokenCallback
from .models import AgentParams, RunRequest, RunResult
from .orchestrator import build_orchestrator
from .redaction import safe_value
from .replay import PinnedClock, ReplayIndex
from .runtime import Runtime, default_runtime
from .store.base import Store

__all__ = [
    "default_store",
    "register_agent",
    "register_connector",
    "register_price",
    "register_prompt",
    "replay_experiment",
    "replay_run",
    "run_agent",
    "unregister_agent",
]


def run_agent(
    intent: str,
    params: AgentParams | Mapping[str, Any] | None = None,
    *,
    mode: str | None = None,
    store: Store | None = None,
    settings: Settings | None = None,
    runtime: Runtime | None = None,
    experiment_id: str | None = None,
    campaign: str | None = None,
    prompt_version: str | None = None,
    variant: str | None = None,
    seed: int = 0,
    on_token: TokenCallback | None = None,
    **param_fields: Any,
) -> RunResult:
    """Run one agent and record it; the quickest way in from a notebook.

    ``mode`` overrides ``NEONHUB_MODE`` for this run (connectors follow it unless
    ``USE_MOCK_CONNECTORS`` is set). Bad input raises :class:`InvalidInputError` naming
    the field and the rule, and nothing is recorded. An agent's failure is not raised:
    it is a recorded result with ``status="failed"`` and the error.

    >>> params = DraftParams(topic="Email", primary_keyword="newsletter")  # doctest: +SKIP
    >>> run_agent("content.generate_article", params)  # doctest: +SKIP
    """
    settings = settings or load_settings()
    if mode is not None:
        settings = settings.with_mode(mode)
    raw: dict[str, Any] | AgentParams
    if isinstance(params, AgentParams):
        raw = params if not param_fields else {**params.model_dump(), **param_fields}
    else:
        raw = {**(params or {}), **param_fields}
    request = RunRequest(
        intent=intent,
        params=raw,
        experiment_id=experiment_id,
        campaign=campaign,
        prompt_version=prompt_version,
        variant=variant,
        seed=seed,
    )
    orchestrator = build_orchestrator(settings, runtime=runtime, store=store)
    return orchestrator.run(request, on_token=on_token)


def default_store(settings: Settings | None = None, runtime: Runtime | None = None) -> Store:
    """The process's store for ``settings.db_path`` (one per file, shared)."""
    return (runtime or default_runtime()).store(settings or load_settings())


def replay_run(
    run_id: str,
    *,
    store: Store | None = None,
    settings: Settings | None = None,
    runtime: Runtime | None = None,
) -> RunResult:
    """Re-execute one recorded live run from its recordings; the result is recorded too.

    The model's answers and the vendors' HTTP answers come from the run's tool executions,
    and the wall clock starts where the original run started, so date-relative requests
    match. A request that was never recorded fails the run with
    :class:`~neonhub_nb.errors.ReplayMissError` naming the closest recorded one.
    """
    settings = (settings or load_settings()).with_mode("replay")
    runtime = runtime or default_runtime()
    store = store or runtime.store(settings)
    detail = store.run_detail(run_id)
    run = detail.record()
    if "live" not in (run.model_mode or run.mode, run.connectors_mode or run.mode):
        raise StoreError(
            f"run_id: {run_id} ran in {run.mode} mode with nothing live; only runs that "
            "called a live model or vendor are replayed (mock runs are deterministic already)"
        )
    index = ReplayIndex.from_store(store, run_ids=[run_id])
    orchestrator = build_orchestrator(
        settings,
        runtime=runtime,
        store=store,
        clock=PinnedClock(run.started_at),
        replay=index,
    )
    return orchestrator.run(RunRequest.from_record(run))


def replay_experiment(
    experiment_id: str,
    *,
    store: Store | None = None,
    settings: Settings | None = None,
    runtime: Runtime | None = None,
) -> list[RunResult]:
    """Replay every live run of an experiment, in the order they started."""
    settings = settings or load_settings()
    runtime = runtime or default_runtime()
    store = store or runtime.store(settings)
    runs = store.sql(
        "SELECT run_id FROM agent_runs WHERE experiment_id = ? "
        "AND coalesce(model_mode, mode) = 'live' ORDER BY started_at",
        [experiment_id],
    )
    if runs.empty:
        raise InvalidInputError(
            "experiment_id", f"no live runs recorded for {safe_value(experiment_id)}"
        )
    return [
        replay_run(str(r), store=store, settings=settings, runtime=runtime) for r in runs["run_id"]
    ]


# ----------------------------------------------------------------- catalogs
def register_agent(spec: AgentSpec, *, runtime: Runtime | None = None) -> AgentSpec:
    """Add an agent (and its prompt templates) to the process's catalog."""
    return (runtime or default_runtime()).agents.register(spec)


def unregister_agent(intent: str, *, runtime: Runtime | None = None) -> None:
    """Remove an agent from the process's catalog (throwaway agents in notebooks, tests)."""
    (runtime or default_runtime()).agents.unregister(intent)


def register_prompt(template: PromptTemplate, *, runtime: Runtime | None = None) -> PromptTemplate:
    """Add a prompt template (a new version of an agent's prompt, say) to the catalog."""
    return (runtime or default_runtime()).agents.register_prompt(template)


def register_connector(
    connector: type[Connector], mock: type[MockVendor], *, runtime: Runtime | None = None
) -> None:
    """Add a connector and its mock vendor under ``connector.spec.name``."""
    (runtime or default_runtime()).connectors.register(connector, mock)


def register_price(
    model: str,
    input_per_million: float,
    output_per_million: float,
    *,
    runtime: Runtime | None = None,
) -> None:
    """Price a model (USD per million input and output tokens) for cost accounting."""
    (runtime or default_runtime()).prices.register(model, input_per_million, output_per_million)
