"""Versioned prompt templates. Every run records the name and version it used.

Each agent module declares its templates in its :class:`~neonhub_nb.agents.AgentSpec`;
the agent catalog looks them up by name and version.

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

__all__ = ["PromptTemplate"]


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
