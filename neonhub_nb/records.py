"""The audit trail's records: what the store accepts, spools and ingests. No I/O here.

Each record is a frozen pydantic model whose fields are the columns of its table. The
store takes records, never hand-built dicts, and ingestion derives its column list and
Arrow schema from the model (:func:`columns_of`): a new column is one field here plus
one migration in ``store/schema.py``.

The JSON a tool execution keeps as its ``response`` has a typed shape too:
:class:`ModelCallResponse` for the model's calls and :class:`ConnectorResponse` for
connector operations. The metrics exporter, the baselines kept through prunes and replay
mode read these keys; :data:`CONNECTOR_RESPONSE_KEYS` names them for SQL.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CONNECTOR_RESPONSE_KEYS",
    "FINISH_MEANINGS",
    "FINISH_MEANINGS_ORDER",
    "RUN_STATUSES",
    "Column",
    "ConnectorResponse",
    "DraftRecord",
    "FinishMeaning",
    "HttpExchange",
    "MetricRecord",
    "ModelCallResponse",
    "ModelUsage",
    "ReviewRecord",
    "RunRecord",
    "RunStatus",
    "ToolExecution",
    "Transport",
    "columns_of",
    "finish_meaning",
    "worst_ending",
]

RunStatus = Literal["queued", "running", "succeeded", "failed", "abandoned"]
RUN_STATUSES: tuple[str, ...] = typing.get_args(RunStatus)
Transport = Literal["mock", "live", "replay"]
#: How a model answer ended, as the audit trail records it (``agent_runs.ending`` is the
#: worst of a run's calls): ``complete`` (the model stopped on its own), ``truncated``
#: (cut at max_tokens), ``filtered`` (withheld by the provider's content filter),
#: ``tool_call`` (it asked for a tool this product never offers), ``aborted`` (the server
#: gave up), ``unknown`` (no finish reason, or one nobody vouches for).
FinishMeaning = Literal["complete", "truncated", "filtered", "tool_call", "aborted", "unknown"]
FINISH_MEANINGS_ORDER: tuple[FinishMeaning, ...] = (
    "filtered",
    "tool_call",
    "aborted",
    "truncated",
    "unknown",
    "complete",
)  # worst first

# What each finish_reason met in the wild means. Anything else is "unknown": the text is
# kept, but it is never called complete.
FINISH_MEANINGS: Mapping[str, FinishMeaning] = MappingProxyType(
    {
        "stop": "complete",
        # TGI's Messages API before it aligned with OpenAI:
        # https://github.com/huggingface/text-generation-inference/pull/2344
        # https://github.com/huggingface/text-generation-inference/issues/1724
        "eos_token": "complete",
        "stop_sequence": "complete",  # https://github.com/huggingface/huggingface.js/pull/537
        # Together and other gateways: https://github.com/openai/openai-dotnet/pull/267
        "eos": "complete",
        "end": "complete",  # https://github.com/earendil-works/pi/issues/2107
        "length": "truncated",  # max_tokens reached (every server)
        "content_filter": "filtered",  # OpenAI and Azure OpenAI
        # The model asked to call a tool; this product offers none, so there is no answer.
        "tool_calls": "tool_call",
        "function_call": "tool_call",  # deprecated OpenAI name
        # vLLM ends an engine-aborted stream this way, then [DONE]:
        # https://github.com/vllm-project/vllm/issues/57082
        "abort": "aborted",
    }
)


def finish_meaning(reason: str | None) -> FinishMeaning:
    """What ``finish_reason`` means (``"unknown"`` for ``None`` and unknown strings)."""
    return FINISH_MEANINGS.get(reason, "unknown") if reason else "unknown"


def worst_ending(endings: Sequence[FinishMeaning]) -> FinishMeaning | None:
    """The ending a run records: the worst of its model calls' (None: no model call)."""
    return min(endings, key=FINISH_MEANINGS_ORDER.index) if endings else None


_FROZEN = ConfigDict(frozen=True, extra="forbid")


class RunRecord(BaseModel):
    """One row of ``agent_runs``: a run as the audit trail keeps it.

    ``mode`` is the run's mode; ``model_mode`` and ``connectors_mode`` say what actually
    answered its model calls and its connector requests, so the trail never says "mock"
    while a vendor was called. Times are naive UTC.
    """

    model_config = _FROZEN

    run_id: str
    agent: str
    intent: str
    status: RunStatus
    mode: str
    started_at: datetime
    model_mode: Transport | None = None
    connectors_mode: Transport | None = None
    finished_at: datetime | None = None
    duration_ms: float | None = None
    input: dict[str, Any] = Field(default_factory=dict)
    output: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    model: str | None = None
    prompt_name: str | None = None
    prompt_version: str | None = None
    experiment_id: str | None = None
    campaign: str | None = None
    variant: str | None = None
    seed: int | None = None
    #: How the run's model answers ended: the worst of its calls (see FINISH_MEANINGS).
    ending: FinishMeaning | None = None
    redacted_fields: list[str] = Field(default_factory=list)
    writer_id: str | None = None


