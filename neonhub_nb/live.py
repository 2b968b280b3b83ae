"""Live LLM client over the official ``openai`` SDK (OpenAI or any compatible server).

The HTTP client is injected (``http_client=``) so tests and fault injection reach the
SDK's transport; usage comes from the response when the server reports it and is
counted with tiktoken otherwise.
"""

from __future__ import annotations

from typing import Any

from .config import Settings
from .errors import LLMError
from .llm import Completion, Messages, TokenCallback
from .redact import Redactor
from .tokens import count_message_tokens, count_tokens

__all__ = ["OpenAILLM"]


class OpenAILLM:
    provider = "openai"

    def __init__(self, client: Any, redactor: Redactor | None = None) -> None:
        self.client = client
        self.redactor = redactor or Redactor()

    @classmethod
    def from_settings(cls, settings: Settings, http_client: Any = None) -> OpenAILLM:
        import openai

        client = openai.OpenAI(
            api_key=settings.openai_api_key or "not-needed-for-local-servers",
            base_url=settings.openai_base_url,
            timeout=60.0,
            max_retries=2,
            http_client=http_client,
        )
        return cls(client, Redactor.from_environ(settings.environ))

    def complete(
        self,
        messages: Messages,
        *,
        model: str,
        temperature: float = 0.7,
        seed: int | None = None,
        max_tokens: int | None = None,
        on_token: TokenCallback | None = None,
    ) -> Completion:
        import openai

        try:
            stream = self.client.chat.completions.create(
                model=model,
                messages=[dict(m) for m in messages],
                temperature=temperature,
                seed=seed,
                max_tokens=max_tokens,
                stream=True,
                stream_options={"include_usage": True},
            )
            chunks: list[str] = []
            usage = None
            finish = "stop"
            for event in stream:
                if getattr(event, "usage", None):
                    usage = event.usage
                for choice in event.choices or []:
                    piece = choice.delta.content or ""
                    if piece:
                        chunks.append(piece)
                        if on_token is not None:
                            on_token(piece)
                    if choice.finish_reason:
                        finish = choice.finish_reason
        except openai.OpenAIError as exc:
            raise LLMError(self.redactor.text(f"{type(exc).__name__}: {exc}")) from None
        text = "".join(chunks)
        if usage is not None:
            return Completion(text, model, usage.prompt_tokens, usage.completion_tokens, finish)
        return Completion(
            text, model, count_message_tokens(messages), count_tokens(text), finish, "counted"
        )
