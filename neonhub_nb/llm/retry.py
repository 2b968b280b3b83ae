"""What a failed model call was, whether trying again can help, and the retry loop.

:func:`classify` turns whatever one attempt raised into a :class:`Failure`: its kind, a
message, and whether a retry can succeed. Only what can succeed is retried: timeouts,
dropped connections, 408/409/424/429/5xx, streams cut or aborted, errors a stream reports
with such a status. A 400, a decode error, a filtered answer, a tool call are sent the
same way and would fail the same way (and be billed again), so they end the call at once.
The table is in docs/live-mode.md.

The loop is tenacity's (:func:`retrying` and :func:`aretrying`, the same strategy for
sync and async): ``stop`` after the retry budget or a ``Retry-After`` longer than the
client waits, ``wait`` is the provider's ``Retry-After`` or jittered backoff, ``sleep`` is
the injected clock's, and ``before_sleep`` hands every wait to the caller to count.
"""

from __future__ import annotations

import random
import re
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx2
import tenacity
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from ..backoff import jittered_backoff, retry_after_seconds
from ..clock import Clock
from ..errors import ContentFilteredError, IncompleteAnswerError, LLMError
from ..redaction import Redactor, redact_truncate
from .stream import (
    FinishError,
    MalformedAnswerError,
    StreamCutError,
    StreamEventError,
)

__all__ = [
    "AttemptFailedError",
    "Failure",
    "FailureKind",
    "ModelRetryPolicy",
    "aretrying",
    "classify",
    "retrying",
]

FailureKind = Literal[
    "timeout",
    "connection",
    "http",
    "rate_limited",
    "quota",
    "decode",
    "stream_cut",
    "stream_error",
    "filtered",
    "tool_call",
    "aborted",
    "unexpected",
]

# 408 timeout, 409 conflict (OpenAI asks to retry it), 424 TGI's generation error,
# 429 rate limit, 5xx the server's own failures except "not implemented" and "version".
_RETRY_STATUSES = frozenset({408, 409, 424, 429})
_NEVER_RETRY_5XX = frozenset({501, 505})
_MESSAGE_CHARS = 300
_Cut = Callable[[str], str]


def _retryable_status(status: int) -> bool:
    return status in _RETRY_STATUSES or (status >= 500 and status not in _NEVER_RETRY_5XX)


@dataclass(frozen=True)
class ModelRetryPolicy:
    """How often and how long the model client retries. ``max_retries`` counts retries,
    not attempts."""

    max_retries: int = 3
    backoff_s: float = 0.5
    max_backoff_s: float = 20.0
    # A provider asking for a longer pause than this gets a clear error instead of a
    # notebook cell that silently hangs for minutes.
    max_retry_after_s: float = 60.0

    def delay(self, retry: int, rng: random.Random) -> float:
        """Backoff before retry number ``retry`` (1-based; see :func:`jittered_backoff`)."""
        return jittered_backoff(retry, self.backoff_s, self.max_backoff_s, rng.random())


@dataclass
class Failure:
    """One failed attempt, classified. ``unknown_field`` names an optional request field
    the server refused (the caller may send the request once more without it)."""

    kind: FailureKind
    message: str
    retryable: bool
    status_code: int | None = None
    retry_after: float | None = None
    rate_limited: bool = False
    unknown_field: str | None = None

    def error(self, message: str, **counts: Any) -> LLMError:
        """The :class:`LLMError` (subclass by kind) that reports this failure."""
        cls: type[LLMError] = LLMError
        if self.kind == "filtered":
            cls = ContentFilteredError
        elif self.kind in ("tool_call", "aborted"):
            cls = IncompleteAnswerError
        return cls(
            message,
            status_code=self.status_code,
            failure=self.kind,
            retryable=self.retryable,
            **counts,
        )


class AttemptFailedError(Exception):
    """Raised by one attempt for the retry loop; carries the classified failure."""

    def __init__(self, failure: Failure) -> None:
        self.failure = failure
        super().__init__(failure.message)


def _body_error(body: object) -> Mapping[str, Any]:
    """The error object of a body (the SDK hands over ``body["error"]`` when there is one)."""
    if isinstance(body, str) and body:  # TGI's {"error": "..."} arrives as the string
        return {"message": body}
    if isinstance(body, Mapping):
        error = body.get("error", body)
        if isinstance(error, Mapping):
            return error
        if isinstance(error, str):  # TGI: {"error": "...", "error_type": "..."}
            return {"message": error, "type": body.get("error_type")}
    return {}


def _named_field(error: Mapping[str, Any], fields: Iterable[str]) -> str | None:
    """The optional field a 400/422 says the server does not know, if it names one:
    ``param`` (OpenAI-style, https://github.com/QuantumNous/new-api/issues/418) or the
    message (Azure: "Unrecognized request argument supplied: stream_options",
    https://github.com/langchain-ai/langchain/pull/23552; LiteLLM: "does not support
    parameters: ['seed']", https://github.com/kaiko-ai/eva/issues/895)."""
    message = str(error.get("message") or "")
    for name in fields:
        if error.get("param") == name or re.search(rf"\b{re.escape(name)}\b", message):
            return name
    return None


