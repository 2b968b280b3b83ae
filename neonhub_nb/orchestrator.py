"""The orchestrator: the one part that knows every other part.

:func:`build_orchestrator` turns the run's :class:`~neonhub_nb.config.Wiring` (the mode
table's decision) into objects, once: the model client, the connector transport and the
guard. ``Orchestrator.run(request)`` then validates the request (bad input: an error,
nothing written), resolves the agent by intent, records the run as ``running``, hands the
agent its context, and records the outcome with its tool executions, metrics and draft.

Every sink of a run is handed the settings' redactor (``Runtime.redactor``): the store,
the model client, the connectors, and the caller's ``on_token``, which receives the
streamed answer through a :class:`~neonhub_nb.redaction.StreamRedactor` (a secret split
across chunks is never shown, not even in part).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from .agents.base import AgentContext, AgentOutput
from .agents.catalog import AgentCatalog
from .clock import Clock, SystemClock
from .config import Settings, Wiring, load_settings
from .connectors.registry import ConnectorFactory, connector_factory
from .errors import ConfigError
from .guard import RunGuard, Verdict, transition_execution
from .ids import new_id
from .llm import LLMClient, MockLLM, TokenCallback
from .llm.tokens import PriceTable, warm_up
from .models import AgentParams, Metric, RunRequest, RunResult, validate_params
from .records import DraftRecord, RunRecord, worst_ending
from .redaction import Redactor, StreamRedactor
from .replay import ReplayIndex, ReplayLLM, replay_connectors
from .runtime import Runtime, default_runtime
from .store.base import Store

__all__ = ["Orchestrator", "build_orchestrator"]

P = TypeVar("P", bound=AgentParams)


@dataclass
class Orchestrator:
    """Runs requests over one wiring. Build it with :func:`build_orchestrator`.

    The record says what the wiring says (``wiring``, default: the settings'): a model
    client or connector factory handed in stands in for that transport.
    """

    settings: Settings
    store: Store
    llm: LLMClient
    #: ``name -> connector`` over the wiring's connector transport (None: no connectors).
    connectors: ConnectorFactory | None = None
    catalog: AgentCatalog = field(default_factory=AgentCatalog.builtin)
    prices: PriceTable = field(default_factory=PriceTable)
    clock: Clock = field(default_factory=SystemClock)
    # Spending cap and circuit breakers; only for guarded modes (the mode table says).
    guard: RunGuard | None = None
    wiring: Wiring | None = None
    #: Cleans the streamed answer before ``on_token`` sees it (default: the store's).
    redactor: Redactor | None = None

    def __post_init__(self) -> None:
        if self.wiring is None:
            self.wiring = self.settings.wiring

    @property
    def mode(self) -> str:
        return self.settings.mode

    def run(self, request: RunRequest, *, on_token: TokenCallback | None = None) -> RunResult:
        spec = self.catalog.get(request.intent)
        params = validate_params(spec.params_model, request.params)
        # Refused before anything is recorded, like any other bad input.
        self.catalog.check_prompt_version(spec.intent, request.prompt_version)
        wiring = self.wiring or self.settings.wiring
        # One-off process start-up (loading the tokenizer, ~0.5 s) stays outside the
        # run's timed region: a process's first run is timed like every other.
        warm_up()
        run_id = new_id("run")
        start = self.clock.monotonic()
        started = RunRecord(
            run_id=run_id,
            agent=spec.agent,
            intent=spec.intent,
            status="running",
            mode=wiring.mode,
            model_mode=wiring.model,
            connectors_mode=wiring.connectors,
            started_at=self.clock.now(),
            input=params.model_dump(mode="json"),
            model=self.settings.model,
            prompt_name=spec.prompt_name,
            prompt_version=request.prompt_version,
            experiment_id=request.experiment_id,
            campaign=request.campaign,
            variant=request.variant,
            seed=request.seed,
        )
        started = self.store.record_run_started(started)
        # Streams and the agent's view of model answers: what the settings and the store
        # know to hide (a store opened with other settings may know more).
        redactor = self.store.redactor
        if self.redactor is not None:
            redactor = self.redactor.including(redactor)
        stream = _RedactedStream(on_token, redactor) if on_token else None
        ctx = AgentContext(
            run_id=run_id,
            llm=self.llm,
            model=self.settings.model,
            clock=self.clock,
            record=self.store.record_tool_execution,
            prompt_version=request.prompt_version,
            seed=request.seed,
            on_token=stream,
            connectors=self.connectors,
            catalog=self.catalog,
            prices=self.prices,
            redactor=redactor,
        )
        outcome: AgentOutput | None = None
        failure: BaseException | None = None
        interrupted: BaseException | None = None
        verdict = self.guard.admit(spec.agent, request.experiment_id) if self.guard else Verdict()
        self._record_transitions(ctx, verdict)
        error = verdict.error  # refused (cap reached, circuit open): recorded as failed
        if error is None:
            try:
                # The agent, its prompts and the model see the input redacted: a secret
                # typed into a field never leaves for the model or a vendor, and nothing
                # an agent derives from it (a title-cased keyword) escapes redaction.
                outcome = spec.factory().run(_redacted(params, redactor), ctx)
            except Exception as exc:  # an agent failure is a recorded result, not a crash
                error = f"{type(exc).__name__}: {exc}"
                failure = exc
            except BaseException as exc:  # Ctrl-C / kernel interrupt: record, then let it go
                error = f"interrupted: {type(exc).__name__}"
                failure = interrupted = exc
            if stream is not None and interrupted is None:
                try:  # what the redactor held back (the possible start of a secret)
                    stream.flush()
                except Exception as exc:  # the caller's callback failed on the last piece
                    if error is None:
                        error, failure = f"{type(exc).__name__}: {exc}", exc
            if self.guard is not None:
                self.guard.settle(spec.agent, request.experiment_id, ctx.cost_usd, failure, verdict)
                self._record_transitions(ctx, verdict)
        result = self._finish(started, params, ctx, outcome, error, start, verdict.metrics)
        if interrupted is not None:
            raise interrupted
        return result

    def _finish(
        self,
        started: RunRecord,
        params: AgentParams,
        ctx: AgentContext,
        outcome: AgentOutput | None,
        error: str | None,
        start: float,
        extra_metrics: Sequence[Metric] = (),
    ) -> RunResult:
        finished_at = self.clock.now()
        duration_ms = (self.clock.monotonic() - start) * 1000
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
        ending = worst_ending(ctx.endings)
        updates: dict[str, object] = {
            "status": "failed" if error else "succeeded",
            "finished_at": finished_at,
            "duration_ms": duration_ms,
            "output": output,
            "error": error,
            "ending": ending,
        }
        if ctx.prompt_used is not None:
            updates["prompt_name"] = ctx.prompt_used.name
            updates["prompt_version"] = ctx.prompt_used.version
        finished = started.model_copy(update=updates)
        draft = None
        if outcome and outcome.draft and draft_id:
            draft = DraftRecord(
                draft_id=draft_id,
                run_id=started.run_id,
                title=outcome.draft.title,
                content=outcome.draft.content,
                metadata=outcome.draft.metadata,
                # A draft from an answer that was cut off (or that nobody vouches for) is
                # kept, but never queued for review as if it were complete.
                status="draft" if ending in (None, "complete") else "truncated",
                created_at=finished_at,
                updated_at=finished_at,
                topic=outcome.draft.topic,
                primary_keyword=outcome.draft.primary_keyword,
            )
        stored, stored_draft = self.store.record_run_finished(
            finished,
            metrics,
            draft,
        )
        return RunResult(
            **stored.model_dump(),
            draft_id=draft_id,
            title=stored_draft.title if stored_draft else None,
            content=stored_draft.content if stored_draft else None,
            metadata=stored_draft.metadata if stored_draft else {},
            prompt_tokens=ctx.prompt_tokens,
            completion_tokens=ctx.completion_tokens,
            cost_usd=round(ctx.cost_usd, 10),
            tool_executions=tuple(ctx.executions),
            metrics=metrics,
        )

    def _record_transitions(self, ctx: AgentContext, verdict: Verdict) -> None:
        for transition in verdict.take_transitions():
            execution = transition_execution(ctx.run_id, len(ctx.executions) + 1, transition)
            ctx.executions.append(self.store.record_tool_execution(execution))


def _redacted(params: P, redactor: Redactor) -> P:
    """``params`` with every secret in its text replaced (the same object when clean)."""
    clean, found = redactor.redact(params.model_dump())
    if not found:
        return params
    return type(params).model_validate(clean)


class _RedactedStream:
    """``on_token`` behind a :class:`StreamRedactor`: the caller sees only what is safe."""

    def __init__(self, on_token: TokenCallback, redactor: Redactor) -> None:
        self._on_token = on_token
        self._stream = StreamRedactor(redactor)

    def __call__(self, chunk: str) -> None:
        safe = self._stream.feed(chunk)
        if safe:
            self._on_token(safe)

    def flush(self) -> None:
        rest = self._stream.flush()
        if rest:
            self._on_token(rest)


def build_orchestrator(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    store: Store | None = None,
    llm: LLMClient | None = None,
    clock: Clock | None = None,
    guard: RunGuard | None = None,
    replay: ReplayIndex | None = None,
) -> Orchestrator:
    """Wire an orchestrator for ``settings.wiring``: the only place the modes differ.

    The wiring says which model client and connector transport a run uses; this builds
    them (shared parts come from ``runtime``). Guarded runs get the runtime's spending
    caps and per-endpoint breakers; the others stay deterministic, untouched by what
    earlier runs did. Replay answers from ``replay`` (default: every live run recorded in
    the store).
    """
    settings = settings or load_settings()
    runtime = runtime or default_runtime()
    wiring = settings.wiring
    # One redactor for every sink of the run; a store handed in learns it too.
    redactor = runtime.redactor(settings)
    store = runtime.protect(store, settings) if store is not None else runtime.store(settings)
    clock = clock or SystemClock()
    catalog = runtime.agents
    if replay is None and "replay" in (wiring.model, wiring.connectors):
        replay = ReplayIndex.from_store(store)
    if llm is None:
        llm = _model_client(settings, wiring, runtime, catalog, replay)
    if wiring.connectors == "replay":
        assert replay is not None
        connectors = replay_connectors(settings, replay, clock, runtime.connectors, redactor)
    else:
        connectors = connector_factory(
            settings,
            transport=wiring.connectors,
            clock=clock,
            catalog=runtime.connectors,
            redactor=redactor,
        )
    if guard is None and wiring.guarded:
        guard = runtime.guard(settings, store)
    return Orchestrator(
        settings=settings,
        store=store,
        llm=llm,
        connectors=connectors,
        catalog=catalog,
        prices=runtime.prices_for(settings),
        clock=clock,
        guard=guard,
        wiring=wiring,
        redactor=redactor,
    )


def _model_client(
    settings: Settings,
    wiring: Wiring,
    runtime: Runtime,
    catalog: AgentCatalog,
    replay: ReplayIndex | None,
) -> LLMClient:
    if wiring.model == "mock":
        return MockLLM(catalog.mock_writers())
    if wiring.model == "replay":
        assert replay is not None
        return ReplayLLM(replay)
    ok, why = settings.live_available()
    if not ok:
        raise ConfigError(f"live mode needs a model endpoint: {why}")
    return runtime.live_model(settings)
