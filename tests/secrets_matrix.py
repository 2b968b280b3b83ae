"""The product-wide secrets property: which secrets, typed into which fields, looked for
in which sinks, and a leak finder fast enough for megabytes of output.

Two halves (``HALVES``):

* ``env``: every corpus secret is in the environment under the variable a user holds it
  in, so the settings' redactor knows its value; the same secrets are typed into inputs.
* ``typed``: nothing in the environment; secrets are only typed into inputs, where the
  redactor can know them by their shape alone. The formats no vendor documents (and no
  name is near them in a free-text field) cannot be caught there: ``TYPED_EXCLUDED``
  lists them, each with its reason, and they are left out of this half only.

Fields are packed: a field gets as many secrets (space-separated) as its length limit
allows, so one run covers many (format, field) pairs; a secret too long for a field, or
typed into a field that takes no free text (a number, a choice, a date), must be refused
with an error that does not echo it. Every refusal is checked as an error-message sink.
"""

from __future__ import annotations

import json
import typing
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import ahocorasick_rs as aho
import duckdb

from neonhub_nb.connectors import list_connectors
from neonhub_nb.models import LIST_ITEM_MAX, AgentParams
from neonhub_nb.records import LABEL_MAX

from .secrets_corpus import CORPUS, CORPUS_ENV, FakeSecret, fragments

__all__ = [
    "HALVES",
    "LABELS",
    "TYPED_EXCLUDED",
    "Coverage",
    "Finder",
    "Half",
    "TextField",
    "connector_env",
    "folder_bytes",
    "free_text_fields",
    "other_fields",
    "pack",
    "store_dump",
]

#: Formats that cannot be caught when typed into a free-text field with no name near them
#: and unknown to the settings (docs/redaction.md, "What cannot be caught"), and why.
TYPED_EXCLUDED: dict[str, str] = {
    "azure-openai-key": "32 hex characters with no prefix: any hex digest looks the same",
    "aws-secret-access-key": "40 base64 characters with no prefix (AWS documents none)",
    "ga4-measurement-api-secret": "22 random characters with no prefix (Google documents none)",
    "google-ads-developer-token": "22 random characters with no prefix (Google documents none)",
    "twilio-auth-token": "32 hex characters with no prefix, like any hex digest",
    "twilio-api-key-secret": "32 letters and digits with no prefix (Twilio documents none)",
    "instagram-login-token": "Instagram Login tokens have no documented format",
    "linkedin-access-token": "LinkedIn documents no token format",
    "x-user-access-token": "X user access tokens have no documented format",
    "reddit-legacy-token": "Reddit's pre-2024 tokens have no documented format",
    "generic-app-secret": "an application's own secret: random characters, no format",
}


@dataclass(frozen=True)
class Half:
    """One half of the property: which secrets, and what the environment holds."""

    name: str
    entries: tuple[FakeSecret, ...]
    environ: Mapping[str, str]


HALVES: dict[str, Half] = {
    "env": Half("env", CORPUS, CORPUS_ENV),
    "typed": Half("typed", tuple(e for e in CORPUS if e.format not in TYPED_EXCLUDED), {}),
}
# The exclusions are exactly the formats the corpus marks as not detectable by shape.
assert set(TYPED_EXCLUDED) == {e.format for e in CORPUS if not e.detectable}

#: Run labels every entry point takes, with their limit (prompt_version: a known version).
LABELS: dict[str, int] = {"experiment_id": LABEL_MAX, "campaign": LABEL_MAX, "variant": LABEL_MAX}


@dataclass(frozen=True)
class TextField:
    """A parameter that takes free text: ``limit`` characters (per item for lists)."""

    name: str
    limit: int
    is_list: bool = False
    items: int = 1


def _max_length(info: Any) -> int | None:
    for meta in info.metadata:
        if hasattr(meta, "max_length"):
            return int(meta.max_length)
    return None


