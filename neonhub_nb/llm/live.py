"""Live LLM client over the official ``openai`` SDK (OpenAI or any compatible server).

What a flaky or unusual provider meets here:

- a timeout per attempt (connect and each read of the answer);
- retries only of what can succeed on retry (:mod:`neonhub_nb.llmretry`: tenacity's loop,
  jittered backoff, ``Retry-After`` honoured), never once part of the answer streamed;
- request fields a server does not know: after a 400 naming an optional field
  (``stream_options``, ``seed``) the request is sent once more without it, and this client
  leaves it out for its endpoint from then on (``NEONHUB_LLM_OMIT_FIELDS`` does it up front);
- answers decoded from raw bytes whatever the dialect (:mod:`neonhub_nb.chatstream`):
  split characters, JSON bodies instead of streams, errors inside streams;
- a client-side rate limiter per provider (:mod:`neonhub_nb.ratelimit`);
- one :class:`~neonhub_nb.errors.LLMError` (or its subclass) when it gives up, saying what
  happened and how often it tried, with secrets redacted. Nothing else escapes.

The SDK's own retries are off (``max_retries=0``) so that every attempt is counted, every
wait uses the injected clock, and a stream is never retried once part of the draft has
been shown. The HTTP clients are injected (``http_client=`` / ``async_http_client=``):
openai 3.x builds on ``httpx2``, so patching ``httpx`` would not reach it.
"""

from __future__ import annotations

import asyncio
import random
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ..clock import Clock, SystemClock
from ..config import OMITTABLE_FIELDS, Settings
from ..errors import LLMError
from ..redact import Redactor
from . import Completion, Messages, TokenCallback
from .ratelimit import RateLimiter
from .retry import (
    AttemptFailedError,
    Failure,
    ModelRetryPolicy,
    aretrying,
    classify,
    retrying,
)
from .stream import CallbackError, ChatStream

__all__ = [
    "ModelRetryPolicy",
    "OpenAILLM",
    "endpoint_label",
]

OPENAI_URL = "https://api.openai.com/v1"


def endpoint_label(base_url: str | None) -> str:
    """``scheme://host[:port]/path`` of an endpoint, without credentials or query."""
    parts = urlsplit(base_url or OPENAI_URL)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"


