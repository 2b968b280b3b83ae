"""The agent catalog: agents by intent, their prompt templates by name and version, and the
mock model's writers by task.

Each agent module declares one :class:`AgentSpec` (its ``SPEC``) and has no import-time
side effects. :meth:`AgentCatalog.builtin` collects the built-in specs; a runtime keeps one
catalog per process (``neonhub_nb.runtime``) to which notebooks add their own agents with
:func:`neonhub_nb.register_agent`. Lookups follow papermill's small named registries: a
missing name raises an error listing the known ones.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInputError, UnknownIntentError
from ..models import AgentParams
from ..redaction import safe_value
from .prompts import PromptTemplate

if TYPE_CHECKING:
    from .base import Agent

__all__ = ["BUILTIN_AGENT_MODULES", "AgentCatalog", "AgentSpec", "EditCheck", "MockWriter"]

#: Writes the mock model's answer for one task from the prompt's JSON brief and a seed.
MockWriter = Callable[[Mapping[str, Any], int], str]
#: Checks a reviewer's edit of a draft (the agent's own format and limits) and returns the
#: draft's title; raises InvalidInputError naming what the edit breaks.
EditCheck = Callable[[str], str]

#: Modules under ``neonhub_nb.agents`` that each define one built-in ``SPEC``.
BUILTIN_AGENT_MODULES: tuple[str, ...] = (
    "content",
    "seo",
    "email",
    "social",
    "ads",
    "insights",
    "judge",
)


@dataclass(frozen=True)
class AgentSpec:
    """Everything the product knows about one agent.

    ``prompts`` are its templates (all versions); ``mock_writers`` map a brief's ``task``
    to the writer the mock model answers it with; ``check_edit`` checks a reviewer's
    edit of the agent's draft (None: the agent makes no reviewable draft).
    """

    intent: str
    agent: str
    params_model: type[AgentParams]
    factory: Callable[[], Agent[Any]]
    description: str
    prompt_name: str | None = None
    prompts: tuple[PromptTemplate, ...] = ()
    mock_writers: Mapping[str, MockWriter] = field(default_factory=dict)
    check_edit: EditCheck | None = None


class AgentCatalog:
    """Agents, prompts and mock writers known to one runtime. Thread-safe.

    >>> catalog = AgentCatalog.builtin()
    >>> catalog.get("content.generate_article").agent
    'content'
    """

    def __init__(self, specs: tuple[AgentSpec, ...] = ()) -> None:
        self._lock = threading.Lock()
        self._agents: dict[str, AgentSpec] = {}
        self._prompts: dict[str, dict[str, PromptTemplate]] = {}
        for spec in specs:
            self.register(spec)

    @classmethod
    def builtin(cls) -> AgentCatalog:
        """A new catalog holding the seven built-in agents."""
        specs = tuple(
            importlib.import_module(f"{__package__}.{name}").SPEC for name in BUILTIN_AGENT_MODULES
        )
        return cls(specs)

    # ------------------------------------------------------------------ agents
    def register(self, spec: AgentSpec) -> AgentSpec:
        """Add (or replace) an agent and its prompt templates."""
        with self._lock:
            self._agents[spec.intent] = spec
            for template in spec.prompts:
                self._prompts.setdefault(template.name, {})[template.version] = template
        return spec

    def unregister(self, intent: str) -> None:
        """Remove an agent (its prompts stay: other agents may share them)."""
        with self._lock:
            self._agents.pop(intent, None)

    def get(self, intent: str) -> AgentSpec:
        """The agent for ``intent``, or :class:`UnknownIntentError` listing the known ones."""
        with self._lock:
            spec = self._agents.get(intent)
            if spec is None:
                raise UnknownIntentError(intent, sorted(self._agents))
            return spec

    def specs(self) -> list[AgentSpec]:
        """Every agent, sorted by intent."""
        with self._lock:
            return [self._agents[k] for k in sorted(self._agents)]

    # ----------------------------------------------------------------- prompts
    def register_prompt(self, template: PromptTemplate) -> PromptTemplate:
        with self._lock:
            self._prompts.setdefault(template.name, {})[template.version] = template
        return template

    def prompt_versions(self) -> dict[str, list[str]]:
        """``{prompt name: [versions, oldest first]}``."""
        with self._lock:
            return {
                name: sorted(versions, key=_version_order)
                for name, versions in sorted(self._prompts.items())
            }

    def prompt(self, name: str, version: str | None = None) -> PromptTemplate:
        """The template ``name`` at ``version`` (default: the latest).

        Raises :class:`InvalidInputError` (field ``prompt_version``) naming the known
        versions when ``version`` does not exist.
        """
        with self._lock:
            versions = dict(self._prompts.get(name) or {})
        if not versions:
            raise InvalidInputError(
                "prompt", f"unknown prompt {safe_value(name)}; known: {sorted(self._prompts)}"
            )
        if version is None:
            version = max(versions, key=_version_order)
        if version not in versions:
            known = ", ".join(sorted(versions, key=_version_order))
            raise InvalidInputError(
                "prompt_version",
                f"prompt {name!r} has no version {safe_value(version)}; known: {known}",
            )
        return versions[version]

    def check_prompt_version(self, intent: str, version: str | None) -> None:
        """Refuse an unknown prompt version for ``intent`` before anything runs."""
        spec = self.get(intent)
        if version is not None and spec.prompt_name is not None:
            self.prompt(spec.prompt_name, version)

    # -------------------------------------------------------------- mock model
    def mock_writers(self) -> dict[str, MockWriter]:
        """``{task: writer}`` of every agent, for the mock model."""
        with self._lock:
            specs = list(self._agents.values())
        writers: dict[str, MockWriter] = {}
        for spec in specs:
            writers.update(spec.mock_writers)
        return writers


def _version_order(version: str) -> tuple[int, str]:
    # "v10" sorts after "v9": shorter version strings first, then alphabetically.
    return (len(version), version)
