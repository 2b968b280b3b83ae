"""Fake secrets of every format the product meets, with the variable a user holds each in.

For the redaction tests and the product-wide property test: loop over :data:`CORPUS`,
put ``entry.value`` in ``entry.env`` (or type it into an input), and check that nothing
of ``entry.secret`` reaches any sink (:func:`leaks`).

Every value is generated from a fixed seed with the right prefix, alphabet and length,
and carries ``fake``/``FAKE`` where the shape allows it. None is, or was ever, a real
credential; checksummed formats (GitHub, npm) have no valid checksum.

``detectable`` says whether the redactor must find the secret by its shape alone, with
no variable name nearby and without knowing the value. Formats no vendor documents
(LinkedIn, X user tokens, Twilio auth tokens...) are ``False``: they are caught when the
settings hold them (known values) or when a name says secret (``TOKEN=...``).
"""

from __future__ import annotations

import base64
import json
import random
import string
from dataclasses import dataclass
from urllib.parse import quote

__all__ = [
    "CORPUS",
    "CORPUS_ENV",
    "FakeSecret",
    "by_env",
    "fragments",
    "leaks",
]

_ALNUM = string.ascii_letters + string.digits
_URLSAFE = _ALNUM + "-_"
_HEX = "0123456789abcdef"
_B64 = _ALNUM + "+/"


@dataclass(frozen=True)
class FakeSecret:
    """One fake credential: its format, the variable holding it, what must never leak."""

    format: str
    env: str
    value: str  # what the variable holds
    secret: str  # the part that must never appear (the password of a URL, a key's body)
    detectable: bool  # found by shape alone, with no name nearby and not known

    @property
    def prose(self) -> str:
        """The secret inside a sentence, the way a user might type or paste it."""
        return f"Please use {self.value} for the launch campaign, thanks!"


def _gen(seed: str, alphabet: str, size: int, marker: str = "") -> str:
    rng = random.Random(seed)
    body = "".join(rng.choice(alphabet) for _ in range(size - len(marker)))
    return marker + body


def _discord_token() -> str:
    user_id = base64.b64encode(b"1100000000000000042").decode().rstrip("=")
    return f"{user_id}.{_gen('discord-ts', _URLSAFE, 6)}.{_gen('discord-hmac', _URLSAFE, 38)}"


