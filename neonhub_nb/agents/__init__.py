"""Agents, registered by intent (``content.generate_article`` ...).

``register_agent`` / ``get_agent`` follow papermill's small named registries: a missing
intent raises :class:`~neonhub_nb.errors.UnknownIntentError` listing the known ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import UnknownIntentError
from ..models import AgentParams
from .base import Agent, AgentContext, AgentOutput, DraftOutput

__all__ = [
    "Agent",
    "AgentContext",
    "AgentOutput",
    "AgentSpec",
    "DraftOutput",
    "get_agent",
    "list_agents",
    "register_agent",
    "unregister_agent",
]


@dataclass(frozen=True)
class AgentSpec:
    intent: str
    agent: str
    params_model: type[AgentParams]
    factory: Callable[[], Agent[Any]]
    description: str
    prompt_name: str | None = None


_REGISTRY: dict[str, AgentSpec] = {}


def register_agent(spec: AgentSpec) -> AgentSpec:
    _REGISTRY[spec.intent] = spec
    return spec


def unregister_agent(intent: str) -> None:
    """Remove an agent (tests and notebooks that register throwaway agents)."""
    _REGISTRY.pop(intent, None)


def get_agent(intent: str) -> AgentSpec:
    _load_builtin()
    try:
        return _REGISTRY[intent]
    except KeyError:
        raise UnknownIntentError(intent, sorted(_REGISTRY)) from None


def list_agents() -> list[AgentSpec]:
    _load_builtin()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def _load_builtin() -> None:
    # Imported lazily so that importing the registry never imports every agent's deps.
    from . import ads, content, email, insights, judge, seo, social  # noqa: F401
