"""What the redactor knows: token formats, generic credential shapes, secret-looking names.

Every rule starts at one of its literal *triggers*; the scanner finds all triggers of all
rules in one Aho-Corasick pass and runs a rule's regex only where its trigger occurs, so
the cost of a text with no secret is one automaton pass whatever the number of rules.
Patterns are deliberately a little looser than the vendors' exact formats (any length
above a minimum): redacting a few extra characters is harmless, missing a key is not.

Each rule names its source: the vendor's documentation, or the public scanner rule it
follows (gitleaks ``cmd/generate/config/rules/*.go``, nosey parker
``crates/noseyparker/data/default/rules/*.yml``, detect-secrets plugins). The vendors
whose tokens have no documented shape (LinkedIn, X user tokens, Reddit's older tokens,
Instagram Login tokens, Twilio auth tokens, Google Ads developer tokens) are caught by
name (``*_TOKEN=...``, ``"access_token": ...``, ``Authorization: ...``) and by the
settings' known values; see ``docs/redaction.md``.
"""

from __future__ import annotations

import re

from .kinds import Check, StructuralRule, TokenRule
from .names import NAME_TRIGGERS, is_secret_name
from .shapes import basic_credentials, credential_like, has_mixed_classes, looks_random, token_like

__all__ = [
    "CONTEXT_RULES",
    "DISCORD_ANCHOR",
    "FORMAT_RULES",
    "LEAF_SEPARATOR",
    "NEARBY_TRIGGERS",
    "NEARBY_WINDOW",
    "URL_USERINFO",
    "discord_rule",
]

#: What joins the strings of a nested value for one scan (Redactor.redact): no rule's
#: match can cross it (no token class, no \s run, and private-key blocks stop at \x00).
LEAF_SEPARATOR = "\n\x00\n"

#: "://" followed by an authority holding "@": where URL credentials can be.
URL_USERINFO = r"://[^\s/?#@\"'<>\x00]*@"

# Not preceded by a letter or digit: "sk-..." but not "task-...".
_B = r"(?<![A-Za-z0-9])"


# --------------------------------------------------------------------------- checks
def _tail_mixed(prefix_len: int) -> Check:
    return lambda _text, m: has_mixed_classes(m.group()[prefix_len:])


def _bearer_value(_text: str, m: re.Match[str]) -> bool:
    return token_like(m.group("s"))


def _basic_value(_text: str, m: re.Match[str]) -> bool:
    return basic_credentials(m.group("s"))


def _url_password(_text: str, m: re.Match[str]) -> bool:
    # A password already masked (``user:***@``, as the team store's URLs print) stays as
    # it is, so one URL reads the same in every message.
    return bool(m.group("s").strip("*"))


def _url_user_token(_text: str, m: re.Match[str]) -> bool:
    return looks_random(m.group("s"), 20)


_IDENT = re.compile(r"[A-Za-z0-9_.\-]*\Z")
_IDENT_WORDS = re.compile(r"(?:[A-Za-z0-9_.\-]+ ){0,2}[A-Za-z0-9_.\-]*\Z")


def _secret_assignment(text: str, m: re.Match[str]) -> bool:
    """``name=value`` whose whole name (looked up before the trigger) says secret."""
    head = text[max(0, m.start() - 64) : m.start()]
    name = m.group("name")
    tight = _IDENT.search(head)
    words = _IDENT_WORDS.search(head)
    names = {(tight.group() if tight else "") + name, (words.group() if words else "") + name}
    if not any(is_secret_name(n.strip(" .-")) for n in names):
        return False
    if m.start("s_bare") < 0:
        return True  # a quoted value: JSON, Python, YAML
    value = m.group("s_bare")
    # `name=value` is configuration; `Name: value` may be prose, so ask for a credential.
    return m.group("op") != ":" or credential_like(value)


