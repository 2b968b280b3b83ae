"""Line-based structured answers (``KEY: value``) that small and large models both manage.

JSON is brittle with small local models; labelled lines are easy to ask for, easy to read
in the audit trail, and easy to parse strictly: a missing required key is an
:class:`~neonhub_nb.errors.AgentError` naming it, never a silent guess.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..errors import AgentError, InvalidInputError

__all__ = ["check_lengths", "edited_fields", "fit", "parse_fields", "split_list", "title_case"]

_LINE = re.compile(r"^\s*([A-Z][A-Z0-9_ ]{0,40})\s*:\s*(.*)$")


def parse_fields(
    text: str, required: Sequence[str], multiline: Sequence[str] = ()
) -> dict[str, str]:
    """``{"TITLE": ..., ...}`` from ``KEY: value`` lines; keys in ``multiline`` take every
    line up to the next key. Repeated keys (``HEADLINE:`` x3) are joined with newlines."""
    fields: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        match = _LINE.match(line)
        if match and match.group(1).strip().replace(" ", "_") in {*required, *multiline}:
            current = match.group(1).strip().replace(" ", "_")
            fields.setdefault(current, []).append(match.group(2).strip())
        elif current is not None and current in multiline:
            fields[current][-1] += "\n" + line
    missing = [key for key in required if not any(v.strip() for v in fields.get(key, []))]
    if missing:
        raise AgentError(f"the model's answer has no {', '.join(missing)} line")
    return {key: "\n".join(v.strip() for v in values) for key, values in fields.items()}


def split_list(value: str) -> list[str]:
    """Items of a comma- or newline-separated answer, stripped, without empties."""
    return [item.strip(" -•*\t") for item in re.split(r"[,\n]", value) if item.strip(" -•*\t")]


def fit(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters (with an ellipsis)."""
    text = text.strip()
    if len(text) <= limit:
        return text
    flat = " ".join(text.split())
    cut = flat[: limit - 1].rsplit(" ", 1)[0].rstrip(",.;:-")
    return cut + "…"


def title_case(text: str) -> str:
    """Each word's first letter upper-cased, the rest kept (``"seo tips"`` -> ``"Seo Tips"``)."""
    return " ".join(word[:1].upper() + word[1:] for word in text.split())


def check_lengths(label: str, lines: Sequence[str], limit: int) -> None:
    """Refuse an edit whose ``label`` lines are longer than ``limit`` characters."""
    for number, line in enumerate(lines, 1):
        if len(line) > limit:
            raise InvalidInputError(
                "content", f"{label} {number} has {len(line)} characters; the limit is {limit}"
            )


def edited_fields(
    text: str, required: Sequence[str], multiline: Sequence[str] = ()
) -> dict[str, str]:
    """:func:`parse_fields` for a reviewer's edit: a missing line is the edit's error."""
    try:
        return parse_fields(text, required, multiline)
    except AgentError as exc:
        raise InvalidInputError(
            "content", str(exc).replace("the model's answer", "the edit")
        ) from None
