"""The stakeholders' dashboard: read-only audit KPIs, trends, failures and runs in Voila.

``AuditDashboard`` (``app``) builds the page from ipywidgets; ``queries`` holds its SQL
(tested without a browser), ``charts`` its SVG charts, ``views`` its HTML; ``server``
serves ``dashboards/audit_dashboard.ipynb`` with Voila (``neonhub-nb dashboard``) and
writes synthetic stores (``neonhub-nb synth``). See ``docs/dashboard.md``.

>>> from neonhub_nb.dashboard import AuditDashboard           # doctest: +SKIP
>>> AuditDashboard.for_path("data/neonhub.duckdb").widget     # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .queries import (
    DEFAULT_PERIOD,
    PERIODS,
    DashboardData,
    Kpis,
    Period,
    RunFilters,
    load_dashboard,
)
from .server import VoilaOptions, dashboard_command, synth_command, voila_command

if TYPE_CHECKING:
    from .app import AUTO_REFRESH, AuditDashboard

__all__ = [
    "AUTO_REFRESH",
    "DEFAULT_PERIOD",
    "PERIODS",
    "AuditDashboard",
    "DashboardData",
    "Kpis",
    "Period",
    "RunFilters",
    "VoilaOptions",
    "dashboard_command",
    "load_dashboard",
    "synth_command",
    "voila_command",
]


def __getattr__(name: str) -> Any:
    # The widgets need ipywidgets (the "notebook" extra); the CLI imports this package
    # for its commands and must work without it.
    if name in ("AUTO_REFRESH", "AuditDashboard"):
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
