"""Prometheus metrics for neonhub-nb, read from the audit store at scrape time.

``start_exporter()`` serves ``/metrics`` and ``/health`` (CLI: ``neonhub-nb metrics``);
``metrics_table()`` shows the same numbers in a notebook without a server;
``build_registry(store)`` gives a fresh registry for tests or an existing server.
Definitions of every metric: ``docs/metrics.md``.

>>> from neonhub_nb.metrics import start_exporter, metrics_table   # doctest: +SKIP
>>> exporter = start_exporter(find_free_port=True)                 # doctest: +SKIP
"""

from .collector import (
    QUARANTINE_OPEN,
    QUARANTINED,
    STORE_UP,
    UNKNOWN,
    StoreCollector,
    metrics_table,
)
from .command import metrics_command
from .exporter import (
    BUILD_INFO,
    DEFAULT_PORT,
    Exporter,
    ExporterError,
    MetricsApp,
    build_labels,
    build_registry,
    start_exporter,
)
from .tally import IN_PROGRESS, StoreTally, TallyResult

__all__ = [
    "BUILD_INFO",
    "DEFAULT_PORT",
    "IN_PROGRESS",
    "QUARANTINED",
    "QUARANTINE_OPEN",
    "STORE_UP",
    "UNKNOWN",
    "Exporter",
    "ExporterError",
    "MetricsApp",
    "StoreCollector",
    "StoreTally",
    "TallyResult",
    "build_labels",
    "build_registry",
    "metrics_command",
    "metrics_table",
    "start_exporter",
]
