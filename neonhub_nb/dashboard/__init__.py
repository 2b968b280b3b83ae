"""The stakeholders' dashboard: read-only audit KPIs, trends, failures and runs in Voila.

``AuditDashboard`` builds the page from ipywidgets; ``queries`` holds its SQL (tested
without a browser), ``charts`` its SVG charts, ``views`` its HTML; ``server`` serves
``dashboards/audit_dashboard.ipynb`` with Voila (``neonhub-nb dashboard``). See
``docs/dashboard.md``.
"""

from .app import AUTO_REFRESH, AuditDashboard
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