class ToolExecution(BaseModel):
    """One call an agent made to a tool: the model, a connector, a scorer, a breaker."""

    model_config = _FROZEN

    execution_id: str
    run_id: str
    seq: int
    tool: str
    operation: str
    status: Literal["succeeded", "failed"]
    started_at: datetime
    duration_ms: float
    request: dict[str, Any] = Field(default_factory=dict)
    response: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


class MetricRecord(BaseModel):
    """One row of ``agent_run_metrics``: a named number of one run."""

    model_config = _FROZEN

    run_id: str
    name: str
    value: float
    unit: str = ""


class DraftRecord(BaseModel):
    """One row of ``content_drafts``: a reviewable output of a run, as first written."""

    model_config = _FROZEN

    draft_id: str
    run_id: str
    title: str | None = None
    content: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    status: str = "draft"
    created_at: datetime
    updated_at: datetime
    topic: str | None = None
    primary_keyword: str | None = None


class ReviewRecord(BaseModel):
    """A review decision on a draft (approve, reject, or save edits)."""

    model_config = _FROZEN

    draft_id: str
    status: str
    reviewer: str
    review_note: str | None = None
    reviewed_at: datetime
    title: str | None = None
    content: str | None = None


# ------------------------------------------------------------ tool responses
class ModelUsage(BaseModel):
    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0
    #: ``response``: the server's own counts; ``counted``: tiktoken's, when it sent none.
    source: Literal["response", "counted"] = "response"


class ModelCallResponse(BaseModel):
    """The ``response`` of an ``llm`` tool execution (what replay serves back)."""

    model_config = ConfigDict(frozen=True)

    text: str
    model: str
    finish_reason: str | None = "stop"
    #: What finish_reason meant (complete, truncated, ...): see FINISH_MEANINGS.
    ending: str | None = None
    #: False when the server ignored ``stream: true`` and sent one JSON answer.
    streamed: bool = True
    #: Optional request fields left out (NEONHUB_LLM_OMIT_FIELDS, or refused by the server):
    #: a left-out seed means the recorded seed is not what the model got.
    omitted_fields: list[str] = Field(default_factory=list)
    #: Seconds spent waiting between attempts (backoff and Retry-After).
    retry_wait_s: float = 0.0
    usage: ModelUsage = Field(default_factory=ModelUsage)
    cost_usd: float = 0.0
    attempts: int = 1
    rate_limited: int = 0


class HttpExchange(BaseModel):
    """One HTTP request of a live connector and its answer (secrets redacted)."""

    model_config = ConfigDict(frozen=True)

    method: str
    url: str
    body: str = ""
    status: int
    headers: dict[str, str] = Field(default_factory=dict)
    response: str = ""


class ConnectorResponse(BaseModel):
    """The ``response`` of a ``connector.<service>`` tool execution.

    ``summary`` keys of the operation (ids, counts) sit beside the fixed keys. The
    exporter counts ``attempts`` and ``rate_limited``; replay serves ``http`` back.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    http_status: int | None = None
    attempts: int = 0
    rate_limited: int = 0
    http: list[HttpExchange] = Field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The dict stored in ``tool_executions.response`` (``http`` only when present)."""
        data = self.model_dump(mode="json")
        if not data.get("http"):
            data.pop("http", None)
        return data


#: The fixed keys of a connector response, for queries that read them in SQL.
CONNECTOR_RESPONSE_KEYS: tuple[str, ...] = tuple(ConnectorResponse.model_fields)


# ----------------------------------------------------------------- columns
@dataclass(frozen=True)
class Column:
    """How one record field is staged (Arrow) and cast into its table (SQL)."""

    name: str
    kind: Literal["text", "integer", "real", "timestamp", "json"]
    nullable: bool


def _kind(annotation: Any) -> Literal["text", "integer", "real", "timestamp", "json"]:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, type(int | None)) and len(args) == 1:
        return _kind(args[0])
    origin = typing.get_origin(annotation)
    if annotation is datetime:
        return "timestamp"
    if annotation is bool or annotation is int:
        return "integer"
    if annotation is float:
        return "real"
    if annotation is str or origin is Literal:
        return "text"
    if origin in (dict, list, tuple) or annotation in (dict, list):
        return "json"
    raise TypeError(f"no column kind for {annotation!r}")


def columns_of(model: type[BaseModel]) -> tuple[Column, ...]:
    """The columns of ``model``'s table, in field order."""
    return tuple(
        Column(name, _kind(info.annotation), not info.is_required() or info.default is None)
        for name, info in model.model_fields.items()
    )
