"""Every fake secret of the corpus is removed wherever it is put; near-misses are left alone."""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

import pytest

from neonhub_nb.redact import REDACTED, Redactor
from neonhub_nb.redaction.rules import CONTEXT_RULES, FORMAT_RULES, discord_rule

from .secrets_corpus import CORPUS, CORPUS_ENV, FakeSecret, leaks

PLAIN = Redactor()
KNOWING = Redactor.from_environ(CORPUS_ENV)
DETECTABLE = [e for e in CORPUS if e.detectable]
ids = [e.format for e in CORPUS]


def _redactors(entry: FakeSecret) -> list[Redactor]:
    return [KNOWING, PLAIN] if entry.detectable else [KNOWING]


def test_the_corpus_covers_every_format_the_brief_names() -> None:
    formats = {e.format for e in CORPUS}
    expected = {
        "openai-project-key", "anthropic-key", "azure-openai-key", "google-api-key",
        "huggingface-token", "groq-key", "replicate-token", "github-pat", "github-fine-grained",
        "gitlab-pat", "aws-access-key-id", "aws-temporary-key-id", "aws-secret-access-key",
        "npm-token", "pypi-token", "gmail-oauth-access-token", "twilio-auth-token",
        "slack-bot-token", "stripe-secret-key", "whatsapp-access-token", "instagram-graph-token",
        "facebook-page-token", "linkedin-access-token", "x-app-bearer-token",
        "google-ads-developer-token", "ga4-access-token", "search-console-access-token",
        "shopify-admin-token", "discord-bot-token", "reddit-access-token", "tiktok-access-token",
        "youtube-access-token", "jwt", "private-key-pem", "postgres-url-password",
        "http-basic-credentials",
    }  # fmt: skip
    assert expected <= formats
    assert len({e.env for e in CORPUS}) == len(CORPUS), "one variable per secret"
    for entry in CORPUS:
        assert entry.secret in entry.value and len(entry.secret) >= 16, entry.format


def test_every_rule_names_its_source() -> None:
    for rule in (*FORMAT_RULES, *CONTEXT_RULES, discord_rule()):
        assert rule.source.strip(), rule
        named = ("https://", "RFC ", "gitleaks", "betterleaks", "nosey parker", "detect-secrets")
        assert any(word in rule.source for word in named), rule.source


@pytest.mark.parametrize("entry", CORPUS, ids=ids)
def test_removed_from_prose(entry: FakeSecret) -> None:
    for redactor in _redactors(entry):
        out = redactor.text(entry.prose)
        assert not leaks(out, entry), out
        assert out.startswith("Please use ") and out.endswith(" for the launch campaign, thanks!")
        assert REDACTED in out


@pytest.mark.parametrize("entry", CORPUS, ids=ids)
def test_removed_from_json_text(entry: FakeSecret) -> None:
    document = {"draft": {"topic": entry.prose, "tags": ["launch", entry.value]}}
    for redactor in _redactors(entry):
        for text in (json.dumps(document), json.dumps(document, indent=2, ensure_ascii=False)):
            out = redactor.text(text)
            assert not leaks(out, entry), out
            json.loads(out)  # still a JSON document


@pytest.mark.parametrize("entry", CORPUS, ids=ids)
def test_removed_from_nested_values_and_keys(entry: FakeSecret) -> None:
    value = {
        "topic": entry.prose,
        "variants": [{"body": entry.value}, ("plain", entry.value)],
        entry.value: "used as a key",
        "headers": {"X-Note": entry.value.encode()},
    }
    for redactor in _redactors(entry):
        clean, paths = redactor.redact(value, "input")
        dumped = json.dumps(clean, default=lambda b: b.decode())
        assert not leaks(dumped, entry), dumped
        assert "input.topic" in paths and "input.variants[0].body" in paths
        assert "input.headers.X-Note" in paths
        assert not any(leaks(p, entry) for p in paths), paths
        assert value["topic"] == entry.prose, "the input is never modified"