# ---------------------------------------------------------------------------- rules
FORMAT_RULES: tuple[TokenRule, ...] = (
    # OpenAI sk-proj-/sk-svcacct-/sk-admin-/legacy sk-, Anthropic sk-ant-api03-/-admin01-,
    # and the sk- keys of OpenAI-compatible servers.
    # Sources: gitleaks openai.go (openai-api-key), anthropic.go (anthropic-api-key).
    TokenRule(
        "sk-key",
        ("sk-",),
        _B + r"sk-[A-Za-z0-9_\-]{20,}",
        "gitleaks openai.go, anthropic.go",
        check=_tail_mixed(3),
    ),
    # Stripe secret/restricted/publishable keys and webhook signing secrets.
    # Sources: https://docs.stripe.com/keys ; gitleaks stripe.go ; gitlab-org/gitlab#458019.
    TokenRule(
        "stripe-key",
        ("sk_", "rk_", "pk_"),
        _B + r"[srp]k_(?:live|test)_[A-Za-z0-9]{10,}",
        "https://docs.stripe.com/keys",
    ),
    TokenRule(
        "stripe-webhook-secret",
        ("whsec_",),
        r"whsec_[A-Za-z0-9+/=]{16,}",
        # Stripe publishes no pattern; the Dashboard shows the endpoint secret as whsec_...
        "Stripe Dashboard signing secret, e.g. https://stubkit-docs.pages.dev/webhooks/stripe",
    ),
    # Slack bot/user/app/config tokens and incoming-webhook URLs.
    # Sources: https://api.slack.com/authentication/token-types ; gitleaks slack.go.
    TokenRule(
        "slack-token",
        ("xox",),
        r"xox(?:e\.xox)?[a-z]-[A-Za-z0-9\-]{8,}",
        "https://api.slack.com/authentication/token-types",
    ),
    TokenRule(
        "slack-app-token",
        ("xapp-",),
        r"xapp-\d-[A-Za-z0-9\-]{10,}",
        "gitleaks slack.go (slack-app-token)",
    ),
    TokenRule(
        "slack-webhook",
        ("hooks.slack.com/",),
        r"hooks\.slack\.com/(?P<s>(?:services|workflows|triggers)/[A-Za-z0-9_/\-]{8,})",
        "https://api.slack.com/messaging/webhooks",
    ),
    # Discord webhook URLs carry their token in the path.
    TokenRule(
        "discord-webhook",
        ("discord.com/api/webhooks/", "discordapp.com/api/webhooks/"),
        r"discord(?:app)?\.com/api/webhooks/\d+/(?P<s>[A-Za-z0-9_\-]{20,})",
        "https://discord.com/developers/docs/resources/webhook",
    ),
    # GitHub classic and fine-grained tokens.
    # Sources: https://github.blog/changelog/2021-03-31-authentication-token-format-updates-
    # are-generally-available ; gitleaks github.go.
    TokenRule(
        "github-token",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
        r"gh[pousr]_[A-Za-z0-9_]{30,255}",
        "https://github.blog/changelog/2021-03-31-authentication-token-format-updates-are-generally-available",
    ),
    TokenRule(
        "github-fine-grained-pat",
        ("github_pat_",),
        r"github_pat_[A-Za-z0-9_]{40,255}",
        "gitleaks github.go (github-fine-grained-pat)",
    ),
    # GitLab personal, deploy, runner and pipeline-trigger tokens.
    # Sources: https://docs.gitlab.com/ee/security/tokens/#token-prefixes ; gitleaks gitlab.go.
    TokenRule(
        "gitlab-token",
        ("glpat-", "gldt-", "glrt-", "glptt-"),
        r"gl(?:pat|dt|rt|ptt)-[A-Za-z0-9_.\-]{20,}",
        "https://docs.gitlab.com/ee/security/tokens/#token-prefixes",
    ),
    # Google API keys (YouTube, Gemini...), OAuth access tokens (Gmail, GA4, Search
    # Console, Google Ads, YouTube), refresh tokens and OAuth client secrets.
    # Sources: nosey parker google.yml (np-google-02, -04, -05) ; gitleaks gcp.go.
    TokenRule(
        "google-api-key",
        ("AIza",),
        r"AIza[A-Za-z0-9_\-]{30,}",
        "nosey parker google.yml np-google-05",
    ),
    TokenRule(
        "google-oauth-access-token",
        ("ya29.",),
        r"ya29\.[A-Za-z0-9_.\-]{16,}",
        "nosey parker google.yml np-google-04",
    ),
    TokenRule(
        "google-oauth-refresh-token",
        ("1//",),
        r"1//[A-Za-z0-9_\-]{20,}",
        "nosey parker google.yml np-google-04 (refresh_token example)",
    ),
    TokenRule(
        "google-oauth-client-secret",
        ("GOCSPX-",),
        r"GOCSPX-[A-Za-z0-9_\-]{20,}",
        "nosey parker google.yml np-google-02",
    ),
    # AWS access key ids (the secret access key has no prefix: caught by name).
    # Sources: gitleaks aws.go ; https://docs.aws.amazon.com/IAM/latest/UserGuide/
    # reference_identifiers.html#identifiers-unique-ids.
    TokenRule(
        "aws-access-key-id",
        ("AKIA", "ASIA"),
        r"(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])",
        "gitleaks aws.go",
    ),
    # Meta Graph access tokens (Facebook pages, Instagram via Facebook Login, WhatsApp
    # Cloud API). Meta documents no format; every user, page and system-user token
    # starts EAA. Source: nosey parker facebook.yml np.facebook.2 (EAACEdEose0cBA...),
    # gitleaks facebook.go (facebook-page-access-token, EAA[MC]...).
    TokenRule(
        "meta-access-token",
        ("EAA",),
        _B + r"EAA[A-Za-z0-9]{20,}",
        "nosey parker np.facebook.2",
        check=_tail_mixed(3),
    ),
    # Shopify Admin API, custom app, private app tokens and shared secrets.
    # Source: gitleaks shopify.go.
    TokenRule(
        "shopify-token",
        ("shpat_", "shpca_", "shppa_", "shpss_"),
        r"shp(?:at|ca|pa|ss)_[A-Za-z0-9]{20,}",
        "gitleaks shopify.go",
    ),
    # Hugging Face user access tokens. Sources: https://huggingface.co/docs/hub/security-
    # tokens ; gitleaks huggingface.go.
    TokenRule("huggingface-token", ("hf_",), r"hf_[A-Za-z0-9]{30,}", "gitleaks huggingface.go"),
    # Groq. Source: gitleaks groq.go (https://console.groq.com/docs/openai).
    TokenRule("groq-api-key", ("gsk_",), r"gsk_[A-Za-z0-9]{40,}", "gitleaks groq.go"),
    # Replicate. Source: betterleaks replicate.go (replicate-api-token, r8_ + 37).
    TokenRule("replicate-api-token", ("r8_",), r"r8_[A-Za-z0-9]{30,}", "betterleaks replicate.go"),
    # npm. Source: gitleaks npm.go.
    TokenRule("npm-token", ("npm_",), r"npm_[A-Za-z0-9]{30,}", "gitleaks npm.go"),
    # PyPI upload tokens (macaroons for pypi.org). Source: gitleaks pypi.go.
    TokenRule("pypi-token", ("pypi-AgEI",), r"pypi-AgEI[A-Za-z0-9_\-]{50,}", "gitleaks pypi.go"),
    # TikTok user access and refresh tokens. Source: the example response in
    # https://developers.tiktok.com/doc/oauth-user-access-token-management
    # ("act.example12345Example12345Example", "rft.example...").
    TokenRule(
        "tiktok-token",
        ("act.", "rft."),
        _B + r"(?:act|rft)\.[A-Za-z0-9]{20,}",
        "https://developers.tiktok.com/doc/oauth-user-access-token-management",
        check=_tail_mixed(4),
    ),
    # X (Twitter) app-only bearer tokens: 22 "A"s then URL-encoded base64.
    # Source: detect-secrets Twitter plugin (as in BerriAI/litellm
    # enterprise_callbacks/secrets_plugins/twitter.py, "A{22}[a-zA-Z0-9%]{80,100}").
    TokenRule(
        "x-app-bearer-token",
        ("AAAAAAAAAAAAAAAAAAAA",),
        _B + r"A{20,}[A-Za-z0-9%]{30,}",
        "detect-secrets twitter plugin (Twitter Bearer Token)",
    ),
    # JSON Web Tokens (header.payload.signature; JWE has five parts): Reddit and many
    # session tokens. Sources: RFC 7519 section 3 ; gitleaks jwt.go.
    TokenRule(
        "jwt",
        ("eyJ",),
        r"eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{2,}(?:\.[A-Za-z0-9_\-]*){1,3}",
        "RFC 7519 ; gitleaks jwt.go",
    ),
    # PEM private keys (RSA, EC, OpenSSH, PKCS#8, PGP blocks), also with \n escaped as in
    # JSON; a block with no END line is redacted to the end of the text.
    # Sources: RFC 7468 ; gitleaks privatekey.go.
    TokenRule(
        "private-key-block",
        ("-----BEGIN",),
        r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
        r"(?:-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|(?=\x00)|\Z)",
        "RFC 7468 ; gitleaks privatekey.go",
    ),
)