class OpenAILLM:
    """Chat completions through ``openai.OpenAI`` (sync) and ``openai.AsyncOpenAI`` (async).

    Asks for a stream with usage (``stream_options.include_usage``), so drafts appear as
    they are written and the server's token counts are recorded; tiktoken counts them when
    a server sends none. Errors are :class:`~neonhub_nb.errors.LLMError` (filtered answers
    :class:`~neonhub_nb.errors.ContentFilteredError`, tool calls and aborted generations
    :class:`~neonhub_nb.errors.IncompleteAnswerError`).

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
        retry: ModelRetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        clock: Clock | None = None,
        async_sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
        omit_fields: tuple[str, ...] = (),
    ) -> None:
        self.client = client
        self.redactor = redactor or Redactor()
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self.retry = retry or ModelRetryPolicy()
        self.limiter = limiter
        self.clock: Clock = clock or SystemClock()
        self._async_sleep = async_sleep or asyncio.sleep
        self._rng = rng or random.Random()
        self._async_client = async_client
        self._async_factory = async_client_factory
        # Optional fields this endpoint does without: configured, or learned from a 400.
        # Kept per client (one client per endpoint), never in module state.
        self.omitted_fields: set[str] = set(omit_fields)
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
        redactor: Redactor | None = None,
    ) -> OpenAILLM:
        """A client for the settings' endpoint, key and limits.

        ``redactor`` cleans every error message (providers quote the ``Authorization``
        header and the prompt); default: one that knows the settings' credentials
        (the runtime hands in its shared one, ``Runtime.redactor``).
        """
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
        if redactor is None:
            redactor = Redactor.from_environ(
                {**settings.environ, "OPENAI_API_KEY": settings.openai_api_key or ""},
                secret_names=("OPENAI_API_KEY",),
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
            retry=ModelRetryPolicy(max_retries=settings.llm_max_retries),
            limiter=limiter,
            clock=clock,
            async_sleep=async_sleep,
            rng=rng,
            omit_fields=settings.llm_omit_fields,
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

    def _shape(self, call: ChatStream, request: dict[str, Any]) -> dict[str, Any]:
        """The request as this endpoint takes it; the call remembers what was left out."""
        present = [f for f in OMITTABLE_FIELDS if f in request]
        left_out = tuple(f for f in present if f in self.omitted_fields)
        call.omitted_fields = left_out
        call.sent_optional = tuple(f for f in present if f not in left_out)
        return {k: v for k, v in request.items() if k not in left_out} if left_out else request

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

        def attempt() -> Completion:
            call.start_attempt(self.limiter.acquire() if self.limiter else 0.0)
            try:
                with create(**self._shape(call, request)) as response:
                    call.content_type = response.headers.get("content-type", "")
                    # Read to the end even after [DONE]: a body left unread closes the
                    # connection instead of returning it to the pool (a new TLS handshake
                    # per call).
                    for data in response.iter_bytes():
                        call.feed(data)
                    call.end()
                return call.result()
            except CallbackError:
                raise
            except Exception as exc:  # every provider failure ends as one LLMError
                raise self._failed(call, exc) from None

        while True:
            loop = retrying(self.retry, self._rng, self.clock.sleep, call.count_wait)
            try:
                return loop(attempt)
            except CallbackError as exc:
                raise _callback_error(exc) from None
            except AttemptFailedError as failed:
                failure = failed.failure
            if not self._fall_back(failure):
                break
        raise self._give_up(call, failure) from None

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

        async def attempt() -> Completion:
            call.start_attempt(await self.limiter.aacquire() if self.limiter else 0.0)
            try:
                async with create(**self._shape(call, request)) as response:
                    call.content_type = response.headers.get("content-type", "")
                    async for data in response.iter_bytes():
                        call.feed(data)
                    call.end()
                return call.result()
            except CallbackError:
                raise
            except Exception as exc:  # every provider failure ends as one LLMError
                raise self._failed(call, exc) from None

        while True:
            loop = aretrying(self.retry, self._rng, self._async_sleep, call.count_wait)
            try:
                return await loop(attempt)
            except CallbackError as exc:
                raise _callback_error(exc) from None
            except AttemptFailedError as failed:
                failure = failed.failure
            if not self._fall_back(failure):
                break
        raise self._give_up(call, failure) from None

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
    def _failed(self, call: ChatStream, exc: Exception) -> AttemptFailedError:
        """One attempt's exception, classified and counted, for the retry loop."""
        failure = classify(
            exc,
            timeout_s=self.timeout_s,
            clock=self.clock,
            optional=call.sent_optional,
            redactor=self.redactor,
        )
        if failure.rate_limited:
            call.rate_limited += 1
        # Once part of the answer reached on_token, a retry would show it twice.
        if call.emitted and failure.retryable:
            failure.retryable = False
            failure.message += " (not retried: part of the answer had already streamed)"
        return AttemptFailedError(failure)

    def _fall_back(self, failure: Failure) -> bool:
        """Whether to send the request once more without the field the server refused."""
        name = failure.unknown_field
        if name is None or name in self.omitted_fields:
            return False
        self.omitted_fields.add(name)
        return True

    def _give_up(self, call: ChatStream, failure: Failure) -> LLMError:
        message = failure.message
        if failure.retry_after is not None and failure.retry_after > self.retry.max_retry_after_s:
            message += (
                f" (the provider asked to retry after {failure.retry_after:.0f}s, longer than "
                f"the {self.retry.max_retry_after_s:.0f}s this client waits)"
            )
        # The SDK's exception may quote secrets: it is never chained (raised by the caller
        # outside any except block).
        return failure.error(
            self.redactor.text(
                f"{call.model} at {self.endpoint}: {message} "
                f"(gave up after {call.attempts} attempt(s))"
            ),
            attempts=call.attempts,
            rate_limited=call.rate_limited,
            retry_wait_s=call.retry_wait_s,
        )

    # ---------------------------------------------------------------- closing
    def close(self) -> None:
        """Close the sync HTTP client (async ones close with :meth:`aclose`)."""
        self.client.close()

    async def aclose(self) -> None:
        client = self._async_client or self._async_clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()


def _callback_error(exc: CallbackError) -> BaseException:
    cause = exc.__cause__
    return cause if cause is not None else exc