@pytest.mark.parametrize("entry", CORPUS, ids=ids)
def test_removed_when_url_encoded_if_known(entry: FakeSecret) -> None:
    # Decision (docs/redaction.md): known values are also looked for URL- and JSON-encoded;
    # rules match the text as it is, so an encoded secret is caught by shape only when its
    # characters need no encoding.
    for encoded in (quote(entry.value, safe=""), quote_plus(entry.value), quote(entry.value)):
        text = f"GET /callback?state=abc&token_hint={encoded}&page=2"
        assert not leaks(KNOWING.text(text), entry)
        if entry.detectable and encoded == entry.value:
            assert not leaks(PLAIN.text(text), entry)


@pytest.mark.parametrize("entry", CORPUS, ids=ids)
def test_found_by_name_alone_when_not_known(entry: FakeSecret) -> None:
    # What a user pastes: an .env line, a JSON config, a header, a sentence naming it.
    texts = [
        f"{entry.env}={entry.value}",
        json.dumps({entry.env.lower(): entry.value}),
        f"export {entry.env}='{entry.value}'",
    ]
    if "\n" not in entry.value and entry.format != "http-basic-credentials":
        texts.append(f"Authorization: Bearer {entry.secret}")
    for text in texts:
        assert not leaks(PLAIN.text(text), entry), text
    clean, paths = PLAIN.redact({entry.env: entry.value})
    assert clean == {entry.env: REDACTED} or not leaks(json.dumps(clean), entry)
    assert paths


@pytest.mark.parametrize("entry", [e for e in CORPUS if not e.detectable], ids=lambda e: e.format)
def test_random_secrets_named_in_a_sentence(entry: FakeSecret) -> None:
    words = entry.env.lower().replace("_", " ")
    for text in (f"my {words} is {entry.value}", f"{words}: {entry.value} (rotate monthly)"):
        assert not leaks(PLAIN.text(text), entry), text