CONTEXT_RULES: tuple[TokenRule, ...] = (
    # scheme://user:password@host (postgresql://, redis://, https://...): the password.
    # Source: RFC 3986 section 3.2.1 (userinfo). Anchored on "://...@", not on "://":
    # every tool call carries a URL, few carry credentials.
    TokenRule(
        "url-password",
        (),
        r"://(?P<user>[^\s/?#@:'\"<>]*):(?P<s>[^\s/?#'\"<>]+)@",
        "RFC 3986 section 3.2.1",
        check=_url_password,
        anchor=URL_USERINFO,
    ),
    # https://TOKEN@host: a random-looking user part is a token.
    TokenRule(
        "url-token-user",
        (),
        r"://(?P<s>[A-Za-z0-9_.~%\-]{20,})@",
        "RFC 3986 section 3.2.1",
        check=_url_user_token,
        anchor=URL_USERINFO,
    ),
    # Authorization / Proxy-Authorization headers, whatever the scheme, in HTTP dumps,
    # JSON and Python reprs. Source: RFC 9110 section 11.6.2.
    TokenRule(
        "authorization-header",
        ("authorization",),
        r"(?i:authorization)\\?[\"']?\s*[:=]\s*\\?[\"']?"
        r"(?:(?i:bearer|basic|bot|token|digest|apikey|api-key|key|sso-key|negotiate)\s+)?"
        r"(?P<s>[^\s\"',;\\\x00]+)",
        "RFC 9110 section 11.6.2",
        ignore_case=True,
    ),
    # "Bearer <token>" anywhere. Source: RFC 6750 section 2.1 (b64token).
    TokenRule(
        "bearer-token",
        ("bearer",),
        r"(?i:bearer)\s+(?P<s>[A-Za-z0-9._~+/=\-]{8,})",
        "RFC 6750 section 2.1",
        ignore_case=True,
        check=_bearer_value,
    ),
    # "Basic <base64(user:password)>". Source: RFC 7617 section 2.
    TokenRule(
        "basic-credentials",
        ("basic",),
        r"(?i:basic)\s+(?P<s>[A-Za-z0-9+/]{8,}={0,2})",
        "RFC 7617 section 2",
        ignore_case=True,
        check=_basic_value,
    ),
    # name=value, name: value, "name": "value", name => 'value' where the name says
    # secret (is_secret_name). Source: nosey parker generic.yml (Generic Password).
    TokenRule(
        "secret-assignment",
        NAME_TRIGGERS,
        r"(?P<name>[A-Za-z0-9_.\-]*)\\?[\"']?\s*(?P<op>:=|=>|=|:)\s*"
        r"(?:\\?\"(?P<s_dq>(?:[^\"\\\n\x00]|\\[^\"\n])+)\\?\"|'(?P<s_sq>[^'\n\x00]+)'"
        r"|(?P<s_bare>[^\s\"',;&<>()\[\]{}\\\x00]+))",
        "nosey parker generic.yml (Generic Password)",
        ignore_case=True,
        check=_secret_assignment,
    ),
)

