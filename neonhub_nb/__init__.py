"""neonhub-nb: run, audit and regression-test AI marketing agents from notebooks.

>>> from neonhub_nb import run_agent, DraftParams                  # doctest: +SKIP
>>> run_agent("content.generate_article",
...           DraftParams(topic="Email marketing", primary_keyword="newsletter growth"))
"""

import importlib
from typing import TYPE_CHECKING, Any

from .config import Settings, load_settings
from .errors import (
    AgentError,
    BudgetExceededError,
    CircuitOpenError,
    ConfigError,
    ConnectorError,
    InvalidInputError,
    LLMError,
    NeonhubError,
    ReplayMissError,
    StoreError,
    UnknownIntentError,
)

if TYPE_CHECKING:
    from .agents.content import DraftParams
    from .api import (
        default_store,
        register_agent,
        register_connector,
        register_price,
        register_prompt,
        replay_experiment,
        replay_run,
        run_agent,
        unregister_agent,
    )
    from .models import Metric, RunRequest, RunResult
    from .orchestrator import Orchestrator, build_orchestrator
    from .records import ToolExecution
    from .runtime import Runtime, default_runtime
    from .store import AuditStore

# Imported on first use: pydantic, pandas and DuckDB cost ~0.4 s and ~100 MiB, which
# every CLI call and every dashboard kernel would otherwise pay up front.
_LAZY = {
    "DraftParams": "agents.content",
    "Metric": "models",
    "RunRequest": "models",
    "RunResult": "models",
    "ToolExecution": "records",
    "Orchestrator": "orchestrator",
    "build_orchestrator": "orchestrator",
    "Runtime": "runtime",
    "default_runtime": "runtime",
    "default_store": "api",
    "register_agent": "api",
    "register_connector": "api",
    "register_price": "api",
    "register_prompt": "api",
    "replay_experiment": "api",
    "replay_run": "api",
    "run_agent": "api",
    "unregister_agent": "api",
    "AuditStore": "store",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'neonhub_nb' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "AgentError",
    "AuditStore",
    "BudgetExceededError",
    "CircuitOpenError",
    "ConfigError",
    "ConnectorError",
    "DraftParams",
    "InvalidInputError",
    "LLMError",
    "Metric",
    "NeonhubError",
    "Orchestrator",
    "ReplayMissError",
    "RunRequest",
    "RunResult",
    "Runtime",
    "Settings",
    "StoreError",
    "ToolExecution",
    "UnknownIntentError",
    "build_orchestrator",
    "default_runtime",
    "default_store",
    "load_settings",
    "register_agent",
    "register_connector",
    "register_price",
    "register_prompt",
    "replay_experiment",
    "replay_run",
    "run_agent",
    "unregister_agent",
]
__version__ = "0.1.0"
