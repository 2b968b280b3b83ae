"""Secret names: which count, and the prefilter sees every one of them."""

from __future__ import annotations

import json

import pytest

from neonhub_nb.redact import REDACTED, Redactor, is_secret_name
from neonhub_nb.redaction.engine import Scanner

from .secrets_corpus import CORPUS

SECRET_NAMES = [
    "api_key", "apiKey", "X-Api-Key", "Authorization", "Proxy-Authorization", "password",
    "DB_PASS", "pass", "passwd", "passphrase", "client_secret", "refresh_token",
    "access_token", "SESSION_JWT", "GITHUB_PAT", "AZURE_OPENAI_KEY", "stripe.key",
    "AccountKey", "subscriptionKey", "private_key", "aws_secret_access_key", "cookie",
    "Set-Cookie", "x-hub-signature", "SENTRY_DSN", "SLACK_WEBHOOK_URL", "auth_header",
    "bearer", "API Key", "credentials", "next_token", "session_key",
]  # fmt: skip
ORDINARY_NAMES = [
    "prompt_tokens", "completion_tokens", "max_tokens", "total_tokens", "tokens_per_second",
    "token_count", "token_type", "tokenizer", "topic", "keyword", "primary_keyword",
    "keywords", "idempotency_key", "primary_key", "sort_key", "public_key", "compass",
    "passenger", "bypass_cache", "author", "authority", "monkey", "key", "PWD", "OLDPWD",
    "GIT_ASKPASS", "refresh", "refreshed_at", "path", "stable_key",
]  # fmt: skip


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ORDINARY_NAMES)
def test_ordinary_names(name: str) -> None:
    assert not is_secret_name(name)


def test_every_corpus_variable_but_urls_has_a_secret_name() -> None:
    # URL-valued variables give their password instead (see test_redaction_formats).
    unnamed = [e.env for e in CORPUS if not is_secret_name(e.env)]
    assert unnamed == ["DATABASE_URL", "REDIS_URL"]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_the_prefilter_never_misses_a_secret_named_field(name: str) -> None:
    # The fast path returns a dict untouched when its JSON has no trigger; a secret-named
    # key must always be a trigger, or its (formatless) value would pass.
    scanner = Scanner()
    for document in ({name: "x"}, {"outer": [{name: "x"}]}):
        assert scanner.may_contain(json.dumps(document).encode()), document
    for text in (f"{name}=x", f"{name}: x", f"{name} = x", f"{name.upper()}=x"):
        assert scanner.may_contain(text.encode()), text
    clean, paths = Redactor().redact({name: "plain value", "other": "kept"}, "in")
    assert clean == {name: REDACTED, "other": "kept"} and paths == [f"in.{name}"]
