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

import hashlib
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "CONNECTOR_RESPONSE_KEYS",
    "FINISH_MEANINGS",
    "FINISH_MEANINGS_ORDER",
    "INT32_MAX",
    "LABEL_MAX",
    "REASON_MAX",
    "REVIEW_DECISIONS",
    "RUN_STATUSES",
    "Column",
    "ConnectorResponse",
    "DraftRecord",
    "FinishMeaning",
    "HttpExchange",
    "MetricRecord",
    "ModelCallResponse",
    "ModelUsage",
    "ReviewDecision",
    "ReviewEvent",
    "ReviewRecord",
    "ReviewRuleError",
    "ReviewState",
    "RunRecord",
    "RunStatus",
    "ToolExecution",
    "Transport",
    "as_utc",
    "columns_of",
    "content_digest",
    "derive_review",
    "finish_meaning",
    "next_review_state",
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


# No NaN or infinity in any record: DuckDB's DOUBLE takes them but every sum, cap and
# percentile over the column would then say NaN (and JSON writes NaN as null).
_FROZEN = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

#: The largest value of an ``INTEGER`` column (``seq``, ``seed``).
INT32_MAX = 2**31 - 1
#: Characters of a label: ids, names, agents, models, experiment ids, campaigns, variants.
LABEL_MAX = 200


def as_utc(value: datetime) -> datetime:
    """``value`` as naive UTC: an aware time is converted, a naive one is taken as UTC."""
    if value.tzinfo is None:
        return value  # the common case (the product's clocks are naive UTC): no copy
    if value.utcoffset() is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(tzinfo=None)


#: A time as the store keeps it: naive UTC (aware times are converted on the way in).
UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=LABEL_MAX)]
Int32 = Annotated[int, Field(ge=-INT32_MAX - 1, le=INT32_MAX)]
Duration = Annotated[float, Field(ge=0)]


class RunRecord(BaseModel):
    """One row of ``agent_runs``: a run as the audit trail keeps it.

    ``mode`` is the run's mode; ``model_mode`` and ``connectors_mode`` say what actually
    answered its model calls and its connector requests, so the trail never says "mock"
    while a vendor was called. Times are naive UTC.
    """

    model_config = _FROZEN

    run_id: Label
    agent: Label
    intent: Label
    status: RunStatus
    mode: Label
    started_at: UtcDatetime
    model_mode: Transport | None = None
    connectors_mode: Transport | None = None
    finished_at: UtcDatetime | None = None
    duration_ms: Duration | None = None
    input: dict[str, Any] = Field(default_factory=dict)
    output: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    model: Label | None = None
    prompt_name: Label | None = None
    prompt_version: Label | None = None
    experiment_id: Label | None = None
    campaign: Label | None = None
    variant: Label | None = None
    seed: Int32 | None = None
    #: How the run's model answers ended: the worst of its calls (see FINISH_MEANINGS).
    ending: FinishMeaning | None = None
    redacted_fields: list[str] = Field(default_factory=list)
    writer_id: Label | None = None


class ToolExecution(BaseModel):
    """One call an agent made to a tool: the model, a connector, a scorer, a breaker."""

    model_config = _FROZEN

    execution_id: Label
    run_id: Label
    seq: Annotated[int, Field(ge=0, le=INT32_MAX)]
    tool: Label
    operation: Label
    status: Literal["succeeded", "failed"]
    started_at: UtcDatetime
    duration_ms: Duration
    request: dict[str, Any] = Field(default_factory=dict)
    response: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


class MetricRecord(BaseModel):
    """One row of ``agent_run_metrics``: a named number of one run."""

    model_config = _FROZEN

    run_id: Label
    name: Label
    value: float
    unit: Annotated[str, StringConstraints(max_length=LABEL_MAX)] = ""


class DraftRecord(BaseModel):
    """One row of ``content_drafts``: a reviewable output of a run, as first written."""

    model_config = _FROZEN

    draft_id: Label
    run_id: Label
    title: str | None = None
    content: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    #: ``draft`` (awaiting review) or ``truncated`` (cut at the token limit, awaiting an
    #: edit); later statuses are derived from the draft's review events.
    status: Literal["draft", "truncated", "approved", "rejected"] = "draft"
    created_at: UtcDatetime
    updated_at: UtcDatetime
    topic: str | None = None
    primary_keyword: str | None = None


class ReviewRecord(BaseModel):
    """A review decision as writers before review events spooled it (``"t": "review"``).

    Still read from old spool segments, and turned into a :class:`ReviewEvent` on ingest
    (``approved`` -> approve, ``rejected`` -> reject, ``draft`` -> edit).
    """

    model_config = _FROZEN

    draft_id: Label
    status: Literal["draft", "approved", "rejected"]
    reviewer: Label
    review_note: str | None = None
    reviewed_at: UtcDatetime
    title: str | None = None
    content: str | None = None

    def as_event(self) -> ReviewEvent:
        """The event this legacy decision stands for (its id is derived, so re-reading
        the same spool line gives the same event)."""
        decision: ReviewDecision = {"approved": "approve", "rejected": "reject"}.get(
            self.status, "edit"
        )  # type: ignore[assignment]
        key = f"{self.draft_id}|{self.reviewed_at.isoformat()}|{self.status}|{self.reviewer}"
        digest, size = content_digest(self.content)
        return ReviewEvent(
            event_id="rev_legacy_" + hashlib.sha256(key.encode()).hexdigest()[:24],
            draft_id=self.draft_id,
            decision=decision,
            reviewer=self.reviewer,
            reason=self.review_note,
            decided_at=self.reviewed_at,
            title=self.title,
            content=self.content,
            content_sha256=digest,
            content_bytes=size,
        )


