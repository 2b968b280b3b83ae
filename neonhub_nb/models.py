"""Typed, validated data: what goes into a run and what comes out. No I/O here.

One schema drives every entry point: the widgets, the CLI's ``--param`` pairs, papermill
parameters and the Python API all end in :func:`validate_params`, which turns pydantic's
errors into one :class:`~neonhub_nb.errors.InvalidInputError` naming the field and rule.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import InvalidInputError
from .records import (
    INT32_MAX,
    LABEL_MAX,
    REASON_MAX,
    REVIEW_DECISIONS,
    RUN_STATUSES,
    Label,
    RunRecord,
    RunStatus,
    ToolExecution,
)
from .redaction import safe_value

__all__ = [
    "LIST_ITEM_MAX",
    "PARAM_TEXT_MAX",
    "REVIEW_DECISIONS",
    "REVIEW_STATUSES",
    "RUN_STATUSES",
    "SEED_MAX",
    "TONES",
    "AgentParams",
    "Metric",
    "RunRequest",
    "RunResult",
    "RunStatus",
    "Tone",
    "ToolExecution",
    "check_http_url",
    "check_label",
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
        split = {
            name: _split_list(value)
            if name in cls.model_fields and _is_tuple(cls.model_fields[name].annotation)
            else value
            for name, value in data.items()
        }
        for name, value in split.items():
            # After splitting: "a, b" from the CLI is held to the per-item limit too.
            _check_text(str(name), value)
            _check_size(str(name), value)
        return split

    def cross_field_rules(self) -> dict[str, str]:
        """Rules that tie fields together, as ``{field: rule}`` for those broken (empty
        when all hold). Agents override it. Checked when the parameters are built, so a
        request that would fail halfway (after a connector published something) is
        refused before anything runs, and forms flag the field (:func:`field_errors`)."""
        return {}

    @model_validator(mode="after")
    def _check_cross_field_rules(self) -> AgentParams:
        for name, rule in self.cross_field_rules().items():
            raise InvalidInputError(name, rule)
        return self


def check_http_url(field: str, value: str | None) -> str | None:
    """``value`` if it is an absolute ``http(s)://host...`` URL (or empty: None); else
    :class:`InvalidInputError` naming ``field``. For URLs an agent pastes into posts and
    ads or hands to a vendor, which would publish or fetch whatever they are given."""
    if value is None or not value.strip():
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError(
            field, f"must be an http:// or https:// URL with a host (got {safe_value(value)})"
        )
    return value.strip()


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
    """A named number of a run (tokens, cost, an agent's own measure). ``value`` must be
    finite: a NaN cost would turn every sum and spending cap over it into NaN. ``name``
    (1 to 200 characters) and ``unit`` (up to 200) follow the store's column bounds, so a
    metric that exists can be recorded as it is."""

    model_config = ConfigDict(frozen=True, allow_inf_nan=False)

    name: Label
    value: float
    unit: Annotated[str, StringConstraints(max_length=LABEL_MAX)] = ""


#: The largest seed (the ``agent_runs.seed`` column is a 32-bit ``INTEGER``).
SEED_MAX = INT32_MAX
_LABELS = ("intent", "experiment_id", "campaign", "prompt_version", "variant")


def _check_text(field: str, value: object) -> None:
    """Text the store can hold: valid Unicode (a stray byte from a shell arrives as a
    lone surrogate, which no JSON or UTF-8 writer accepts). Lists are checked item by
    item."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInputError(
                field, "must be valid UTF-8 text (it holds a byte that is not)"
            ) from None
    elif isinstance(value, list | tuple):
        for item in value:
            _check_text(field, item)


#: Characters of any one text parameter (the largest an agent declares is 60,000) and of
#: one item of a list parameter (keywords, hashtags): fields may declare less.
PARAM_TEXT_MAX = 60_000
LIST_ITEM_MAX = 200


def _check_size(field: str, value: object) -> None:
    """Bounds every agent's parameters share, whatever the field declares."""
    if isinstance(value, str) and len(value) > PARAM_TEXT_MAX:
        raise InvalidInputError(
            field, f"must be at most {PARAM_TEXT_MAX} characters (got {len(value)})", len(value)
        )
    if isinstance(value, list | tuple):
        for item in value:
            if isinstance(item, str) and len(item) > LIST_ITEM_MAX:
                raise InvalidInputError(
                    field,
                    f"items must be at most {LIST_ITEM_MAX} characters (got {len(item)})",
                    len(item),
                )


def check_label(field: str, value: object, *, required: bool = False) -> str | None:
    """A run label (``experiment_id``, ``campaign``, ``variant``, ``prompt_version``,
    ``intent``) as stored: text of 1 to :data:`LABEL_MAX` printable characters, surrounding
    spaces removed. Raises :class:`InvalidInputError` naming ``field`` and the rule."""
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(
            field, f"must be text (got {type(value).__name__})", type(value).__name__
        )
    _check_text(field, value)
    text = value.strip()
    if not text:
        raise InvalidInputError(field, "must not be empty")
    if len(text) > LABEL_MAX:
        raise InvalidInputError(
            field, f"must be at most {LABEL_MAX} characters (got {len(text)})", len(text)
        )
    if not text.isprintable():
        raise InvalidInputError(
            field, "must be printable text (no control characters or line breaks)"
        )
    return text