def _status_failure(exc: Any, clock: Clock, optional: Iterable[str], cut: _Cut) -> Failure:
    status = int(exc.status_code)
    error = _body_error(exc.body)
    text = str(error.get("message") or exc.message)
    message = cut(f"HTTP {status}: {text}")
    code = str(error.get("code") or "")
    if status in (400, 422) and code == "content_filter":
        # Azure's prompt filter: https://github.com/openai/openai-dotnet/issues/55
        return Failure("filtered", f"the provider filtered the prompt ({message})", False, status)
    if status in (400, 422):
        name = _named_field(error, optional)
        if name is not None:
            return Failure("http", message, False, status, unknown_field=name)
    if status == 429 and code == "insufficient_quota":
        # Out of credit, not a rate limit: https://github.com/langchain-ai/langchainjs/issues/1929
        return Failure("quota", message, False, status, rate_limited=True)
    headers = dict(exc.response.headers.items())
    return Failure(
        "rate_limited" if status == 429 else "http",
        message,
        _retryable_status(status),
        status,
        retry_after=retry_after_seconds(headers, clock.now()) if status in (429, 503) else None,
        rate_limited=status == 429,
    )


def classify(
    exc: BaseException,
    *,
    timeout_s: float,
    clock: Clock,
    optional: Iterable[str] = (),
    redactor: Redactor | None = None,
) -> Failure:
    """What one attempt's exception means (see the module docstring).

    Messages are redacted (``redactor``: the client's, default format rules only) before
    they are cut to a readable length: a cut first could leave part of a secret that no
    rule or known value matches any more.
    """
    import openai

    def cut(text: str) -> str:
        return redact_truncate(text, _MESSAGE_CHARS, redactor=redactor)

    if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
        return Failure("timeout", f"timed out after {timeout_s:g}s", True)
    if isinstance(exc, openai.APIStatusError):
        return _status_failure(exc, clock, optional, cut)
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        detail = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
        return Failure("connection", cut(f"connection failed{detail}"), True)
    # Raised while reading the body, where the SDK no longer wraps transport errors.
    if isinstance(exc, httpx2.TransportError | ssl.SSLError):
        text = f"connection failed ({type(exc).__name__}: {exc})"
        return Failure("connection", cut(text), True)
    if isinstance(exc, FinishError):
        return _finish_failure(exc, cut)
    if isinstance(exc, StreamEventError):
        status = exc.status
        retryable = status is None or _retryable_status(status)
        kind: FailureKind = "rate_limited" if status == 429 else "stream_error"
        text = f"error in the stream{f' (code {status})' if status else ''}: {exc}"
        return Failure(kind, cut(text), retryable, status, rate_limited=status == 429)
    if isinstance(exc, StreamCutError):
        return Failure("stream_cut", cut(str(exc)), True)
    if isinstance(exc, MalformedAnswerError):
        text = f"malformed response (not a chat completion the client can read: {exc})"
        return Failure("decode", cut(text), False)
    return Failure("unexpected", cut(f"unexpected {type(exc).__name__}: {exc}"), False)


def _finish_failure(exc: FinishError, cut: _Cut) -> Failure:
    if exc.meaning == "filtered":
        text = f"the provider filtered the answer ({exc}); it is not a draft"
        return Failure("filtered", cut(text), False)
    if exc.meaning == "tool_call":
        text = f"the model asked to call a tool ({exc}), but this client offers none"
        return Failure("tool_call", cut(text), False)
    return Failure("aborted", cut(f"the server aborted the generation ({exc})"), True)


# --------------------------------------------------------------- the loop
def _failure(state: tenacity.RetryCallState) -> Failure:
    outcome = state.outcome
    exc = outcome.exception() if outcome is not None else None
    if not isinstance(exc, AttemptFailedError):  # pragma: no cover - retry_if_exception filters
        raise TypeError("only AttemptFailedError is retried")
    return exc.failure


class _WaitRetryAfterOrBackoff(wait_base):
    """The provider's Retry-After when it gave one, else jittered exponential backoff."""

    def __init__(self, policy: ModelRetryPolicy, rng: random.Random) -> None:
        self.policy = policy
        self.rng = rng

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        asked = _failure(retry_state).retry_after
        if asked is not None:
            return asked
        return self.policy.delay(retry_state.attempt_number, self.rng)


class _StopOnLongRetryAfter(stop_base):
    """Give up rather than wait longer than ``limit_s`` (checked after ``wait``)."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        return retry_state.upcoming_sleep > self.limit_s


def _strategy(
    policy: ModelRetryPolicy, rng: random.Random, on_wait: Callable[[float], None]
) -> dict[str, Any]:
    return {
        "stop": tenacity.stop_after_attempt(policy.max_retries + 1)
        | _StopOnLongRetryAfter(policy.max_retry_after_s),
        "wait": _WaitRetryAfterOrBackoff(policy, rng),
        "retry": tenacity.retry_if_exception(
            lambda exc: isinstance(exc, AttemptFailedError) and exc.failure.retryable
        ),
        "before_sleep": lambda state: on_wait(state.upcoming_sleep),
        # The last attempt's own exception, never tenacity's RetryError.
        "reraise": True,
    }


def retrying(
    policy: ModelRetryPolicy,
    rng: random.Random,
    sleep: Callable[[float], None],
    on_wait: Callable[[float], None],
) -> tenacity.Retrying:
    """The sync retry loop: call it with a function that raises :class:`AttemptFailedError`."""
    return tenacity.Retrying(sleep=sleep, **_strategy(policy, rng, on_wait))


def aretrying(
    policy: ModelRetryPolicy,
    rng: random.Random,
    sleep: Callable[[float], Awaitable[None]],
    on_wait: Callable[[float], None],
) -> tenacity.AsyncRetrying:
    """The same loop for coroutines, sleeping with ``sleep`` (``asyncio.sleep`` by default)."""
    return tenacity.AsyncRetrying(sleep=sleep, **_strategy(policy, rng, on_wait))