ReviewDecision = Literal["approve", "reject", "edit", "reopen"]
REVIEW_DECISIONS: tuple[str, ...] = typing.get_args(ReviewDecision)
#: Characters of a review's reason.
REASON_MAX = 2000


def content_digest(content: str | None) -> tuple[str | None, int | None]:
    """``(sha256 hex, size in UTF-8 bytes)`` of an edit's content (``(None, None)``: none)."""
    if content is None:
        return None, None
    data = content.encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest(), len(data)


class ReviewEvent(BaseModel):
    """One row of ``review_events``: a decision on a draft, appended, never changed.

    ``edit`` events carry the new title and content with the content's sha256 and size
    in UTF-8 bytes; ``reject`` and ``reopen`` carry a reason. The draft's status is
    derived from its events by :func:`derive_review`.
    """

    model_config = _FROZEN

    event_id: Label
    draft_id: Label
    decision: ReviewDecision
    reviewer: Label
    decided_at: UtcDatetime
    reason: Annotated[str, StringConstraints(max_length=REASON_MAX)] | None = None
    title: str | None = None
    content: str | None = None
    content_sha256: str | None = None
    content_bytes: Annotated[int, Field(ge=0)] | None = None


class ReviewRuleError(ValueError):
    """A decision the review rules do not allow from the draft's current status."""


@dataclass(frozen=True)
class ReviewState:
    """Where a draft's review stands, derived from its events.

    ``status`` is ``draft`` (awaiting review), ``truncated`` (cut at the token limit:
    awaiting an edit), ``approved`` or ``rejected``. ``note`` says what the last event did
    when that was more than its name (an edit after approval sends the draft back).
    ``ignored`` lists events that arrived in an order the rules refuse (two reviewers at
    once): they stay in the trail but change nothing.
    """

    status: str = "draft"
    #: False while the content is the model's truncated output and no edit replaced it.
    complete: bool = True
    reviewer: str | None = None
    reason: str | None = None
    decided_at: datetime | None = None
    note: str | None = None
    title: str | None = None
    content: str | None = None
    events: int = 0
    ignored: tuple[tuple[str, str], ...] = field(default=())


def next_review_state(state: ReviewState, event: ReviewEvent) -> ReviewState:
    """The state after ``event``, or :class:`ReviewRuleError` saying which rule forbids it.

    The rules:

    * approve: only a draft awaiting review (``draft``). A ``truncated`` draft needs an
      edit first (it would be approved as complete while cut at the token limit); a
      ``rejected`` one needs a reopen; an ``approved`` one is approved already.
    * reject (with a reason): a draft awaiting review (``draft`` or ``truncated``); an
      ``approved`` one needs a reopen first.
    * edit (new content): any status but ``rejected`` (reopen first); the draft goes (back)
      to review as ``draft``, and an edit of an approved draft says so.
    * reopen (with a reason): only an ``approved`` or ``rejected`` draft; back to review
      (``truncated`` again if no edit ever completed it).
    """
    status, decision = state.status, event.decision
    waiting = "draft" if state.complete else "truncated"
    note: str | None = None
    if decision == "approve":
        if status == "truncated":
            raise ReviewRuleError(
                "the draft was cut at the token limit (truncated): edit it into a complete "
                "draft first, then approve"
            )
        if status != "draft":
            raise ReviewRuleError(_already_or_reopen(status, "approve"))
        new = "approved"
    elif decision == "reject":
        if status not in ("draft", "truncated"):
            raise ReviewRuleError(_already_or_reopen(status, "reject"))
        new = "rejected"
    elif decision == "edit":
        if status == "rejected":
            raise ReviewRuleError("the draft is rejected: reopen it (with a reason) before editing")
        new = "draft"
        if status == "approved":
            note = "edited after approval: back to review"
    else:  # reopen
        if status not in ("approved", "rejected"):
            raise ReviewRuleError(f"the draft is awaiting review ({status}): nothing to reopen")
        new = waiting
        note = f"reopened from {status}"
    edited = decision == "edit"
    return ReviewState(
        status=new,
        complete=state.complete or edited,
        reviewer=event.reviewer,
        reason=event.reason,
        decided_at=event.decided_at,
        note=note,
        title=event.title if edited and event.title else state.title,
        content=event.content if edited else state.content,
        events=state.events + 1,
        ignored=state.ignored,
    )


def _already_or_reopen(status: str, decision: str) -> str:
    if (status, decision) in {("approved", "approve"), ("rejected", "reject")}:
        return f"the draft is already {status}"
    return f"the draft is {status}: reopen it (with a reason) before you {decision} it"


def derive_review(
    initial_status: str,
    events: list[ReviewEvent],
    *,
    title: str | None = None,
    content: str | None = None,
) -> ReviewState:
    """A draft's review state from its first status and its events in the order they
    were decided (``decided_at``, then ``event_id``). Refused events are listed in
    ``ignored`` with the rule they broke."""
    state = ReviewState(
        status=initial_status,
        complete=initial_status != "truncated",
        title=title,
        content=content,
    )
    for event in sorted(events, key=lambda e: (e.decided_at, e.event_id)):
        try:
            state = next_review_state(state, event)
        except ReviewRuleError as refusal:
            state = ReviewState(
                **{**state.__dict__, "ignored": (*state.ignored, (event.event_id, str(refusal)))}
            )
    return state


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
    if typing.get_origin(annotation) is Annotated:
        return _kind(typing.get_args(annotation)[0])
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
