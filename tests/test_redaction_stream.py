"""A secret split across stream chunks never appears; the stream equals the batch result."""

from __future__ import annotations

import random

import pytest

from neonhub_nb.redact import REDACTED, Redactor, StreamRedactor

from .secrets_corpus import CORPUS, CORPUS_ENV, FakeSecret, leaks

PLAIN = Redactor()
KNOWING = Redactor.from_environ(CORPUS_ENV)


def _stream(redactor: Redactor, chunks: list[str]) -> tuple[str, list[str]]:
    stream = StreamRedactor(redactor)
    sent = [stream.feed(chunk) for chunk in chunks]
    sent.append(stream.flush())
    return "".join(sent), sent


@pytest.mark.parametrize("entry", CORPUS, ids=lambda e: e.format)
def test_every_split_point_of_every_secret(entry: FakeSecret) -> None:
    text = f"Draft intro.\n{entry.prose}\nOutro."
    for redactor in [KNOWING, PLAIN] if entry.detectable else [KNOWING]:
        whole = redactor.text(text)
        for i in range(1, len(text)):
            joined, sent = _stream(redactor, [text[:i], text[i:]])
            assert joined == whole, (entry.format, i)
            # Nothing sent before the end may hold a piece of the secret either.
            assert not any(leaks(part, entry) for part in sent), (entry.format, i)


@pytest.mark.parametrize("entry", CORPUS, ids=lambda e: e.format)
def test_character_by_character_and_random_chunks(entry: FakeSecret) -> None:
    text = f"{entry.prose} And again: {entry.value}."
    whole = KNOWING.text(text)
    assert _stream(KNOWING, list(text))[0] == whole
    rng = random.Random(entry.format)
    for _ in range(20):
        cuts = sorted(rng.sample(range(1, len(text)), 4))
        chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
        joined, sent = _stream(KNOWING, chunks)
        assert joined == whole
        assert not any(leaks(part, entry) for part in sent)


def test_ordinary_text_flows_with_little_held_back() -> None:
    stream = StreamRedactor(PLAIN)
    out = stream.feed("Bakeries that send a weekly newsletter ")
    assert out == "Bakeries that send a weekly newsletter "
    assert stream.held == 0
    out = stream.feed("keep customers coming back every to")
    assert out.startswith("keep customers coming back every")
    assert stream.held <= len("to")  # "to" may start "token"
    assert stream.flush() == "keep customers coming back every to"[len(out) :]


def test_a_token_still_growing_is_held_until_it_ends() -> None:
    stream = StreamRedactor(PLAIN)
    assert stream.feed("use ghp_FAKEabcdefghij") == "use "
    assert stream.feed("klmnopqrstuvwxyz0123456789") == ""
    assert stream.feed(" now. ") == f"{REDACTED} now. "
    assert stream.flush() == ""


def test_a_private_key_block_is_held_until_its_end_line() -> None:
    pem = next(e for e in CORPUS if e.format == "private-key-pem")
    stream = StreamRedactor(PLAIN)
    sent = [stream.feed("key:\n")]
    sent += [stream.feed(line + "\n") for line in pem.value.splitlines()]
    sent.append(stream.feed("done"))
    sent.append(stream.flush())
    assert "".join(sent) == f"key:\n{REDACTED}\ndone"


def test_an_unterminated_private_key_is_redacted_to_the_end() -> None:
    stream = StreamRedactor(PLAIN)
    out = stream.feed("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANFakeFake\n")
    out += stream.feed("more base64 lines ") + stream.flush()
    assert out == REDACTED


def test_flush_resets_the_stream() -> None:
    stream = StreamRedactor(KNOWING)
    stream.feed("half a secret: sk-proj-fake")
    assert REDACTED in stream.flush()
    assert stream.feed("fresh start ") == "fresh start "
    assert stream.flush() == ""
