"""Live LLM client over the official ``openai`` SDK (OpenAI or any compatible server).

What a flaky provider meets here:

- a timeout per attempt (connect and each read of the stream);
- retries with jittered exponential backoff, honouring ``Retry-After`` on 429/503;
- a client-side rate limiter per provider (:mod:`neonhub_nb.ratelimit`);
- one :class:`~neonhub_nb.errors.LLMError` when it gives up, saying what happened and how
  often it tried, with secrets redacted. Nothing else escapes to the caller.

The SDK's own retries are off (``max_retries=0``) so that every attempt is counted, every
wait uses the injected clock, and a stream is never retried once part of the draft has
been shown. The HTTP clients are injected (``http_client=`` / ``async_http_client=``):
openai 3.x builds on ``httpx2``, so patching ``httpx`` would not reach it.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import ssl
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from urllib.parse import urlsplit

import httpx2

from .chatstream import CallbackError, ChatStream, StreamCutError, StreamEventError
from .clock import Clock, SystemClock
from .config import Settings
from .errors import LLMError
from .llm import Completion, Messages, TokenCallback
from .ratelimit import RateLimiter
from .redact import Redactor, is_secret_name

__all__ = [
    "OpenAILLM",
    "RetryPolicy",
    "endpoint_label",
    "parse_retry_after",
]

OPENAI_URL = "https://api.openai.com/v1"
_RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
_MESSAGE_CHARS = 300


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry. ``max_retries`` counts retries, not attempts."""

    max_retries: int = 3
    backoff_s: float = 0.5
    max_backoff_s: float = 20.0
    # A provider asking for a longer pause than this gets a clear error instead of a
    # notebook cell that silently hangs for minutes.
    max_retry_after_s: float = 60.0

    def delay(self, retry: int, rng: random.Random) -> float:
        """Backoff before retry number ``retry`` (1-based): half fixed, half jitter, so
        clients that failed together do not come back together."""
        ceiling = min(self.max_backoff_s, self.backoff_s * 2.0 ** (retry - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


def endpoint_label(base_url: str | None) -> str:
    """``scheme://host[:port]/path`` of an endpoint, without credentials or query."""
    parts = urlsplit(base_url or OPENAI_URL)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"


def parse_retry_after(headers: Mapping[str, str], clock: Clock) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or HTTP date)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = lowered.get(name)
        if raw is None:
            continue
        try:
            return max(0.0, float(raw) / divisor)
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            continue
        # The clock is naive UTC; HTTP dates are GMT.
        if when.tzinfo is not None:
            when = when.astimezone(UTC).replace(tzinfo=None)
        return max(0.0, (when - clock.now()).total_seconds())
    return None


@dataclass
class _Failure:
    message: str
    retryable: bool
    status_code: int | None = None
    retry_after: float | None = None
    rate_limited: bool = False


class OpenAILLM:
    """Chat completions through ``openai.OpenAI`` (sync) and ``openai.AsyncOpenAI`` (async).

    Always streams, with ``include_usage``, so drafts appear as they are written and the
    server's token counts are recorded; tiktoken counts them when a server sends none.

    >>> llm = OpenAILLM.from_settings(load_settings())                   # doctest: +SKIP
    >>> llm.complete([{"role": "user", "content": "Hi"}], model="gpt-4o-mini").text
    """

    provider = "openai"

    def __init__(
        self,
        client: Any,
        redactor: Redactor | None = None,
        *,
        async_client: Any = None,
        async_client_factory: Callable[[], Any] | None = None,
        endpoint: str = OPENAI_URL,
        timeout_s: float = 60.0,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        clock: Clock | None = None,
        async_sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.redactor = redactor or Redactor()
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        self.limiter = limiter
        self.clock: Clock = clock or SystemClock()
        self._async_sleep = async_sleep or asyncio.sleep
        self._rng = rng or random.Random()
        self._async_client = async_client
        self._async_factory = async_client_factory
        # An httpx2.AsyncClient belongs to the event loop it first ran on: one per loop.
        self._async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        http_client: Any = None,
        *,
        async_http_client: Any = None,
        clock: Clock | None = None,
        limiter: RateLimiter | None = None,
        async_sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
    ) -> OpenAILLM:
        import openai

        base_url = settings.openai_base_url or OPENAI_URL
        endpoint = endpoint_label(base_url)
        timeout = openai.Timeout(settings.llm_timeout_s, connect=min(settings.llm_timeout_s, 10.0))
        common: dict[str, Any] = {
            # Local servers (llama.cpp, vLLM) ignore the key, but the SDK insists on one.
            "api_key": settings.openai_api_key or "not-needed-for-local-servers",
            "base_url": base_url,
            "timeout": timeout,
            "max_retries": 0,
        }
        client = openai.OpenAI(**common, http_client=http_client)
        redactor = Redactor(
            [
                *(v for k, v in settings.environ.items() if is_secret_name(k)),
                *([settings.openai_api_key] if settings.openai_api_key else []),
            ]
        )
        return cls(
            client,
            redactor,
            async_client=(
                openai.AsyncOpenAI(**common, http_client=async_http_client)
                if async_http_client is not None
                else None
            ),
            async_client_factory=lambda: openai.AsyncOpenAI(**common),
            endpoint=endpoint,
            timeout_s=settings.llm_timeout_s,
            retry=RetryPolicy(max_retries=settings.llm_max_retries),
            limiter=limiter,
            clock=clock,
            async_sleep=async_sleep,
            rng=rng,
        )

    # ------------------------------------------------------------------ calls
    def _request(
        self,
        messages: Messages,
        model: str,
        temperature: float,
        seed: int | None,
        max_tokens: int | None,
        response_format: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": model,
            "messages": [dict(m) for m in messages],
            "temperature": temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        # Omitted rather than sent as null: some compatible servers reject nulls.
        if seed is not None:
            request["seed"] = seed
        if max_tokens is not None:
            request["max_tokens"] = max_tokens
        if response_format is not None:
            request["response_format"] = dict(response_format)
        return request

    def complete(
        self,
        messages: Messages,
        *,
        model: str,
        temperature: float = 0.7,
        seed: int | None = None,
        max_tokens: int | None = None,
        on_token: TokenCallback | None = None,
        response_format: Mapping[str, Any] | None = None,
    ) -> Completion:
        """One chat completion; ``response_format`` asks for structured output
        (e.g. ``{"type": "json_schema", "json_schema": {...}}``; read it with ``.json()``)."""
        call = ChatStream(model, messages, on_token)
        request = self._request(messages, model, temperature, seed, max_tokens, response_format)
        create = self.client.chat.completions.with_streaming_response.create
        while True:
            call.start_attempt(self.limiter.acquire() if self.limiter else 0.0)
            try:
                with create(**request) as response:
                    # Read to the end even after [DONE]: a body left unread closes the
                    # connection instead of returning it to the pool (a new TLS handshake
                    # per call).
                    for line in response.iter_lines():
                        call.feed(line)
                    call.end()
                return call.result()
            except CallbackError as exc:
                raise _callback_error(exc) from None
            except Exception as exc:  # every provider failure ends as one LLMError
                delay = self._after_failure(call, exc)
            self.clock.sleep(delay)

    async def acomplete(
        self,
        messages: Messages,
        *,
        model: str,
        temperature: float = 0.7,
        seed: int | None = None,
        max_tokens: int | None = None,
        on_token: TokenCallback | None = None,
        response_format: Mapping[str, Any] | None = None,
    ) -> Completion:
        """Like :meth:`complete`, over ``openai.AsyncOpenAI``: many calls in flight at once."""
        call = ChatStream(model, messages, on_token)
        request = self._request(messages, model, temperature, seed, max_tokens, response_format)
        create = self._async().chat.completions.with_streaming_response.create
        while True:
            call.start_attempt(await self.limiter.aacquire() if self.limiter else 0.0)
            try:
                async with create(**request) as response:
                    async for line in response.iter_lines():
                        call.feed(line)
                    call.end()
                return call.result()
            except CallbackError as exc:
                raise _callback_error(exc) from None
            except Exception as exc:  # every provider failure ends as one LLMError
                delay = self._after_failure(call, exc)
            await self._async_sleep(delay)

    def _async(self) -> Any:
        if self._async_client is not None:
            return self._async_client
        if self._async_factory is None:
            raise LLMError("this client has no async client: build it with from_settings()")
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            client = self._async_clients[loop] = self._async_factory()
        return client

    # --------------------------------------------------------------- failures
    def _after_failure(self, call: ChatStream, exc: Exception) -> float:
        """How long to wait before the next attempt; raises LLMError when giving up."""
        failure = self._classify(exc)
        if failure.rate_limited:
            call.rate_limited += 1
        retries_left = call.attempts <= self.retry.max_retries
        # Once part of the answer reached on_token, a retry would show it twice.
        if call.emitted and failure.retryable:
            failure.retryable = False
            failure.message += " (not retried: part of the answer had already streamed)"
        delay: float | None = None
        if failure.retryable and retries_left:
            delay = failure.retry_after
            if delay is None:
                delay = self.retry.delay(call.attempts, self._rng)
            elif delay > self.retry.max_retry_after_s:
                failure.message += (
                    f" (the provider asked to retry after {delay:.0f}s, longer than the "
                    f"{self.retry.max_retry_after_s:.0f}s this client waits)"
                )
                delay = None
        if delay is not None:
            return delay
        raise LLMError(
            self.redactor.text(
                f"{call.model} at {self.endpoint}: {failure.message} "
                f"(gave up after {call.attempts} attempt(s))"
            ),
            attempts=call.attempts,
            rate_limited=call.rate_limited,
            status_code=failure.status_code,
        ) from None  # the SDK's exception may quote secrets: never chain it

    def _classify(self, exc: Exception) -> _Failure:
        import openai

        if isinstance(exc, openai.APITimeoutError):
            return _Failure(f"timed out after {self.timeout_s:g}s", retryable=True)
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__
            detail = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
            return _Failure(f"connection failed{detail}"[:_MESSAGE_CHARS], retryable=True)
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            headers = dict(exc.response.headers.items())
            return _Failure(
                f"HTTP {status}: {_error_text(exc.body, exc.message)}"[:_MESSAGE_CHARS],
                retryable=status in _RETRY_STATUSES,
                status_code=status,
                retry_after=parse_retry_after(headers, self.clock)
                if status in (429, 503)
                else None,
                rate_limited=status == 429,
            )
        # Raised while reading the body, where the SDK no longer wraps transport errors.
        if isinstance(exc, httpx2.TimeoutException):
            return _Failure(f"timed out after {self.timeout_s:g}s", retryable=True)
        if isinstance(exc, httpx2.TransportError | ssl.SSLError):
            return _Failure(
                f"connection failed ({type(exc).__name__}: {exc})"[:_MESSAGE_CHARS], retryable=True
            )
        if isinstance(exc, StreamEventError):
            return _Failure(f"error in the stream: {exc}"[:_MESSAGE_CHARS], retryable=True)
        if isinstance(exc, StreamCutError):
            return _Failure(str(exc), retryable=True)
        if isinstance(exc, ValueError):  # json.JSONDecodeError from the SSE decoder
            return _Failure(
                f"malformed response (not the JSON a chat completion stream sends: {exc})"[
                    :_MESSAGE_CHARS
                ],
                retryable=True,
            )
        return _Failure(f"unexpected {type(exc).__name__}: {exc}"[:_MESSAGE_CHARS], False)

    # ---------------------------------------------------------------- closing
    def close(self) -> None:
        """Close the sync HTTP client (async ones close with :meth:`aclose`)."""
        self.client.close()

    async def aclose(self) -> None:
        client = self._async_client or self._async_clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()


def _error_text(body: object, fallback: str) -> str:
    """The provider's own error message, from ``{"error": {"message": ...}}`` if present."""
    if isinstance(body, Mapping):
        error = body.get("error", body)
        if isinstance(error, Mapping) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error
    return fallback


def _callback_error(exc: CallbackError) -> BaseException:
    cause = exc.__cause__
    return cause if cause is not None else exc
