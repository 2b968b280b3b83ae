"""One exception tree for the whole package.

Every error carries what it was doing, so a message read in a notebook, the CLI or the
audit store is enough to act on. Messages never contain secrets: a rejected value is shown through
:func:`neonhub_nb.redaction.safe_value` (only when short and harmless), and every sink
redacts what it shows (``docs/redaction.md``).
"""

from __future__ import annotations

__all__ = [
    "AgentError",
    "BudgetExceededError",
    "CircuitOpenError",
    "ConfigError",
    "ConnectorError",
    "ContentFilteredError",
    "IncompleteAnswerError",
    "InvalidInputError",
    "LLMError",
    "NeonhubError",
    "ReplayMissError",
    "StoreError",
    "UnknownIntentError",
]


class NeonhubError(Exception):
    """Base of every error neonhub-nb raises on purpose."""


class ConfigError(NeonhubError):
    """The environment or settings are inconsistent (e.g. live mode without an endpoint)."""


class InvalidInputError(NeonhubError, ValueError):
    """A parameter broke a rule. ``field`` and ``rule`` say which; nothing was recorded."""

    def __init__(self, field: str, rule: str, value: object = None) -> None:
        self.field = field
        self.rule = rule
        self.value = value
        super().__init__(f"{field}: {rule}")


class UnknownIntentError(NeonhubError, KeyError):
    """No agent is registered for the intent asked for."""

    def __init__(self, intent: str, known: list[str]) -> None:
        from .redaction import safe_value

        self.intent = intent
        self.known = known
        # KeyError's repr shows its argument: the intent as an error message may show it.
        super().__init__(safe_value(intent))

    def __str__(self) -> str:
        from .redaction import safe_value

        known = ", ".join(self.known)
        return f"intent: unknown intent {safe_value(self.intent)}; known intents: {known}"


class AgentError(NeonhubError):
    """An agent could not produce its output (bad model answer, tool failure ...)."""


class LLMError(NeonhubError):
    """The language model call failed (timeout, HTTP error, bad response ...).

    ``attempts`` and ``rate_limited`` say what the call went through, so a failed call's
    record still counts its retries and 429s; ``status_code`` is the last HTTP status;
    ``failure`` names the kind of the last failure (``timeout``, ``connection``, ``http``,
    ``rate_limited``, ``quota``, ``decode``, ``stream_cut``, ``stream_error``, ``filtered``,
    ``tool_call``, ``aborted``, ``unexpected``; see docs/live-mode.md), ``retryable``
    whether that kind could have succeeded on retry, ``retry_wait_s`` the seconds waited
    between attempts.
    """

    def __init__(
        self,
        message: str,
        *,
        attempts: int = 1,
        rate_limited: int = 0,
        status_code: int | None = None,
        failure: str | None = None,
        retryable: bool = False,
        retry_wait_s: float = 0.0,
    ) -> None:
        self.attempts = attempts
        self.rate_limited = rate_limited
        self.status_code = status_code
        self.failure = failure
        self.retryable = retryable
        self.retry_wait_s = retry_wait_s
        super().__init__(message)

    def details(self) -> dict[str, int | float | bool | str | None]:
        """The keys a failed ``llm`` tool execution records as its response."""
        return {
            "attempts": self.attempts,
            "rate_limited": self.rate_limited,
            "http_status": self.status_code,
            "failure": self.failure,
            "retryable": self.retryable,
            "retry_wait_s": self.retry_wait_s,
        }


class ContentFilteredError(LLMError):
    """The provider's content filter withheld the prompt or the answer (never retried).

    Part of the answer may already have reached ``on_token``; it is not a draft.
    """


class IncompleteAnswerError(LLMError):
    """The model finished without an answer: it asked for a tool this client never offers
    (``tool_calls``), or the server aborted the generation (``abort``)."""


class CircuitOpenError(NeonhubError):
    """The agent's circuit breaker is open: calls fail fast until it half-opens."""


class BudgetExceededError(NeonhubError):
    """A live run would start past the spending cap."""


class ConnectorError(NeonhubError):
    """A connector call failed. ``service`` and ``operation`` say which one."""

    def __init__(
        self, service: str, operation: str, message: str, status_code: int | None = None
    ) -> None:
        self.service = service
        self.operation = operation
        self.status_code = status_code
        super().__init__(f"{service}.{operation}: {message}")


class StoreError(NeonhubError):
    """The audit store could not be opened, migrated or queried."""


class ReplayMissError(NeonhubError):
    """Replay mode met a request that was never recorded."""
