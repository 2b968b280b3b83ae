"""Which field and variable names say "this holds a secret".

Used three ways: a dict key with a secret name has its string value replaced whole; an
environment variable with a secret name has its value learnt as a known secret; and in
free text, ``name=value`` / ``"name": "value"`` pairs whose name is secret lose the value.

Every alternative of :data:`SECRET_NAME` contains one of :data:`NAME_TRIGGERS` (lower
case) once the name is written as a JSON key or an assignment, so the scanner's literal
prefilter can never miss a secret-named field (``tests/test_redaction_names.py`` checks).
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["NAME_TRIGGERS", "SECRET_NAME", "is_secret_name"]

SECRET_NAME = re.compile(
    r"pass(?:word|wd|phrase)"
    r"|(?<![a-z])pass(?![a-z])"  # DB_PASS, pass; not compass, passenger, bypass
    r"|secret|token|jwt|bearer|cookie|signature|credential|authorization|dsn|webhook"
    r"|api[_-]?key|auth[_-]?header|private[_-]?key|access[_-]?key|session[_-]?key"
    r"|[_.\- ]key$"  # AZURE_OPENAI_KEY, x-api-key, stripe.key
    r"|[_.\-]pat$",  # GITHUB_PAT (personal access token)
    re.IGNORECASE,
)
# camelCase names ending in Key (accountKey, AccountKey): case matters here.
_CAMEL_KEY = re.compile(r"[a-z0-9]Key$")

# Names that match the pattern above but hold counts, ids or settings, not secrets.
_NOT_SECRET_NAME = re.compile(
    r"^(?:[a-z_]*_)?tokens(?:_[a-z_]*)?$"  # prompt_tokens, tokens_per_second, max_tokens
    r"|^(?:[a-z_]*_)?token_(?:count|type|usage|limit|budget|ids?)$"
    r"|^tokenizers?(?:_[a-z_]*)?$"
    r"|^(?:idempotency|primary|foreign|sort|partition|cache|dedupe?|row|group|lookup|public"
    r"|object|routing|shard|unique|stable|index|join|map|item)[_\-. ]?key$",
    re.IGNORECASE,
)

#: Lower-case literals the prefilter looks for: one of them is in every secret name as it
#: appears in JSON (``"name":``) or an assignment (``name=``, ``name:``).
NAME_TRIGGERS = (
    "password",
    "passwd",
    "passphrase",
    'pass"',
    "pass'",
    "pass=",
    "pass:",
    "pass =",
    "pass :",
    "secret",
    "token",
    "jwt",
    "bearer",
    "cookie",
    "signature",
    "credential",
    "authorization",
    "dsn",
    "webhook",
    "apikey",
    "api_key",
    "api-key",
    "auth_header",
    "auth-header",
    "authheader",
    'key"',
    "key'",
    "key=",
    "key:",
    "key =",
    "key :",
    'pat"',
    "pat'",
    "pat=",
    "pat:",
    "pat =",
    "pat :",
)


@lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Whether a field or variable name says it holds a secret (``api_key``, ``DB_PASS``).

    Case-insensitive. Counts (``prompt_tokens``), token types and ordinary ``*_key`` names
    (``idempotency_key``, ``primary_key``) are not secret names.
    """
    if _NOT_SECRET_NAME.search(name):
        return False
    return bool(SECRET_NAME.search(name) or _CAMEL_KEY.search(name))
