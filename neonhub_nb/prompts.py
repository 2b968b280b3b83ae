"""Versioned prompt templates. Every run records the name and version it used.

A template renders chat messages from an agent's parameters. The user message embeds a
JSON *brief* (the parameters plus the template's style choices): a real model reads it as
part of the instructions, and the mock model writes from it, so prompt variants change
mock outputs in the way they would change a real model's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidInputError

__all__ = ["PromptTemplate", "get_prompt", "list_prompts", "register_prompt"]


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: str
    system: str
    instructions: str
    style: Mapping[str, Any] = field(default_factory=dict)
    task: str = "article"

    def brief(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {"task": self.task, **params, "style": dict(self.style)}

    def render(self, params: Mapping[str, Any]) -> list[dict[str, str]]:
        brief = json.dumps(self.brief(params), sort_keys=True, ensure_ascii=False, indent=1)
        user = f"{self.instructions.format(**params)}\n\nBrief:\n```json\n{brief}\n```"
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]


_REGISTRY: dict[str, dict[str, PromptTemplate]] = {}


def register_prompt(template: PromptTemplate) -> PromptTemplate:
    _REGISTRY.setdefault(template.name, {})[template.version] = template
    return template


def list_prompts() -> dict[str, list[str]]:
    return {name: sorted(versions) for name, versions in sorted(_REGISTRY.items())}


def get_prompt(name: str, version: str | None = None) -> PromptTemplate:
    """The template ``name`` at ``version`` (default: the highest version)."""
    versions = _REGISTRY.get(name)
    if not versions:
        raise InvalidInputError("prompt", f"unknown prompt {name!r}; known: {sorted(_REGISTRY)}")
    if version is None:
        version = max(versions, key=lambda v: (len(v), v))
    if version not in versions:
        raise InvalidInputError(
            "prompt_version",
            f"prompt {name!r} has no version {version!r}; known: {', '.join(sorted(versions))}",
        )
    return versions[version]


_ARTICLE_SYSTEM = (
    "You are a senior content marketer. Write original, accurate articles in Markdown. "
    "Start with a level-1 heading holding the title, use level-2 headings for sections, "
    "and never invent statistics."
)

register_prompt(
    PromptTemplate(
        name="content.article",
        version="v1",
        system=_ARTICLE_SYSTEM,
        instructions=(
            "Write a {tone} article of about {word_count} words on {topic} for {audience}. "
            "Use the primary keyword '{primary_keyword}' in the title and the first paragraph."
        ),
        style={"title": "guide", "intro": "keyword-first"},
    )
)
register_prompt(
    PromptTemplate(
        name="content.article",
        version="v2",
        system=_ARTICLE_SYSTEM,
        instructions=(
            "Write a {tone} how-to article of about {word_count} words on {topic} for "
            "{audience}. Open with a question that names the primary keyword "
            "'{primary_keyword}', and put the keyword in the title."
        ),
        style={"title": "how-to", "intro": "question"},
    )
)
