"""neonhub-nb: run, audit and regression-test AI marketing agents from notebooks.

>>> from neonhub_nb import run_agent, DraftParams                  # doctest: +SKIP
>>> run_agent("content.generate_article",
...           DraftParams(topic="Email marketing", primary_keyword="newsletter growth"))
"""

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
from .models import DraftParams, Metric, RunRequest, RunResult, ToolExecution
from .orchestrator import Orchestrator, build_orchestrator, default_store, run_agent
from .store import AuditStore

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
    "Settings",
    "StoreError",
    "ToolExecution",
    "UnknownIntentError",
    "build_orchestrator",
    "default_store",
    "load_settings",
    "run_agent",
]
__version__ = "0.1.0"