def _jwt(seed: str, claims: dict[str, object]) -> str:
    def part(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    header = part({"alg": "HS256", "typ": "JWT"})
    return f"{header}.{part(claims)}.{_gen(seed, _URLSAFE, 43)}"


def _pem() -> tuple[str, str]:
    body = "\n".join(_gen(f"pem-{i}", _B64, 64, "FAKEKEY" if i == 0 else "") for i in range(12))
    return f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----", body


def _entries() -> list[FakeSecret]:
    def fmt(name: str, env: str, value: str, detectable: bool = True) -> FakeSecret:
        return FakeSecret(name, env, value, value, detectable)

    pem, pem_body = _pem()
    basic = base64.b64encode(b"fakeuser:Fake-Basic-Pass-42").decode()
    db_password = "Fake-Pa55word-9x"
    redis_password = "FakeRedisSecret77"
    return [
        # --- model providers
        fmt(
            "openai-project-key",
            "OPENAI_API_KEY",
            "sk-proj-fake" + _gen("oa1", _URLSAFE, 70) + "T3BlbkFJ" + _gen("oa2", _URLSAFE, 74),
        ),
        fmt(
            "openai-service-account-key",
            "OPENAI_SVCACCT_KEY",
            "sk-svcacct-fake" + _gen("oa3", _URLSAFE, 54) + "T3BlbkFJ" + _gen("oa4", _URLSAFE, 58),
        ),
        fmt(
            "openai-legacy-key",
            "OPENAI_LEGACY_KEY",
            "sk-" + _gen("oa5", _ALNUM, 20, "FAKE") + "T3BlbkFJ" + _gen("oa6", _ALNUM, 20),
        ),
        fmt(
            "anthropic-key",
            "ANTHROPIC_API_KEY",
            "sk-ant-api03-" + _gen("ant", _URLSAFE, 93, "fake") + "AA",
        ),
        fmt("azure-openai-key", "AZURE_OPENAI_API_KEY", _gen("azure", _HEX, 32, "fa4e"), False),
        fmt("google-api-key", "GOOGLE_API_KEY", "AIza" + _gen("aiza", _URLSAFE, 35, "Fake")),
        fmt("huggingface-token", "HF_TOKEN", "hf_" + _gen("hf", string.ascii_letters, 34, "fake")),
        fmt("groq-key", "GROQ_API_KEY", "gsk_" + _gen("groq", _ALNUM, 52, "fake")),
        fmt("replicate-token", "REPLICATE_API_TOKEN", "r8_" + _gen("r8", _ALNUM, 37, "Fake")),
        # --- code hosts and registries
        fmt("github-pat", "GITHUB_TOKEN", "ghp_" + _gen("ghp", _ALNUM, 36, "FAKE")),
        fmt("github-oauth", "GH_OAUTH_TOKEN", "gho_" + _gen("gho", _ALNUM, 36, "FAKE")),
        fmt("github-user-to-server", "GH_USER_TOKEN", "ghu_" + _gen("ghu", _ALNUM, 36, "FAKE")),
        fmt("github-app", "GITHUB_APP_TOKEN", "ghs_" + _gen("ghs", _ALNUM, 36, "FAKE")),
        fmt("github-refresh", "GH_REFRESH_TOKEN", "ghr_" + _gen("ghr", _ALNUM, 36, "FAKE")),
        fmt(
            "github-fine-grained",
            "GITHUB_PAT",
            "github_pat_" + _gen("gpat1", _ALNUM, 22, "FAKE") + "_" + _gen("gpat2", _ALNUM, 59),
        ),
        fmt("gitlab-pat", "GITLAB_TOKEN", "glpat-" + _gen("glpat", _URLSAFE, 20, "fake")),
        fmt(
            "aws-access-key-id",
            "AWS_ACCESS_KEY_ID",
            "AKIA" + _gen("akia", string.ascii_uppercase + "234567", 16, "FAKE"),
        ),
        fmt(
            "aws-temporary-key-id",
            "AWS_SESSION_KEY_ID",
            "ASIA" + _gen("asia", string.ascii_uppercase + "234567", 16, "FAKE"),
        ),
        fmt(
            "aws-secret-access-key",
            "AWS_SECRET_ACCESS_KEY",
            _gen("awssecret", _B64, 40, "fAkE"),
            False,
        ),
        fmt("npm-token", "NPM_TOKEN", "npm_" + _gen("npm", _ALNUM, 36, "FAKE")),
        fmt(
            "pypi-token", "PYPI_TOKEN", "pypi-AgEIcHlwaS5vcmc" + _gen("pypi", _URLSAFE, 70, "fake")
        ),
        # --- the 17 connectors
        fmt(
            "gmail-oauth-access-token",
            "GMAIL_ACCESS_TOKEN",
            "ya29.a0Fake" + _gen("ya29", _URLSAFE, 150),
        ),
        fmt(
            "google-oauth-refresh-token",
            "GOOGLE_REFRESH_TOKEN",
            "1//0fake" + _gen("1//", _URLSAFE, 96),
        ),
        fmt(
            "google-oauth-client-secret",
            "GOOGLE_CLIENT_SECRET",
            "GOCSPX-" + _gen("gocspx", _URLSAFE, 28, "Fake"),
        ),
        fmt("ga4-access-token", "GA4_ACCESS_TOKEN", "ya29.c.Fake" + _gen("ga4", _URLSAFE, 120)),
        fmt(
            "ga4-measurement-api-secret",
            "GA4_API_SECRET",
            _gen("ga4secret", _URLSAFE, 22, "Fk9"),
            False,
        ),
        fmt(
            "search-console-access-token",
            "GSC_ACCESS_TOKEN",
            "ya29.a0Fake" + _gen("gsc", _URLSAFE, 140),
        ),
        fmt(
            "youtube-access-token",
            "YOUTUBE_ACCESS_TOKEN",
            "ya29.a0Fake" + _gen("yt", _URLSAFE, 130),
        ),
        fmt(
            "google-ads-developer-token",
            "GOOGLE_ADS_DEVELOPER_TOKEN",
            _gen("adsdev", _URLSAFE, 22, "Fk7"),
            False,
        ),
        fmt("twilio-auth-token", "TWILIO_AUTH_TOKEN", _gen("twilio", _HEX, 32, "fa4e"), False),
        fmt(
            "twilio-api-key-secret",
            "TWILIO_API_KEY_SECRET",
            _gen("twiliosecret", _ALNUM, 32, "Fake"),
            False,
        ),
        fmt(
            "slack-bot-token",
            "SLACK_BOT_TOKEN",
            "xoxb-1234567890123-1234567890123-" + _gen("xoxb", _ALNUM, 24, "Fake"),
        ),
        fmt(
            "slack-user-token",
            "SLACK_USER_TOKEN",
            "xoxp-1234567890-1234567890-1234567890123-" + _gen("xoxp", _HEX, 32, "fa4e"),
        ),
        fmt(
            "slack-app-token",
            "SLACK_APP_TOKEN",
            "xapp-1-A0FAKE00000-1234567890123-" + _gen("xapp", _HEX, 64, "fa4e"),
        ),
        FakeSecret(
            "slack-webhook-url",
            "SLACK_WEBHOOK_URL",
            "https://hooks.slack.com/services/T0FAKE000/B0FAKE000/" + _gen("hook", _ALNUM, 24),
            "T0FAKE000/B0FAKE000/" + _gen("hook", _ALNUM, 24),
            True,
        ),
        fmt(
            "stripe-secret-key", "STRIPE_SECRET_KEY", "sk_live_51Fake" + _gen("stripe", _ALNUM, 85)
        ),
        fmt(
            "stripe-restricted-key",
            "STRIPE_RESTRICTED_KEY",
            "rk_live_51Fake" + _gen("rk", _ALNUM, 85),
        ),
        fmt(
            "stripe-webhook-secret",
            "STRIPE_WEBHOOK_SECRET",
            "whsec_" + _gen("whsec", _ALNUM, 32, "Fake"),
        ),
        fmt(
            "whatsapp-access-token",
            "WHATSAPP_ACCESS_TOKEN",
            "EAAFake" + _gen("wa", _ALNUM, 180) + "ZDZD",
        ),
        fmt(
            "facebook-page-token",
            "FACEBOOK_PAGE_ACCESS_TOKEN",
            "EAAGFake" + _gen("fb", _ALNUM, 190),
        ),
        fmt(
            "instagram-graph-token", "INSTAGRAM_ACCESS_TOKEN", "EAAJFake" + _gen("ig", _ALNUM, 170)
        ),
        fmt(
            "instagram-login-token",
            "INSTAGRAM_LOGIN_TOKEN",
            _gen("iglogin", _ALNUM, 180, "IGFake"),
            False,
        ),
        fmt(
            "linkedin-access-token",
            "LINKEDIN_ACCESS_TOKEN",
            _gen("li", _URLSAFE, 350, "AQVFake"),
            False,
        ),
        fmt(
            "x-app-bearer-token",
            "X_BEARER_TOKEN",
            "A" * 22 + "Fake" + _gen("xbearer", _ALNUM, 40) + "%3D" + _gen("xbearer2", _ALNUM, 50),
        ),
        fmt("x-user-access-token", "X_ACCESS_TOKEN", _gen("xuser", _URLSAFE, 91, "Fake"), False),
        fmt(
            "shopify-admin-token",
            "SHOPIFY_ACCESS_TOKEN",
            "shpat_" + _gen("shpat", _HEX, 32, "fa4e"),
        ),
        fmt("discord-bot-token", "DISCORD_BOT_TOKEN", _discord_token()),
        FakeSecret(
            "discord-webhook-url",
            "DISCORD_WEBHOOK_URL",
            "https://discord.com/api/webhooks/1100000000000000042/"
            + _gen("dwh", _URLSAFE, 68, "Fake"),
            _gen("dwh", _URLSAFE, 68, "Fake"),
            True,
        ),
        fmt(
            "reddit-access-token",
            "REDDIT_ACCESS_TOKEN",
            _jwt("reddit", {"sub": "user-fake", "aud": "reddit", "exp": 1893456000}),
        ),
        fmt(
            "reddit-legacy-token",
            "REDDIT_LEGACY_TOKEN",
            "1234567890-" + _gen("redditold", _URLSAFE, 30, "Fake"),
            False,
        ),
        fmt("tiktok-access-token", "TIKTOK_ACCESS_TOKEN", "act.Fake" + _gen("tiktok", _ALNUM, 60)),
        fmt(
            "tiktok-refresh-token", "TIKTOK_REFRESH_TOKEN", "rft.Fake" + _gen("tiktokr", _ALNUM, 60)
        ),
        # --- generic shapes
        fmt("jwt", "SESSION_JWT", _jwt("session", {"sub": "fake-user-42", "role": "admin"})),
        FakeSecret(
            "postgres-url-password",
            "DATABASE_URL",
            f"postgresql://neonhub:{db_password}@db.internal:5432/neonhub",
            db_password,
            True,
        ),
        FakeSecret(
            "redis-url-password",
            "REDIS_URL",
            f"redis://:{redis_password}@cache.internal:6379/0",
            redis_password,
            True,
        ),
        FakeSecret("private-key-pem", "GOOGLE_PRIVATE_KEY", pem, pem_body, True),
        FakeSecret("http-basic-credentials", "PROXY_AUTHORIZATION", f"Basic {basic}", basic, True),
        fmt(
            "generic-app-secret",
            "APP_SECRET_KEY",
            _gen("appsecret", _ALNUM + "!@#%^*", 40, "Fake"),
            False,
        ),
    ]


CORPUS: tuple[FakeSecret, ...] = tuple(_entries())

#: Every corpus value in the variable a user would hold it in.
CORPUS_ENV: dict[str, str] = {entry.env: entry.value for entry in CORPUS}


def by_env(name: str) -> FakeSecret:
    """The corpus entry held in variable ``name``."""
    return next(entry for entry in CORPUS if entry.env == name)


def fragments(secret: str, size: int = 12) -> list[str]:
    """Every ``size``-character window of ``secret`` (the whole of a shorter one)."""
    if len(secret) <= size:
        return [secret]
    return [secret[i : i + size] for i in range(len(secret) - size + 1)]


def leaks(output: str, entry: FakeSecret, size: int = 12) -> list[str]:
    """The fragments of ``entry.secret`` (raw or URL-encoded) that appear in ``output``."""
    found = [f for f in fragments(entry.secret, size) if f in output]
    encoded = quote(entry.secret, safe="")
    if encoded != entry.secret:
        found += [f for f in fragments(encoded, size) if f in output]
    return found