#: Words after which a random-looking string is taken for a secret ("API key: 3f9a...").
NEARBY_TRIGGERS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "api key",
    "apikey",
    "api_key",
    "api-key",
    "credential",
    "private key",
    "access key",
    "jwt",
)
NEARBY_WINDOW = 48

# Discord bot tokens: base64 of the bot's numeric id (starts M, N or O), a dot, six
# characters of timestamp, a dot, an HMAC of 27 (older) to 38 characters.
# Sources: https://discord.com/developers/docs/reference#authentication ; detect-secrets
# discord.py ("[MNO][a-zA-Z\d_-]{23,25}\.[a-zA-Z\d_-]{6}\.[a-zA-Z\d_-]{27}").
DISCORD_ANCHOR = r"\.[A-Za-z0-9_\-]{6}\."


def discord_rule() -> StructuralRule:
    """The Discord bot token rule (a fresh instance: compiled patterns are shared)."""
    return StructuralRule(
        "discord-bot-token",
        DISCORD_ANCHOR,
        _B
        + r"[MNO][A-Za-z0-9_\-]{23,27}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,40}(?![A-Za-z0-9_\-])",
        (24, 28),  # the first part: M, N or O and 23 to 27 more
        "detect-secrets discord.py ; https://discord.com/developers/docs/reference#authentication",
    )