class RunRequest(BaseModel):
    """What to run: an intent, its raw parameters, and how to label the run.

    Labels are 1 to 200 printable characters and ``seed`` a whole number from 0 to
    2**31 - 1; a bad value raises :class:`InvalidInputError` (``field: rule``), like
    every other entry point, before anything runs or is recorded.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    intent: str = Field(min_length=1)
    # Validated later against the agent's own model, which the intent selects.
    params: Any = Field(default_factory=dict)
    experiment_id: str | None = None
    campaign: str | None = None
    prompt_version: str | None = None
    variant: str | None = None
    seed: int = 0

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            first = exc.errors()[0]
            cause = (first.get("ctx") or {}).get("error")
            if isinstance(cause, InvalidInputError):  # raised by a validator below
                raise cause from None
            field = ".".join(str(part) for part in first["loc"]) or "request"
            if first["type"] == "extra_forbidden":
                rule = f"unknown field; known fields: {', '.join(type(self).model_fields)}"
            elif field == "seed":
                rule = f"must be a whole number from 0 to {SEED_MAX}"
            else:
                rule = str(first.get("msg", "is invalid")).lower()
            raise InvalidInputError(field, rule, first.get("input")) from None

    @field_validator(*_LABELS, mode="before")
    @classmethod
    def _label(cls, value: object, info: Any) -> str | None:
        return check_label(info.field_name, value, required=info.field_name == "intent")

    @field_validator("seed", mode="before")
    @classmethod
    def _seed(cls, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                value = int(value.strip())
            else:
                raise InvalidInputError(
                    "seed", f"must be a whole number from 0 to {SEED_MAX}", value
                )
        if not 0 <= value <= SEED_MAX:
            raise InvalidInputError(
                "seed", f"must be a whole number from 0 to {SEED_MAX} (got {value})", value
            )
        return value

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
        return f"must be between {low} and {high} (got {safe_value(got)})"
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace(" or ", ", ")
        return f"must be one of {expected} (got {safe_value(got)})"
    if kind in {"int_parsing", "int_type", "int_from_float"}:
        return f"must be a whole number (got {safe_value(got)})"
    if kind in {"bool_parsing", "bool_type"}:
        return f"must be true or false (got {safe_value(got)})"
    if kind in {"float_parsing", "float_type", "finite_number"}:
        return f"must be a finite number (got {safe_value(got)})"
    if kind.startswith(("date_", "datetime_")):
        return f"must be a date as YYYY-MM-DD (got {safe_value(got)})"
    if kind in {"string_type", "tuple_type", "list_type"}:
        return f"must be {'text' if kind == 'string_type' else 'a list'} (got {type(got).__name__})"
    if kind == "extra_forbidden":
        return f"unknown field; known fields: {', '.join(model.model_fields)}"
    # Rules of our own (validators) carry their message; pydantic's others are one line too.
    message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
    return " ".join(message.split())


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
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, InvalidInputError):  # raised by one of our own validators
        return cause
    field = ".".join(str(part) for part in first["loc"]) or "params"
    return InvalidInputError(field, _rule(first, model), first.get("input"))


#: Statuses a draft can have: awaiting review (``draft``, or ``truncated`` when the model
#: stopped at its token limit), ``approved`` or ``rejected``.
REVIEW_STATUSES = ("draft", "truncated", "approved", "rejected")
_LEGACY_DECISIONS = {"approved": "approve", "rejected": "reject", "draft": "edit"}


def validate_review(
    decision: str, reviewer: object, reason: object = None, *, content: object = None
) -> str:
    """The fields of a review decision; returns the decision's name (``approve``,
    ``reject``, ``edit`` or ``reopen``; the older ``approved``/``rejected``/``draft`` are
    accepted). Raises :class:`InvalidInputError` naming the field and the rule."""
    name = _LEGACY_DECISIONS.get(decision, decision) if isinstance(decision, str) else ""
    if name not in REVIEW_DECISIONS:
        raise InvalidInputError(
            "decision",
            f"must be one of {', '.join(REVIEW_DECISIONS)} (got {safe_value(decision)})",
        )
    if reviewer is None or (isinstance(reviewer, str) and not reviewer.strip()):
        raise InvalidInputError("reviewer", "must not be empty: say who reviewed the draft")
    check_label("reviewer", reviewer, required=True)
    if reason is not None:
        if not isinstance(reason, str):
            raise InvalidInputError("reason", "must be text")
        _check_text("reason", reason)
        if len(reason) > REASON_MAX:
            raise InvalidInputError("reason", f"must be at most {REASON_MAX} characters")
    if name in ("reject", "reopen") and not (isinstance(reason, str) and reason.strip()):
        raise InvalidInputError("reason", f"must say why when you {name} a draft")
    if name == "edit":
        if not isinstance(content, str) or not content.strip():
            raise InvalidInputError("content", "must hold the edited draft (it is empty)")
        _check_text("content", content)
    return name


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
        try:  # the bounds every agent shares, as validate_params applies them
            _check_text(name, value)
            _check_size(name, value)
        except InvalidInputError as exc:
            errors[name] = exc.rule
            continue
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
    if not errors:  # each field holds: the rules that tie them together
        try:
            validate_params(model, {k: v for k, v in raw.items() if v is not None})
        except InvalidInputError as exc:
            errors[exc.field] = exc.rule
    return errors
