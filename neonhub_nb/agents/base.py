"""What every agent gets (an :class:`AgentContext`) and gives back (an :class:`AgentOutput`).

The context is the agent's only door to the world: the model, the connectors and the
prompt catalog. Each call through it is timed and recorded as a tool execution, so agents
never write to the store and never ask which mode they run in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from ..clock import Clock
from ..errors import ConfigError, LLMError
from ..ids import new_id
from ..llm import Completion, LLMClient, Messages, TokenCallback
from ..llm.tokens import PriceTable
from ..models import AgentParams, Metric
from ..records import (
    ConnectorResponse,
    FinishMeaning,
    ModelCallResponse,
    ModelUsage,
    ToolExecution,
    finish_meaning,
)
from ..redaction import Redactor
from .prompts import PromptTemplate

if TYPE_CHECKING:
    from ..connectors import Connector, ConnectorCall, ConnectorFactory
    from .catalog import AgentCatalog

__all__ = ["Agent", "AgentContext", "AgentOutput", "DraftOutput", "ToolRecorder"]

P = TypeVar("P", bound=AgentParams, contravariant=True)
R = TypeVar("R")

ToolRecorder = Callable[[ToolExecution], ToolExecution]


@dataclass(frozen=True)
class DraftOutput:
    """A reviewable output: saved to ``content_drafts`` and shown for review."""

    title: str
    content: str
    metadata: dict[str, Any]
    topic: str | None = None
    primary_keyword: str | None = None


@dataclass(frozen=True)
class AgentOutput:
    output: dict[str, Any]
    draft: DraftOutput | None = None
    metrics: tuple[Metric, ...] = ()


class Agent(Protocol, Generic[P]):
    name: str

    def run(self, params: P, ctx: AgentContext) -> AgentOutput: ...


@dataclass
class AgentContext:
    """Per-run services handed to an agent by the orchestrator."""

    run_id: str
    llm: LLMClient
    model: str
    clock: Clock
    record: ToolRecorder
    prompt_version: str | None = None
    seed: int = 0
    on_token: TokenCallback | None = None
    #: ``name -> connector`` over the run's connector transport (the wiring decided it).
    connectors: ConnectorFactory | None = None
    #: Where prompt templates come from (default: the built-in agents').
    catalog: AgentCatalog | None = None
    prices: PriceTable = field(default_factory=PriceTable)
    executions: list[ToolExecution] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    prompt_used: PromptTemplate | None = None
    #: How each model call ended (complete, truncated, filtered ...), in call order.
    endings: list[FinishMeaning] = field(default_factory=list)
    #: Cleans each model answer before the agent reads it (the run's redactor): what an
    #: agent cuts, parses or keeps is cut from redacted text, never from a raw secret.
    redactor: Redactor | None = None
    _connectors: dict[str, Connector] = field(default_factory=dict, init=False, repr=False)

    def prompt(self, name: str) -> PromptTemplate:
        """The prompt template for this run (the requested version, else the latest)."""
        if self.catalog is None:
            from .catalog import AgentCatalog

            self.catalog = AgentCatalog.builtin()
        self.prompt_used = self.catalog.prompt(name, self.prompt_version)
        return self.prompt_used

    def connector(self, name: str) -> Connector:
        """The ``name`` connector for this run (one per name); each of its operations is
        recorded as a ``connector.<service>`` tool execution. Its transport (mock, live or
        replay) was decided by the mode table, not by the agent."""
        if name not in self._connectors:
            if self.connectors is None:
                raise ConfigError(
                    "connectors: this run has no connector factory (the orchestrator sets one)"
                )
            self._connectors[name] = self.connectors(name, self._record_connector_call)
        return self._connectors[name]

    def _record_connector_call(self, call: ConnectorCall) -> None:
        execution = ToolExecution(
            execution_id=new_id("tex"),
            run_id=self.run_id,
            seq=len(self.executions) + 1,
            tool=f"connector.{call.service}",
            operation=call.operation,
            status=call.status,
            started_at=call.started_at,
            duration_ms=call.duration_ms,
            request=dict(call.request),
            # The exporter, the prune baselines and replay read these typed keys.
            response=ConnectorResponse(
                **call.response,
                http_status=call.http_status,
                attempts=call.attempts,
                rate_limited=call.rate_limited,
                http=list(call.exchanges),
            ).as_json(),
            error=call.error,
        )
        self.executions.append(self.record(execution))

    def call_tool(
        self,
        tool: str,
        operation: str,
        request: Mapping[str, Any],
        call: Callable[[], R],
        summarise: Callable[[R], Mapping[str, Any]] = lambda r: {"result": r},
    ) -> R:
        """Run ``call`` as a recorded tool execution; failures are recorded, then re-raised."""
        started_at = self.clock.now()
        start = self.clock.monotonic()
        try:
            result = call()
        except Exception as exc:
            # A failed LLM call still says how often it tried and met a rate limit.
            failed = exc.details() if isinstance(exc, LLMError) else {}
            self._record(tool, operation, started_at, start, request, failed, exc)
            raise
        self._record(tool, operation, started_at, start, request, summarise(result), None)
        return result

    def complete(
        self,
        messages: Messages,
        *,
        temperature: float = 0.7,
        max_tokens: int | None = None,
        stream: bool = True,
    ) -> Completion:
        """One LLM call, recorded with its full request and response (replay needs both)."""
        request = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "temperature": temperature,
            "seed": self.seed,
            "max_tokens": max_tokens,
        }
        try:
            completion = self._call_model(messages, request, temperature, max_tokens, stream)
        except LLMError as exc:
            # A withheld or answerless call ends the run's answer too: the trail says how.
            if exc.failure in ("filtered", "tool_call", "aborted"):
                self.endings.append(exc.failure)  # type: ignore[arg-type]
            raise
        if self.redactor is not None:
            completion = replace(completion, text=self.redactor.text(completion.text))
        self.endings.append(finish_meaning(completion.finish_reason))
        self.prompt_tokens += completion.prompt_tokens
        self.completion_tokens += completion.completion_tokens
        self.cost_usd += self.prices.cost_usd(
            completion.model, completion.prompt_tokens, completion.completion_tokens
        )
        return completion

    def _call_model(
        self,
        messages: Messages,
        request: Mapping[str, Any],
        temperature: float,
        max_tokens: int | None,
        stream: bool,
    ) -> Completion:
        return self.call_tool(
            "llm",
            "chat.completions",
            request,
            lambda: self.llm.complete(
                messages,
                model=self.model,
                temperature=temperature,
                seed=self.seed,
                max_tokens=max_tokens,
                on_token=self.on_token if stream else None,
            ),
            lambda c: ModelCallResponse(
                text=c.text,
                model=c.model,
                finish_reason=c.finish_reason,
                ending=c.ending,
                streamed=c.streamed,
                omitted_fields=list(c.omitted_fields),
                retry_wait_s=c.retry_wait_s,
                usage=ModelUsage(
                    prompt_tokens=c.prompt_tokens,
                    completion_tokens=c.completion_tokens,
                    source=c.usage_source,
                ),
                cost_usd=self.prices.cost_usd(c.model, c.prompt_tokens, c.completion_tokens),
                attempts=c.attempts,
                rate_limited=c.rate_limited,
            ).model_dump(mode="json"),
        )

    def _record(
        self,
        tool: str,
        operation: str,
        started_at: Any,
        start: float,
        request: Mapping[str, Any],
        response: Mapping[str, Any],
        error: BaseException | None,
    ) -> None:
        execution = ToolExecution(
            execution_id=new_id("tex"),
            run_id=self.run_id,
            seq=len(self.executions) + 1,
            tool=tool,
            operation=operation,
            status="failed" if error else "succeeded",
            started_at=started_at,
            duration_ms=(self.clock.monotonic() - start) * 1000,
            request=dict(request),
            response=dict(response),
            error=f"{type(error).__name__}: {error}" if error else None,
        )
        self.executions.append(self.record(execution))
