"""The stakeholders' dashboard: read-only audit KPIs, trends, costs, failures and runs in Voila.

``AuditDashboard`` (``app``) builds the page from ipywidgets; ``queries`` holds its SQL
(tested without a browser) over the hourly cells of ``rollup``; ``charts`` draws its SVG
charts, ``views`` and ``run_view`` its HTML, ``timeline`` a run's calls as a waterfall
(reusable on its own); ``controls`` keeps hostile page input from raising; ``server``
serves ``dashboards/audit_dashboard.ipynb`` with Voila (``neonhub-nb dashboard``, through
``neonhub_nb.voila_app``) and writes synthetic stores (``neonhub-nb synth``). See
``docs/dashboard.md``.

>>> from neonhub_nb.dashboard import AuditDashboard           # doctest: +SKIP
>>> AuditDashboard.for_path("data/neonhub.duckdb").widget     # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..timeline import timeline_html
from .aggregates import (
    DEFAULT_PERIOD,
    PERIODS,
    DashboardData,
    Kpis,
    Period,
    RunFilters,
    load_dashboard,
)
from .data import DEFAULT_MODE, MODES, Scope
from .server import VoilaOptions, dashboard_command, synth_command, voila_command

if TYPE_CHECKING:
    from .app import AUTO_REFRESH, AuditDashboard

__all__ = [
    "AUTO_REFRESH",
    "DEFAULT_MODE",
    "DEFAULT_PERIOD",
    "MODES",
    "PERIODS",
    "AuditDashboard",
    "DashboardData",
    "Kpis",
    "Period",
    "RunFilters",
    "Scope",
    "VoilaOptions",
    "dashboard_command",
    "load_dashboard",
    "synth_command",
    "timeline_html",
    "voila_command",
]


def __getattr__(name: str) -> Any:
    # The widgets need ipywidgets (the "notebook" extra); the CLI imports this package
    # for its commands and must work without it.
    if name in ("AUTO_REFRESH", "AuditDashboard"):
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