@pytest.mark.parametrize(
    "text",
    [
        "Our risk-free-marketing-strategies-for-2024 guide",
        "task-management-checklist-2025 and desk_test_chair",
        "Bearer tokens let an API know who is calling; Basic understanding helps.",
        "Secret: consistency. Key: patience. Password: none needed.",
        "Read https://www.example.com/blog/secret-sauce-2024?utm_source=newsletter today",
        "Email anna@example.com or call +1 555 0100; order #A1B2C3 ships Monday.",
        "Colors #1a2b3c and #ffcc00, id 123e4567-e89b-12d3-a456-426614174000.",
        "The token budget is 4096 tokens; max_tokens=800, prompt_tokens: 312.",
        "Act.Now and save: use code SPRING2025 before 2025-05-01.",
        "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUFake\n-----END CERTIFICATE-----",
        "An API key is a secret; keep your access key out of drafts.",
        "postgresql://db.internal:5432/neonhub and redis://cache:6379/0",
        "The Asia-Pacific launch (EAA region) starts in Q3.",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert PLAIN.text(text) == text
    assert KNOWING.text(text) == text


def test_known_values_need_eight_characters() -> None:
    redactor = Redactor(["short", "longer-secret-1"])
    assert redactor.known_count == 1
    assert redactor.text("a short note with longer-secret-1") == f"a short note with {REDACTED}"


def test_from_environ_learns_secrets_by_name_by_list_and_from_urls() -> None:
    environ = {
        "NEONHUB_WEIRD_CRED": "plainlookingvalue42",  # a name that does not look secret
        "MY_SERVICE_PASSWORD": "another-plain-value",
        "DATABASE_URL": "postgresql://app:Pw-Only-In-Url-77@db:5432/app",
        "SENTRY_ENDPOINT": "https://Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z@o1.ingest.example.io/1",
        "HOME": "/home/analyst",
        "EMPTY_TOKEN": "",
    }
    redactor = Redactor.from_environ(environ, secret_names=["NEONHUB_WEIRD_CRED"])
    text = " ".join(environ.values())
    out = redactor.text(text)
    for secret in (
        "plainlookingvalue42",
        "another-plain-value",
        "Pw-Only-In-Url-77",
        "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z",
    ):
        assert secret not in out
    assert "/home/analyst" in out and "db:5432/app" in out
    assert redactor.known_count == 4
    assert "plainlooking" not in repr(redactor)
    assert Redactor.from_environ(environ).text("plainlookingvalue42") == "plainlookingvalue42"


def test_connector_secret_variables_become_known_values() -> None:
    from neonhub_nb.connectors.registry import list_connectors

    names = [v.name for spec in list_connectors() for v in spec.env if v.secret]
    environ = {name: f"value-of-{name.lower()}-0042" for name in names}
    environ["RENAMED_BY_USER"] = "odd-secret-value-0042"
    redactor = Redactor.from_environ(environ, secret_names=[*names, "RENAMED_BY_USER"])
    assert redactor.known_count == len(names) + 1
    assert redactor.text(" ".join(environ.values())).count(REDACTED) == len(environ)


def test_redact_returns_the_same_object_when_clean() -> None:
    value = {"topic": "bakery newsletters", "rows": [{"clicks": 3, "query": "sourdough"}]}
    clean, paths = PLAIN.redact(value, "input")
    assert clean is value and paths == []


def test_redact_copies_only_what_changes_and_names_paths() -> None:
    token = next(e for e in CORPUS if e.format == "github-pat").value
    shared = {"keep": "me"}
    value = {
        "a": shared,
        "b": [shared, {"note": f"use {token}"}],
        "api_key": "anything",
        "Password": b"bytes-secret",
        "count": 3,
        "when": None,
    }
    clean, paths = PLAIN.redact(value, "request")
    assert clean["a"] == {"keep": "me"} and clean["b"][0] == {"keep": "me"}
    assert clean["b"][1] == {"note": f"use {REDACTED}"}
    assert clean["api_key"] == REDACTED and clean["Password"] == REDACTED
    assert clean["count"] == 3 and clean["when"] is None
    assert sorted(paths) == ["request.Password", "request.api_key", "request.b[1].note"]


def test_two_secret_keys_stay_two_entries() -> None:
    a, b = (e.value for e in CORPUS[:2])
    clean, paths = PLAIN.redact({a: 1, b: 2})
    assert sorted(clean.values()) == [1, 2]
    assert len(paths) == 2 and all(REDACTED in p for p in paths)


def test_values_that_are_not_json_are_walked() -> None:
    token = next(e for e in CORPUS if e.format == "slack-bot-token").value

    class Opaque:
        def __repr__(self) -> str:
            return "opaque"

    opaque = Opaque()
    clean, paths = PLAIN.redact({"items": {token, "x"}, "obj": opaque, 7: token})
    assert sorted(clean["items"]) == [REDACTED, "x"]
    assert clean["obj"] is opaque and clean["7"] == REDACTED
    assert "7" in paths and sum(p.startswith("items[") for p in paths) == 1


@pytest.mark.parametrize(
    "template",
    [
        "İstanbul café 🎉 {} naïve ﬁn",  # İ lower-cases to two characters
        "\ud800 a lone surrogate, then {}",  # not UTF-8 encodable
        "ΣΑΣ token: {} ok",
        "\u212a (Kelvin sign) then {}",  # lower-cases to an ASCII k
    ],
)
def test_non_ascii_text_keeps_offsets(template: str) -> None:
    for entry in (CORPUS[0], next(e for e in CORPUS if e.format == "twilio-auth-token")):
        text = template.format(entry.value)
        out = KNOWING.text(text)
        assert out == template.format(REDACTED)
        clean, _ = KNOWING.redact({"k": text})
        assert clean == {"k": out}


def test_caches_never_change_an_answer() -> None:
    redactor = Redactor()
    token = next(e for e in CORPUS if e.format == "github-pat").value
    clean_doc, dirty_doc = {"q": "sourdough"}, {"q": f"sourdough {token}"}
    long_text = "Bakery newsletters work. " * 20
    for _ in range(3):
        assert redactor.redact(clean_doc) == (clean_doc, [])
        assert redactor.redact(dirty_doc) == ({"q": f"sourdough {REDACTED}"}, ["q"])
        assert redactor.text(long_text) == long_text
        assert redactor.text(long_text + token) == long_text + REDACTED
    for i in range(600):  # more documents than the caches hold
        assert redactor.redact({"q": f"query {i}"})[1] == []
    assert redactor.redact(dirty_doc)[1] == ["q"]
