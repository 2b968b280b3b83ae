"""Typed, validated data: what goes into a run and what comes out. No I/O here.

One schema drives every entry point: the widgets, the CLI's ``--param`` pairs, papermill
parameters and the Python API all end in :func:`validate_params`, which turns pydantic's
errors into one :class:`~neonhub_nb.errors.InvalidInputError` naming the field and rule.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from .errors import InvalidInputError
from .records import RUN_STATUSES, RunRecord, RunStatus, ToolExecution

__all__ = [
    "REVIEW_STATUSES",
    "RUN_STATUSES",
    "TONES",
    "AgentParams",
    "Metric",
    "RunRequest",
    "RunResult",
    "RunStatus",
    "Tone",
    "ToolExecution",
    "field_errors",
    "validate_params",
    "validate_review",
]

Tone = Literal["professional", "friendly", "authoritative", "conversational", "witty", "persuasive"]
TONES: tuple[str, ...] = Tone.__args__  # type: ignore[attr-defined]


class AgentParams(BaseModel):
    """Base of every agent's input model: strict about unknown fields, strips strings.

    Constructing one with a bad value raises :class:`InvalidInputError` naming the field
    and the rule (not pydantic's multi-line report), so notebooks show one clear line.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _invalid(exc, type(self)) from None

    @model_validator(mode="before")
    @classmethod
    def _split_list_fields(cls, data: Any) -> Any:
        # The CLI and papermill hand lists over as "a, b, c"; widgets hand them as lists.
        if not isinstance(data, dict):
            return data
        return {
            name: _split_list(value)
            if name in cls.model_fields and _is_tuple(cls.model_fields[name].annotation)
            else value
            for name, value in data.items()
        }


def _is_tuple(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is tuple:
        return True
    return any(typing.get_origin(arg) is tuple for arg in typing.get_args(annotation))


def _split_list(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Metric(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    value: float
    unit: str = ""


class RunRequest(BaseModel):
    """What to run: an intent, its raw parameters, and how to label the run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    intent: str = Field(min_length=1)
    # Validated later against the agent's own model, which the intent selects.
    params: Any = Field(default_factory=dict)
    experiment_id: str | None = None
    campaign: str | None = None
    prompt_version: str | None = None
    variant: str | None = None
    seed: int = 0

    @classmethod
    def from_record(cls, run: RunRecord) -> RunRequest:
        """The request that produced ``run`` (replay sends it again)."""
        labels = {
            name: getattr(run, name) for name in cls.model_fields if name in RunRecord.model_fields
        }
        return cls(params=dict(run.input), **{**labels, "seed": run.seed or 0})


class RunResult(RunRecord):
    """The outcome of one run, as recorded in the audit store: the run's record plus its
    draft, token counts, cost, tool executions and metrics."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    draft_id: str | None = None
    title: str | None = None
    content: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    tool_executions: tuple[ToolExecution, ...] = ()
    metrics: tuple[Metric, ...] = ()

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    def to_json_dict(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["total_tokens"] = self.total_tokens
        return data

    def __repr__(self) -> str:
        # The full model (draft text, every tool call) is too long to read in a terminal.
        title = f", title={self.title!r}" if self.title else ""
        error = f", error={self.error!r}" if self.error else ""
        return (
            f"RunResult(run_id={self.run_id!r}, intent={self.intent!r}, "
            f"status={self.status!r}{title}{error}, tokens={self.total_tokens}, "
            f"cost_usd={self.cost_usd:.6f}, tool_calls={len(self.tool_executions)})"
        )

    def _repr_html_(self) -> str:
        from .display import run_card_html

        return run_card_html(self)

    def _repr_markdown_(self) -> str | None:
        return None


P = TypeVar("P", bound=AgentParams)


def _rule(error: Mapping[str, Any], model: type[AgentParams]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    got = error.get("input")
    if kind == "missing":
        return "is required"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} items"
    if kind in {"greater_than_equal", "less_than_equal"}:
        field = error["loc"][0]
        info = model.model_fields[field]
        bounds = {type(m).__name__: m for m in info.metadata}
        low = getattr(bounds.get("Ge"), "ge", None)
        high = getattr(bounds.get("Le"), "le", None)
        return f"must be between {low} and {high} (got {got!r})"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '').replace(' or ', ', ')} (got {got!r})"
    if kind in {"int_parsing", "int_type", "int_from_float"}:
        return f"must be a whole number (got {got!r})"
    if kind == "extra_forbidden":
        return f"unknown field; known fields: {', '.join(model.model_fields)}"
    return str(error.get("msg", "is invalid"))


def validate_params(model: type[P], data: Mapping[str, Any] | AgentParams) -> P:
    """Validate raw parameters into ``model`` or raise one clear :class:`InvalidInputError`."""
    if isinstance(data, model):
        return data
    raw = data.model_dump() if isinstance(data, AgentParams) else dict(data)
    # The constructor (not model_validate) so AgentParams.__init__ turns pydantic's report
    # into one InvalidInputError; pydantic would wrap it again inside model_validate.
    return model(**{str(key): value for key, value in raw.items()})


def _invalid(exc: ValidationError, model: type[AgentParams]) -> InvalidInputError:
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "params"
    return InvalidInputError(field, _rule(first, model), first.get("input"))


REVIEW_STATUSES = ("draft", "approved", "rejected")


def validate_review(status: str, reviewer: str, note: str | None) -> None:
    """The rules of a review decision; raises :class:`InvalidInputError` naming the field."""
    if status not in REVIEW_STATUSES:
        raise InvalidInputError(
            "status", f"must be one of {', '.join(REVIEW_STATUSES)} (got {status!r})", status
        )
    if not reviewer or not reviewer.strip():
        raise InvalidInputError("reviewer", "must not be empty: say who reviewed the draft")
    if status == "rejected" and not (note and note.strip()):
        raise InvalidInputError("note", "must give a reason when rejecting a draft")


def field_errors(model: type[AgentParams], raw: Mapping[str, Any]) -> dict[str, str]:
    """Every broken rule, per field (for forms that flag each field before anything runs).

    Unlike :func:`validate_params`, which stops at the first problem, this checks each
    field on its own against its type and constraints.
    """
    errors: dict[str, str] = {}
    for name, info in model.model_fields.items():
        if name not in raw or raw[name] is None:
            if info.is_required():
                errors[name] = "is required"
            continue
        value = raw[name]
        if isinstance(value, str):
            value = value.strip()
            if _is_tuple(info.annotation):
                value = _split_list(value)
        annotation: Any = info.annotation
        if info.metadata:
            annotation = Annotated[(annotation, *info.metadata)]
        adapter: TypeAdapter[Any] = TypeAdapter(annotation)
        try:
            adapter.validate_python(value)
        except ValidationError as exc:
            error = dict(exc.errors()[0])
            error["loc"] = (name,)
            errors[name] = _rule(error, model)
    return errors