def _text_annotation(annotation: Any) -> str | None:
    """``"text"``, ``"list"`` (tuple of free text) or None for other kinds."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if annotation is str or (args == [str] and typing.get_origin(annotation) is not tuple):
        return "text"
    if typing.get_origin(annotation) is tuple and typing.get_args(annotation)[:1] == (str,):
        return "list"
    return None


def free_text_fields(model: type[AgentParams]) -> list[TextField]:
    """The fields of ``model`` that take free text (str, str | None, tuple[str, ...])."""
    found = []
    for name, info in model.model_fields.items():
        kind = _text_annotation(info.annotation)
        limit = _max_length(info)
        if kind == "text":
            found.append(TextField(name, limit or 60_000))
        elif kind == "list":
            found.append(TextField(name, LIST_ITEM_MAX, is_list=True, items=limit or 10))
    return found


def other_fields(model: type[AgentParams]) -> list[str]:
    """The fields that take no free text: numbers, choices, dates, flags, e-mail lists."""
    text = {f.name for f in free_text_fields(model)}
    return [name for name in model.model_fields if name not in text]


def pack(
    values: Iterable[str], limit: int, *, printable: bool = False
) -> tuple[list[str], list[str]]:
    """Greedy groups of ``values`` joined by spaces, each at most ``limit`` characters;
    and the values that fit no group (too long, or not printable when ``printable``)."""
    groups: list[str] = []
    refused: list[str] = []
    current = ""
    for value in values:
        if len(value) > limit or (printable and not value.isprintable()):
            refused.append(value)
            continue
        joined = f"{current} {value}" if current else value
        if len(joined) <= limit:
            current = joined
        else:
            groups.append(current)
            current = value
    if current:
        groups.append(current)
    return groups, refused


def connector_env() -> dict[str, str]:
    """Every connector's variables at their mock values: what live connectors need besides
    the corpus credentials (ids, sender addresses)."""
    env = {}
    for spec in list_connectors():
        for var in spec.env:
            env[var.name] = var.mock_value or f"mock-{var.name.lower().replace('_', '-')}-0000"
    return env


# ----------------------------------------------------------------- finding leaks
def _forms(secret: str) -> set[str]:
    """The secret as it may be written: raw, percent-encoded, JSON-escaped."""
    return {secret, quote(secret, safe=""), json.dumps(secret)[1:-1]}


class Finder:
    """Every 12-character window of every secret (raw, URL-encoded, JSON-escaped) in one
    Aho-Corasick automaton: one pass over an output finds any piece of any secret.
    Windows of fewer than 6 distinct characters (the run of ``A`` an X app bearer token
    starts with) are left out: they occur in binary files by chance and hold no secret."""

    def __init__(self, entries: Iterable[FakeSecret], size: int = 12) -> None:
        self.windows: list[str] = []
        self.owner: list[str] = []
        for entry in entries:
            for form in _forms(entry.secret):
                for window in fragments(form, size):
                    if len(set(window)) < 6:  # "AAAAAAAAAAAA" of an X bearer: no secret
                        continue
                    self.windows.append(window)
                    self.owner.append(entry.format)
        self._automaton = aho.AhoCorasick(self.windows)

    def find(self, output: str | bytes) -> list[tuple[str, str]]:
        """``(format, window)`` for each piece of a secret in ``output``."""
        text = output.decode("utf-8", "replace") if isinstance(output, bytes) else output
        hits = self._automaton.find_matches_as_indexes(text, overlapping=True)
        return sorted({(self.owner[i], self.windows[i]) for i, _, _ in hits})


@dataclass
class Coverage:
    """What a property test exercised: (format, field) pairs per entry point, sinks
    checked, and every leak found (the test asserts there is none)."""

    pairs: set[tuple[str, str, str]] = field(default_factory=set)  # (format, field, how)
    sinks: dict[str, int] = field(default_factory=dict)  # sink -> bytes checked
    leaks: list[tuple[str, str, str]] = field(default_factory=list)  # (sink, format, window)
    #: The first leak of each sink, with the text around it (for the failure message).
    examples: dict[tuple[str, str], str] = field(default_factory=dict)

    def typed(self, entries: Iterable[FakeSecret], group: str, name: str, how: str) -> None:
        for entry in entries:
            if entry.value in group:
                self.pairs.add((entry.format, name, how))

    def check(self, finder: Finder, sink: str, output: str | bytes) -> None:
        self.sinks[sink] = self.sinks.get(sink, 0) + len(output)
        found = finder.find(output)
        if found and not any(s == sink for s, _ in self.examples):
            text = output.decode("utf-8", "replace") if isinstance(output, bytes) else output
            at = text.find(found[0][1])
            self.examples[(sink, found[0][0])] = text[max(0, at - 160) : at + 60]
        self.leaks += [(sink, fmt, window) for fmt, window in found]

    def report(self) -> str:
        formats = {p[0] for p in self.pairs}
        fields = {p[1] for p in self.pairs}
        found = Counter((sink, fmt) for sink, fmt, _ in self.leaks)
        return (
            f"{len(formats)} formats x {len(fields)} fields ({len(self.pairs)} pairs typed) x "
            f"{len(self.sinks)} sinks ({sum(self.sinks.values()) / 1e6:.1f} MB checked); "
            f"leaks (sink, format: pieces): {dict(found)}; first of each sink: {self.examples}"
        )


def store_dump(db: Path) -> Iterator[str]:
    """Every row of every table of the DuckDB store, as text (the file compresses what
    it stores, so raw bytes alone could hide a secret)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [row[0] for row in con.execute("SHOW TABLES").fetchall()]
        for table in tables:
            rows = con.execute(f'SELECT * FROM "{table}"').fetchall()
            yield json.dumps(rows, default=str, ensure_ascii=False)
    finally:
        con.close()


def folder_bytes(folder: Path) -> Iterator[tuple[str, bytes]]:
    """Every file under ``folder`` (the store, its spool and quarantine), raw."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield str(path.relative_to(folder)), path.read_bytes()
