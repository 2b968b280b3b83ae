"""Redact-then-truncate, safe values for error messages, and the logging filter."""

from __future__ import annotations

import logging

import pytest

from neonhub_nb.redact import (
    HIDDEN_SECRET,
    REDACTED,
    RedactingFilter,
    Redactor,
    redact_truncate,
    safe_value,
)

from .secrets_corpus import CORPUS, CORPUS_ENV, FakeSecret, by_env, leaks

KEY = by_env("OPENAI_API_KEY").value


# ------------------------------------------------------------------ truncation
def test_redacts_before_cutting() -> None:
    text = f"error from upstream: {KEY} rejected"
    # Cutting first would leave "sk-proj-fake…": a prefix no rule recognises any more.
    out = redact_truncate(text, 40)
    assert out == f"error from upstream: {REDACTED} rejected"
    assert redact_truncate(text, 30) == f"error from upstream: {REDACTED[:0]}…"
    assert len(redact_truncate(text, 30)) <= 30


@pytest.mark.parametrize("limit", range(1, 60))
def test_never_cuts_inside_a_marker(limit: int) -> None:
    text = f"ab {KEY} cd {KEY} ef"
    out = redact_truncate(text, limit)
    assert len(out) <= limit
    body = out.removesuffix("…")
    assert body.count("[") == body.count(REDACTED), out
    assert "sk-proj" not in out


def test_short_text_is_returned_whole_and_limits_are_checked() -> None:
    assert redact_truncate("fine", 10) == "fine"
    assert redact_truncate("abcdef", 3, ellipsis="") == "abc"
    with pytest.raises(ValueError, match="limit: must be at least 1"):
        redact_truncate("x", 0)


# ------------------------------------------------------------------ safe values
@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("friendly", "'friendly'"),
        ("small bakery owners", "'small bakery owners'"),
        ("2025-05-01", "'2025-05-01'"),
        (10, "10"),
        (None, "None"),
        (True, "True"),
        ("x" * 41, "(41 characters)"),
        ("line one\nline two", "(17 characters)"),
    ],
)
def test_ordinary_values_are_shown(value: object, shown: str) -> None:
    assert safe_value(value) == shown


@pytest.mark.parametrize("entry", CORPUS, ids=lambda e: e.format)
def test_a_secret_is_never_shown(entry: FakeSecret) -> None:
    for redactor in (None, Redactor.from_environ(CORPUS_ENV)):
        shown = safe_value(entry.value, redactor=redactor)
        assert not leaks(shown, entry)
        assert shown == HIDDEN_SECRET or shown.endswith(" characters)")
        assert not leaks(safe_value(f"tone={entry.value}", redactor=redactor), entry)


def test_a_short_random_value_of_no_known_format_is_hidden() -> None:
    assert safe_value("Zx8!Lm2Qp#5v") == HIDDEN_SECRET
    assert safe_value("tone Qw3rTy9UiOp2As") == HIDDEN_SECRET


# ------------------------------------------------------------------ logging
@pytest.fixture
def captured() -> tuple[logging.Logger, list[str]]:
    logger = logging.getLogger("neonhub_nb.tests.redaction")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter(Redactor.from_environ(CORPUS_ENV)))
    logger.handlers = [handler]
    return logger, lines


def test_log_messages_args_and_tracebacks_are_redacted(
    captured: tuple[logging.Logger, list[str]],
) -> None:
    logger, lines = captured
    twilio = by_env("TWILIO_AUTH_TOKEN").value  # no format: known from the settings
    logger.warning("calling with %s and %r", KEY, {"token": twilio})
    logger.info(f"plain f-string with {KEY}")
    try:
        raise RuntimeError(f"upstream said: invalid key {KEY}")
    except RuntimeError:
        logger.exception("request failed for %s", twilio)
    logger.error("bad format %d", KEY)  # a broken call still logs, redacted
    output = "\n".join(lines)
    assert "Traceback" in output and "RuntimeError" in output
    assert output.count(REDACTED) >= 6
    for entry in (by_env("OPENAI_API_KEY"), by_env("TWILIO_AUTH_TOKEN")):
        assert not leaks(output, entry), output


def test_the_filter_keeps_every_record(captured: tuple[logging.Logger, list[str]]) -> None:
    logger, lines = captured
    for i in range(5):
        logger.warning("line %d", i)
    assert lines == [f"WARNING line {i}" for i in range(5)]
