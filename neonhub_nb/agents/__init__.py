"""Agents by intent (``content.generate_article`` ...): one module per agent.

Each agent module holds its parameters, its prompt templates, the agent and the mock
model's writer, and declares them in one :class:`AgentSpec` (``SPEC``). The
:class:`AgentCatalog` collects them; the process's catalog lives in the runtime, and
:func:`neonhub_nb.register_agent` adds a notebook's own agents to it.
"""

from __future__ import annotations

from .base import Agent, AgentContext, AgentOutput, DraftOutput
from .catalog import BUILTIN_AGENT_MODULES, AgentCatalog, AgentSpec, MockWriter
from .prompts import PromptTemplate

__all__ = [
    "BUILTIN_AGENT_MODULES",
    "Agent",
    "AgentCatalog",
    "AgentContext",
    "AgentOutput",
    "AgentSpec",
    "DraftOutput",
    "MockWriter",
    "PromptTemplate",
]
