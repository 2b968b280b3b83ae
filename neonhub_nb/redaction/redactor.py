"""The redactor: known secret values plus every rule, over text and JSON-like data.

``Redactor.from_environ(settings.environ, secret_names=...)`` learns the credentials the
settings hold; ``.text(s)`` cleans a string; ``.redact(value, path)`` cleans nested
dicts and lists (keys too) and reports which paths it changed, for ``redacted_fields``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urlsplit

import orjson

from .engine import MIN_SECRET_TEXT, REDACTED, Scanner, apply_spans
from .names import is_secret_name
from .rules import LEAF_SEPARATOR
from .shapes import looks_random

__all__ = ["MIN_KNOWN_SECRET", "Redactor", "known_secrets_from_environ", "redact_text"]

#: Known values shorter than this are ignored: they would redact ordinary words.
MIN_KNOWN_SECRET = 8

# Texts of 256+ characters: their redaction (a draft passes here several times per run).
_CACHE_MIN_LENGTH = 256
_CACHE_SIZE = 64
# Labels (metric names and units): short, few, repeated on every run.
_LABEL_CACHE_SIZE = 512
# Documents (serialized dicts and lists) found clean, up to 16 KB each: tool calls repeat
# small requests and answers, and the store records a run's input when it starts and ends.
_DOCUMENT_CACHE_SIZE = 256
_DOCUMENT_CACHE_MAX_BYTES = 16_384
_EXTENDED_CACHE_SIZE = 16


def _encoded_forms(value: str) -> set[str]:
    """``value`` as it may appear in a URL, a form body or a JSON document."""
    return {
        value,
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
    }


def _url_secrets(value: str) -> Iterator[str]:
    """The password of a URL-valued setting, and a token-looking user part."""
    if "://" not in value or "@" not in value:
        return
    try:
        parts = urlsplit(value.strip())
        password, username = parts.password, parts.username
    except ValueError:
        return
    if password:
        yield password
        yield unquote(password)
    if username and not password and looks_random(unquote(username), 20):
        yield unquote(username)


def known_secrets_from_environ(
    environ: Mapping[str, str], secret_names: Iterable[str] = ()
) -> list[str]:
    """The credential values ``environ`` holds.

    A variable's value counts when its name is in ``secret_names`` (e.g. every
    ``EnvVar(secret=True)`` of the connectors) or looks secret (:func:`is_secret_name`);
    any URL-valued variable (``DATABASE_URL``) gives its password.
    """
    names = set(secret_names)
    found: list[str] = []
    for name, value in environ.items():
        if not value:
            continue
        if name in names or is_secret_name(name):
            found.append(value)
        found.extend(_url_secrets(value))
    return found


def _remember(cache: dict[Any, Any], key: Any, value: Any, size: int = _CACHE_SIZE) -> None:
    """Store in a small first-in-first-out cache (safe to race: worst case, a miss)."""
    if len(cache) >= size:
        with contextlib.suppress(KeyError, RuntimeError, StopIteration):
            del cache[next(iter(cache))]
    cache[key] = value


def _json_bytes(value: Any) -> bytes | None:
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=str)
    except (TypeError, orjson.JSONEncodeError):
        return None


class Redactor:
    """Redacts text and nested JSON-like data, remembering which paths it changed.

    ``known_secrets`` are exact values (the settings' credentials) to remove wherever they
    appear, raw or URL-/JSON-encoded, even inside free text such as an error message.
    Values shorter than :data:`MIN_KNOWN_SECRET` characters are ignored. On top of them,
    every rule in :mod:`neonhub_nb.redaction.rules` applies. Thread-safe.

    >>> Redactor(["s3cr3t-value-42"]).text("login with s3cr3t-value-42 failed")
    'login with [REDACTED] failed'
    """

    def __init__(self, known_secrets: Iterable[str] = ()) -> None:
        values = sorted({s for s in known_secrets if s and len(s) >= MIN_KNOWN_SECRET})
        self._values = tuple(values)
        self._known = frozenset(values)
        # with_secrets results by the values added (connectors add theirs on every run).
        self._extended: dict[frozenset[str], Redactor] = {}
        forms = {form for v in values for form in _encoded_forms(v)}
        self._scanner = Scanner(sorted(f for f in forms if len(f) >= MIN_KNOWN_SECRET))
        self._cache: dict[str, str] = {}
        self._labels: dict[str, str] = {}
        self._clean_documents: dict[bytes, None] = {}

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], secret_names: Iterable[str] = ()) -> Redactor:
        """A redactor that knows the credentials in ``environ``.

        See :func:`known_secrets_from_environ` for which values count; pass the names of
        the connectors' secret variables as ``secret_names`` so that a credential is
        known whatever its variable is called.
        """
        return cls(known_secrets_from_environ(environ, secret_names))

    def with_secrets(self, values: Iterable[str]) -> Redactor:
        """A redactor that also knows ``values``: this one when it knows them already
        (a connector's credentials are usually among the settings'), else a new one."""
        wanted = {v for v in values if v and len(v) >= MIN_KNOWN_SECRET}
        if wanted <= self._known:
            return self
        key = frozenset(wanted - self._known)
        cached = self._extended.get(key)
        if cached is None:
            cached = Redactor((*self._values, *key))
            _remember(self._extended, key, cached, _EXTENDED_CACHE_SIZE)
        return cached

    def including(self, other: Redactor) -> Redactor:
        """A redactor that knows this one's values and ``other``'s (this one, or
        ``other``, when one already knows all of them). Never forgets a value."""
        if other._known <= self._known:
            return self
        if self._known <= other._known:
            return other
        return self.with_secrets(other._values)

    @property
    def scanner(self) -> Scanner:
        """The span finder behind this redactor (streams use it directly)."""
        return self._scanner

    @property
    def known_count(self) -> int:
        """How many distinct secret values this redactor knows (never the values)."""
        return len(self._values)

    def __repr__(self) -> str:
        return f"Redactor(<{len(self._values)} known secrets>)"

    # ------------------------------------------------------------------ text
    def text(self, value: str) -> str:
        """``value`` with every secret replaced by ``[REDACTED]``."""
        if len(value) < MIN_SECRET_TEXT:
            return value
        # A run's draft passes here several times (response, output, draft row, result).
        long_text = len(value) >= _CACHE_MIN_LENGTH
        if long_text and (cached := self._cache.get(value)) is not None:
            return cached
        if not self._scanner.may_contain(value.encode("utf-8", "surrogatepass")):
            cleaned = value
        else:
            spans = self._scanner.spans_unchecked(value)
            cleaned = apply_spans(value, spans) if spans else value
        if long_text:
            _remember(self._cache, value, cleaned)
        return cleaned

    def label(self, value: str) -> str:
        """:meth:`text` for the short labels a store writes on every run (metric names
        and units), remembered: ``prompt_tokens`` holds the trigger word "token", so each
        label would otherwise take the full check every time."""
        cleaned = self._labels.get(value)
        if cleaned is None:
            cleaned = self.text(value)
            _remember(self._labels, value, cleaned, _LABEL_CACHE_SIZE)
        return cleaned

    def finds_secret(self, value: str) -> bool:
        """Whether :meth:`text` would change ``value``."""
        return self.text(value) != value

    # ------------------------------------------------------------ structures
    def redact(self, value: Any, path: str = "") -> tuple[Any, list[str]]:
        """Return ``(clean, redacted_paths)`` for a string or nested dicts/lists.

        A dict key that names a secret (``api_key``) has its string value replaced
        whole; every other string, key or value, is cleaned like :meth:`text`. Paths use
        dots and ``[i]`` (``input.headers.Authorization``, ``items[2]``) and never hold
        a secret (a redacted key appears as ``[REDACTED]``). ``value`` is never modified:
        when nothing needed redacting, ``clean`` is ``value`` itself; otherwise changed
        containers are new dicts and lists (tuples and sets become lists) and unchanged
        ones are shared with ``value``.
        """
        kind = _kind(value)
        if kind is _TEXT and isinstance(value, str):
            cleaned = self.text(value)
            return cleaned, ([path or "value"] if cleaned != value else [])
        if kind is _MAPPING or kind is _SEQUENCE:
            # One pass over the serialized document settles the common, clean case.
            raw = _json_bytes(value)
            if raw is not None:
                if raw in self._clean_documents:
                    return value, []
                if not self._scanner.may_contain(raw):
                    if len(raw) <= _DOCUMENT_CACHE_MAX_BYTES:
                        _remember(self._clean_documents, raw, None, _DOCUMENT_CACHE_SIZE)
                    return value, []
        walk = _Walk(value)
        # Every key and string, joined, in one scan; no rule matches across the joints.
        joined = LEAF_SEPARATOR.join(walk.leaves)
        spans = self._scanner.spans_unchecked(joined)
        if not spans and not walk.named:
            return value, []
        walk.clean(_split(joined, spans, walk.leaves))
        found: list[str] = []
        return walk.rebuild(value, path, found), found


class _Walk:
    """The keys and strings of a nested value, in order, and where each container's are.

    ``rebuild`` copies only containers that hold a changed string or a secret-named field;
    the others are returned as they are (shared with the input).
    """

    def __init__(self, value: Any) -> None:
        self.leaves: list[str] = []
        self.named = False
        # id(container) -> (first leaf, end leaf, holds a secret-named field)
        self.ranges: dict[int, tuple[int, int, bool]] = {}
        self._shared: set[int] = set()  # containers met twice: never skipped
        self._changed_before: list[int] = []
        self._cleaned: list[str] = []
        self._pos = 0
        self._collect(value)

    def _collect(self, value: Any) -> bool:
        kind = _kind(value)
        if kind is _TEXT:
            self.leaves.append(_leaf_text(value) or "")
            return False
        if kind is _SCALAR:
            return False
        first = len(self.leaves)
        named = False
        if kind is _MAPPING:
            for key, item in value.items():
                name = key if type(key) is str else str(key)
                self.leaves.append(name)
                if _secret_field(name, item):
                    named = True
                elif type(item) is str:
                    self.leaves.append(item)
                else:
                    named = self._collect(item) or named
        else:
            for item in value:
                if type(item) is str:
                    self.leaves.append(item)
                else:
                    named = self._collect(item) or named
        if id(value) in self.ranges:
            self._shared.add(id(value))
        self.ranges[id(value)] = (first, len(self.leaves), named)
        self.named = self.named or named
        return named

    def clean(self, cleaned: list[str]) -> None:
        """Take each leaf's redacted text (same order as ``leaves``)."""
        self._cleaned = cleaned
        count = 0
        self._changed_before = [0]
        for old, new in zip(self.leaves, cleaned, strict=True):
            count += old != new
            self._changed_before.append(count)

    def _untouched(self, value: Any) -> bool:
        if id(value) in self._shared:
            return False
        first, end, named = self.ranges[id(value)]
        return not named and self._changed_before[end] == self._changed_before[first]

    def rebuild(self, value: Any, path: str, found: list[str]) -> Any:
        kind = _kind(value)
        if kind is _SCALAR:
            return value
        if kind is _TEXT:
            return self._leaf(value, path, found)
        if self._untouched(value):
            self._pos = self.ranges[id(value)][1]
            return value
        if kind is _SEQUENCE:
            return [self.rebuild(item, f"{path}[{i}]", found) for i, item in enumerate(value)]
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = key if type(key) is str else str(key)
            clean_name = self._cleaned[self._pos]
            self._pos += 1
            if clean_name in out:  # two secret keys both became [REDACTED]
                clean_name = f"{clean_name}#{len(out)}"
            child = f"{path}.{clean_name}" if path else clean_name
            if clean_name != name:
                found.append(child)
            if _secret_field(name, item):
                out[clean_name] = REDACTED
                found.append(child)
            else:
                out[clean_name] = self.rebuild(item, child, found)
        return out

    def _leaf(self, value: str | bytes, path: str, found: list[str]) -> Any:
        text = self._cleaned[self._pos]
        changed = text != self.leaves[self._pos]
        self._pos += 1
        if not changed or _leaf_text(value) is None:
            return value
        found.append(path or "value")
        return text if isinstance(value, str) else text.encode("utf-8")


_SCALAR, _MAPPING, _SEQUENCE, _TEXT = "scalar", "mapping", "sequence", "text"
_KINDS: dict[type, str] = {
    str: _TEXT,
    bytes: _TEXT,
    dict: _MAPPING,
    list: _SEQUENCE,
    tuple: _SEQUENCE,
    int: _SCALAR,
    float: _SCALAR,
    bool: _SCALAR,
    type(None): _SCALAR,
}


def _kind(value: Any) -> str:
    """What a value is to the walk (exact types first: ABC checks are slow)."""
    kind = _KINDS.get(type(value))
    if kind is not None:
        return kind
    if isinstance(value, Mapping):
        return _MAPPING
    if isinstance(value, list | tuple | set | frozenset):
        return _SEQUENCE
    if isinstance(value, str | bytes):
        return _TEXT
    return _SCALAR


def _secret_field(name: str, item: Any) -> bool:
    return bool(item) and isinstance(item, str | bytes) and is_secret_name(name)


def _leaf_text(value: str | bytes) -> str | None:
    if isinstance(value, str):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _split(joined: str, spans: list[tuple[int, int]], leaves: list[str]) -> list[str]:
    """Each leaf of ``joined`` with the spans that fall in it redacted."""
    out: list[str] = []
    pos = 0
    index = 0
    step = len(LEAF_SEPARATOR)
    for leaf in leaves:
        end = pos + len(leaf)
        while index < len(spans) and spans[index][1] <= pos:
            index += 1
        mine = []
        j = index
        while j < len(spans) and spans[j][0] < end:
            mine.append(spans[j])
            j += 1
        out.append(apply_spans(joined, mine, pos, end) if mine else leaf)
        pos = end + step
    return out


@lru_cache(maxsize=32)
def _redactor_for(known: tuple[str, ...]) -> Redactor:
    return Redactor(known)


def redact_text(text: str, known_secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret-looking value and every known secret replaced.

    Convenience for one-off calls; code that redacts often should keep a
    :class:`Redactor` (building one compiles an automaton over ``known_secrets``).
    """
    return _redactor_for(tuple(known_secrets)).text(text)
