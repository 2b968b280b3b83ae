"""The orchestrator: the one part that knows every other part.

``Orchestrator.run(request)`` validates the request (bad input: an error, nothing
written), resolves the agent by intent, records the run as ``running``, hands the agent
its context, and records the outcome (``succeeded`` or ``failed`` with the error), its
tool executions, metrics and draft. Mock or live dependencies are chosen once, in
:func:`build_orchestrator`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .agents import get_agent
from .agents.base import AgentContext, AgentOutput
from .clock import Clock, SystemClock
from .config import Settings, load_settings
from .errors import ConfigError
from .ids import new_id
from .llm import LLMClient, MockLLM, TokenCallback
from .models import AgentParams, Metric, RunRequest, RunResult, validate_params
from .runguard import RunGuard, Verdict, transition_execution
from .store import AuditStore
from .tokens import load_prices

__all__ = ["Orchestrator", "build_orchestrator", "default_store", "run_agent"]


@dataclass
class Orchestrator:
    settings: Settings
    store: AuditStore
    llm: LLMClient
    clock: Clock = field(default_factory=SystemClock)
    tools: Mapping[str, Any] = field(default_factory=dict)
    # Spending cap and circuit breakers; live mode only (see build_orchestrator).
    guard: RunGuard | None = None

    @property
    def mode(self) -> str:
        return self.settings.mode

    def run(self, request: RunRequest, *, on_token: TokenCallback | None = None) -> RunResult:
        spec = get_agent(request.intent)
        params = validate_params(spec.params_model, request.params)
        run_id = new_id("run")
        started_at = self.clock.now()
        start = self.clock.monotonic()
        base_row: dict[str, Any] = {
            "run_id": run_id,
            "agent": spec.agent,
            "intent": spec.intent,
            "mode": self.mode,
            "started_at": started_at,
            "input": params.model_dump(mode="json"),
            "model": self.settings.model,
            "prompt_name": spec.prompt_name,
            "prompt_version": request.prompt_version,
            "experiment_id": request.experiment_id,
            "campaign": request.campaign,
            "variant": request.variant,
            "seed": request.seed,
        }
        self.store.record_run_started({**base_row, "status": "running"})
        ctx = AgentContext(
            run_id=run_id,
            llm=self.llm,
            model=self.settings.model,
            clock=self.clock,
            record=self.store.record_tool_execution,
            prompt_version=request.prompt_version,
            seed=request.seed,
            on_token=on_token,
            tools=self.tools,
        )
        outcome: AgentOutput | None = None
        failure: BaseException | None = None
        interrupted: BaseException | None = None
        verdict = self.guard.admit(spec.agent, request.experiment_id) if self.guard else Verdict()
        self._record_transitions(ctx, verdict)
        error = verdict.error  # refused (cap reached, circuit open): recorded as failed
        if error is None:
            try:
                outcome = spec.factory().run(params, ctx)
            except Exception as exc:  # an agent failure is a recorded result, not a crash
                error = f"{type(exc).__name__}: {exc}"
                failure = exc
            except BaseException as exc:  # Ctrl-C / kernel interrupt: record, then let it go
                error = f"interrupted: {type(exc).__name__}"
                failure = interrupted = exc
            if self.guard is not None:
                self.guard.settle(spec.agent, request.experiment_id, ctx.cost_usd, failure, verdict)
                self._record_transitions(ctx, verdict)
        result = self._finish(base_row, params, ctx, outcome, error, start, verdict.metrics)
        if interrupted is not None:
            raise interrupted
        return result

    def _finish(
        self,
        base_row: dict[str, Any],
        params: AgentParams,
        ctx: AgentContext,
        outcome: AgentOutput | None,
        error: str | None,
        start: float,
        extra_metrics: Sequence[Metric] = (),
    ) -> RunResult:
        finished_at = self.clock.now()
        duration_ms = (self.clock.monotonic() - start) * 1000
        if ctx.prompt_used is not None:
            base_row["prompt_name"] = ctx.prompt_used.name
            base_row["prompt_version"] = ctx.prompt_used.version
        draft_id = new_id("draft") if outcome and outcome.draft else None
        output = dict(outcome.output) if outcome else {}
        if draft_id:
            output["draft_id"] = draft_id
        metrics = (
            Metric(name="prompt_tokens", value=ctx.prompt_tokens, unit="tokens"),
            Metric(name="completion_tokens", value=ctx.completion_tokens, unit="tokens"),
            Metric(
                name="total_tokens", value=ctx.prompt_tokens + ctx.completion_tokens, unit="tokens"
            ),
            Metric(name="cost_usd", value=round(ctx.cost_usd, 10), unit="USD"),
            Metric(name="tool_calls", value=len(ctx.executions), unit="calls"),
            *(outcome.metrics if outcome else ()),
            *extra_metrics,
        )
        row = {
            **base_row,
            "status": "failed" if error else "succeeded",
            "finished_at": finished_at,
            "duration_ms": duration_ms,
            "output": output,
            "error": error,
        }
        draft_row = None
        if outcome and outcome.draft and draft_id:
            draft_row = {
                "draft_id": draft_id,
                "run_id": base_row["run_id"],
                "title": outcome.draft.title,
                "content": outcome.draft.content,
                "metadata": outcome.draft.metadata,
                "status": "draft",
                "created_at": finished_at,
                "updated_at": finished_at,
                "topic": getattr(params, "topic", None),
                "primary_keyword": getattr(params, "primary_keyword", None),
            }
        stored, stored_draft = self.store.record_run_finished(row, metrics, draft_row)
        stored_draft = stored_draft or {}
        return RunResult(
            run_id=row["run_id"],
            intent=row["intent"],
            agent=row["agent"],
            status=row["status"],
            mode=row["mode"],
            started_at=row["started_at"],
            finished_at=finished_at,
            duration_ms=duration_ms,
            input=stored["input"],
            output=stored["output"],
            error=stored["error"],
            draft_id=draft_id,
            title=stored_draft.get("title"),
            content=stored_draft.get("content"),
            metadata=stored_draft.get("metadata") or {},
            prompt_tokens=ctx.prompt_tokens,
            completion_tokens=ctx.completion_tokens,
            cost_usd=round(ctx.cost_usd, 10),
            model=row["model"],
            prompt_name=row["prompt_name"],
            prompt_version=row["prompt_version"],
            experiment_id=row["experiment_id"],
            campaign=row["campaign"],
            tool_executions=tuple(ctx.executions),
            metrics=metrics,
        )

    def _record_transitions(self, ctx: AgentContext, verdict: Verdict) -> None:
        for transition in verdict.take_transitions():
            execution = transition_execution(ctx.run_id, len(ctx.executions) + 1, transition)
            ctx.executions.append(self.store.record_tool_execution(execution))


def _build_llm(settings: Settings) -> LLMClient:
    if settings.mode == "mock":
        return MockLLM()
    if settings.mode == "live":
        ok, why = settings.live_available()
        if not ok:
            raise ConfigError(f"live mode needs a model endpoint: {why}")
        from .live import shared_live_llm

        # Shared per endpoint: keeps the connection pool and the rate limiter's bucket.
        return shared_live_llm(settings)
    raise ConfigError(f"mode: {settings.mode!r} is not available in this version")


def build_orchestrator(
    settings: Settings | None = None,
    *,
    store: AuditStore | None = None,
    llm: LLMClient | None = None,
    clock: Clock | None = None,
    guard: RunGuard | None = None,
) -> Orchestrator:
    """Wire an orchestrator for ``settings.mode``: the only place mock and live differ.

    Live runs get the process's spending cap and per-agent circuit breakers; mock runs
    stay deterministic, untouched by what earlier runs did.
    """
    settings = settings or load_settings()
    if settings.prices_json:
        load_prices(settings.prices_json)
    store = store or default_store(settings)
    if guard is None and settings.mode == "live":
        guard = RunGuard.for_settings(settings, store)
    clock = clock or SystemClock()
    if settings.mode == "replay":
        from .replay import ReplayIndex, ReplayLLM, replay_tools

        # Answers come from every live run recorded in this store; see replay.py.
        index = ReplayIndex.from_store(store)
        return Orchestrator(
            settings=settings,
            store=store,
            llm=llm or ReplayLLM(index),
            clock=clock,
            tools=replay_tools(settings, index, clock),
        )
    from .connectors import connector_factory

    return Orchestrator(
        settings=settings,
        store=store,
        llm=llm or _build_llm(settings),
        clock=clock,
        guard=guard,
        # Mock or live connectors, decided here once (USE_MOCK_CONNECTORS), like the LLM.
        tools={"connectors": connector_factory(settings, clock=clock)},
    )


_stores: dict[str, AuditStore] = {}
_stores_lock = threading.Lock()


def default_store(settings: Settings | None = None) -> AuditStore:
    """This process's store for ``settings.db_path`` (one per file, shared)."""
    settings = settings or load_settings()
    key = str(settings.db_path)
    with _stores_lock:
        store = _stores.get(key)
        if store is None or getattr(store, "_closed", False):
            store = AuditStore.from_settings(settings)
            _stores[key] = store
        return store


def run_agent(
    intent: str,
    params: AgentParams | Mapping[str, Any] | None = None,
    *,
    mode: str | None = None,
    store: AuditStore | None = None,
    settings: Settings | None = None,
    experiment_id: str | None = None,
    campaign: str | None = None,
    prompt_version: str | None = None,
    variant: str | None = None,
    seed: int = 0,
    on_token: TokenCallback | None = None,
    **param_fields: Any,
) -> RunResult:
    """Run one agent and record it; the quickest way in from a notebook.

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
    orchestrator = build_orchestrator(settings, store=store)
    return orchestrator.run(request, on_token=on_token)
