"""The Prometheus collector that reads run-derived metrics from the audit store.

Counters kept in a process die with it and never add up across kernels; these are
computed at scrape time from what the store holds (plus the baselines of pruned rows),
so every exporter, in any process, after any restart, reports the same numbers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import duckdb
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ..errors import StoreError
from ..store.baselines import (
    BREAKER_FAILURES,
    CONNECTOR_REQUESTS,
    MODEL_CALL_DURATION,
    MODEL_CALLS,
    MODEL_COST,
    MODEL_TOKENS,
    QUEUE_JOBS_ADDED,
    RATE_LIMIT_HITS,
    RUN_DURATION,
    RUNS_TOTAL,
    QueryTimer,
    Samples,
)
from ..store.dialect import is_postgres
from ..store.quarantine import QuarantineCounts, quarantine_counts
from .tally import IN_PROGRESS, StoreTally, TallyResult

if TYPE_CHECKING:
    import pandas as pd

    from ..store.base import Store

__all__ = [
    "QUARANTINED",
    "QUARANTINE_OPEN",
    "STORE_UP",
    "UNKNOWN",
    "StoreCollector",
    "metrics_table",
]

STORE_UP = "neonhub_store_up"
#: Spool lines ever set aside by ingestion (a counter: retried lines stay counted).
QUARANTINED = "neonhub_ingest_quarantined_lines"
#: Spool lines in quarantine now (not yet retried into the store).
QUARANTINE_OPEN = "neonhub_ingest_quarantine_open_lines"
_QUARANTINED_HELP = "Spool lines the audit store could not hold and set aside (ever)."
_QUARANTINE_OPEN_HELP = "Spool lines in quarantine now (see `neonhub-nb quarantine`)."
log = logging.getLogger(__name__)
#: The value of a label a sample does not carry: counts folded into the baselines by a
#: prune before that label existed (``mode`` before this version) cannot be split by it.
UNKNOWN = "unknown"

# name -> (help, label names); the order of the exposition.
_COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    RUNS_TOTAL: (
        "Agent runs that reached a terminal status (succeeded, failed, abandoned), by the "
        "mode they ran in (mock, live, replay).",
        ("agent", "status", "intent", "mode"),
    ),
    BREAKER_FAILURES: (
        "Failures counted by each agent's circuit breaker (agent_run_metrics breaker_failures).",
        ("agent",),
    ),
    CONNECTOR_REQUESTS: (
        "Connector calls recorded as tool executions, by service, operation and outcome.",
        ("service", "operation", "status"),
    ),
    RATE_LIMIT_HITS: (
        "Rate-limit answers met by connector and LLM calls (response rate_limited).",
        ("service",),
    ),
    QUEUE_JOBS_ADDED: (
        "Runs queued by experiment grids (runs carrying an experiment_id).",
        (),
    ),
    MODEL_CALLS: (
        "Model calls (tool llm), by outcome and by the agent, mode and model of their run.",
        ("agent", "model", "mode", "status"),
    ),
    MODEL_TOKENS: (
        "Tokens of runs' model calls (type prompt or completion), from each run's recorded "
        "totals, by the agent, mode and model of the run.",
        ("agent", "model", "mode", "type"),
    ),
    MODEL_COST: (
        "Cost of runs' model calls in US dollars (price table at the time of the run), by "
        "the agent, mode and model of the run.",
        ("agent", "model", "mode"),
    ),
}
# Histograms: name -> (help, label names without le), each after the counter it follows.
_HISTOGRAMS: dict[str, tuple[str, tuple[str, ...]]] = {
    RUN_DURATION: ("Duration of finished agent runs, in seconds.", ("agent", "intent", "mode")),
    MODEL_CALL_DURATION: (
        "Duration of model calls (all attempts, succeeded or failed), in seconds.",
        ("agent", "model", "mode"),
    ),
}
_AFTER = {RUNS_TOTAL: RUN_DURATION, MODEL_CALLS: MODEL_CALL_DURATION}
_IN_PROGRESS_HELP = "Runs queued or running now (not yet counted in neonhub_agent_runs_total)."
_STORE_UP_HELP = "1 if the last scrape could read the audit store, else 0."


Redact = Callable[[str], str]


def _label_values(
    labels: dict[str, str], names: tuple[str, ...], redact: Redact | None = None
) -> list[str]:
    values = [labels.get(name, UNKNOWN) for name in names]
    # Label values come from the store (model names, operations): redacted when written,
    # and once more here, the exporter's own boundary (rows written by other code).
    return [redact(value) for value in values] if redact is not None else values


def _bound(le: str) -> float:
    return float("inf") if le == "+Inf" else float(le)


def _families(result: TallyResult | None, redact: Redact | None = None) -> Iterator[Metric]:
    """Metric families for ``result``; ``None`` gives empty families (``describe``).
    ``redact`` cleans every label value."""
    samples = result.samples if result is not None else Samples()
    by_name: dict[str, list[tuple[dict[str, str], float]]] = {}
    for (name, pairs), value in sorted(samples.items()):
        by_name.setdefault(name, []).append((dict(pairs), value))

    for name, (help_text, label_names) in _COUNTERS.items():
        family = CounterMetricFamily(name, help_text, labels=label_names)
        rows = by_name.get(name, [])
        if not label_names and result is not None and not rows:
            rows = [({}, 0.0)]  # an unlabelled counter exists from the start, at zero
        merged: dict[tuple[str, ...], float] = {}
        for labels, value in rows:
            key = tuple(_label_values(labels, label_names, redact))
            merged[key] = merged.get(key, 0.0) + value
        for key, value in merged.items():
            family.add_metric(list(key), value)
        yield family
        if name in _AFTER:
            yield _histogram(by_name, _AFTER[name], redact)

    names = ("agent", "intent", "status", "mode")
    gauge = GaugeMetricFamily(IN_PROGRESS, _IN_PROGRESS_HELP, labels=names)
    if result is not None:
        for (_, pairs), value in sorted(result.in_progress.items()):
            gauge.add_metric(_label_values(dict(pairs), names, redact), value)
    yield gauge


def _histogram(
    by_name: dict[str, list[tuple[dict[str, str], float]]], name: str, redact: Redact | None
) -> Metric:
    help_text, label_names = _HISTOGRAMS[name]
    family = HistogramMetricFamily(name, help_text, labels=label_names)
    buckets: dict[tuple[str, ...], dict[str, float]] = {}
    for labels, value in by_name.get(f"{name}_bucket", []):
        key = tuple(_label_values(labels, label_names, redact))
        merged = buckets.setdefault(key, {})
        # Baselines folded before a label existed land under "unknown"; add them up.
        merged[labels["le"]] = merged.get(labels["le"], 0.0) + value
    sums: dict[tuple[str, ...], float] = {}
    for labels, value in by_name.get(f"{name}_sum", []):
        key = tuple(_label_values(labels, label_names, redact))
        sums[key] = sums.get(key, 0.0) + value
    for key in sorted(buckets):
        ordered = sorted(buckets[key].items(), key=lambda bucket: _bound(bucket[0]))
        # Sums of float milliseconds differ in the last bits with the order they were
        # added in (full count, increments, baselines); a microsecond is far below what
        # the clock measures and keeps the exposition identical.
        family.add_metric(list(key), ordered, sum_value=round(sums.get(key, 0.0), 6))
    return family


def _engine_error(exc: BaseException) -> bool:
    """Whether ``exc`` is the database engine's own error (DuckDB's or psycopg's), which
    a scrape reports as the store being unreadable."""
    return isinstance(exc, duckdb.Error) or type(exc).__module__.startswith("psycopg")


def _quarantine_counts(con: Any) -> QuarantineCounts:
    if is_postgres(con):
        from ..store.pg.queries import quarantine_counts as team_counts

        return team_counts(con)
    return quarantine_counts(con)


class StoreCollector(Collector):
    """Prometheus collector computing neonhub's run-derived metrics from an audit store.

    Each scrape opens the store briefly, counts what changed since the last scrape (see
    :mod:`neonhub_nb.metrics.tally`) and yields the counters, the duration histogram, the
    runs in flight and ``neonhub_store_up``. If the store cannot be read it yields only
    ``neonhub_store_up 0``: no stale numbers.

    >>> registry = CollectorRegistry()                            # doctest: +SKIP
    >>> registry.register(StoreCollector(store))                  # doctest: +SKIP
    """

    def __init__(self, store: Store, *, timer: QueryTimer | None = None) -> None:
        self.store = store
        self.timer = timer
        self.tally = StoreTally()
        self.last_error: str | None = None
        #: Quarantined lines as of the last scrape.
        self.quarantine = QuarantineCounts(open=0, total=0)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"StoreCollector({self.store!r})"

    def refresh(self) -> TallyResult:
        """Count the store now (raises :class:`StoreError` if it cannot be read)."""
        with self._lock:
            try:
                with self.store.connect() as con:
                    result = self.tally.refresh(con, self.timer)
                    self.quarantine = _quarantine_counts(con)
                    return result
            except Exception as exc:
                if not _engine_error(exc):
                    raise
                text = " ".join(str(exc).split()) or type(exc).__name__
                raise StoreError(f"cannot read metrics from {self.store.label}: {text}") from None

    def describe(self) -> Iterable[Metric]:
        # Lets a registry check names without a scrape (which would read the store).
        yield from _families(None)
        yield CounterMetricFamily(QUARANTINED, _QUARANTINED_HELP)
        yield GaugeMetricFamily(QUARANTINE_OPEN, _QUARANTINE_OPEN_HELP)
        yield GaugeMetricFamily(STORE_UP, _STORE_UP_HELP)

    def collect(self) -> Iterable[Metric]:
        try:
            result = self.refresh()
        except StoreError as exc:
            self.last_error = str(exc)
            log.warning("metrics scrape could not read the audit store: %s", exc)
            yield GaugeMetricFamily(STORE_UP, _STORE_UP_HELP, value=0)
            return
        self.last_error = None
        yield from _families(result, self.store.redactor.text)
        yield CounterMetricFamily(QUARANTINED, _QUARANTINED_HELP, value=self.quarantine.total)
        yield GaugeMetricFamily(QUARANTINE_OPEN, _QUARANTINE_OPEN_HELP, value=self.quarantine.open)
        yield GaugeMetricFamily(STORE_UP, _STORE_UP_HELP, value=1)


_LABEL_COLUMNS = (
    "agent",
    "intent",
    "mode",
    "model",
    "type",
    "status",
    "service",
    "operation",
    "le",
)


def metrics_table(store: Store | None = None) -> pd.DataFrame:
    """The exporter's run-derived numbers as a DataFrame, without starting a server.

    One row per sample (``metric``, one column per label, ``value``), exactly what
    ``/metrics`` would show for the store (default: the store at $NEONHUB_DB).

    >>> t = metrics_table()                                                 # doctest: +SKIP
    >>> t[t.metric == "neonhub_agent_runs_total"].groupby("status").value.sum()  # doctest: +SKIP
    """
    import pandas as pd

    owned = store is None
    if store is None:
        from ..config import load_settings
        from ..store.backend import open_store

        store = open_store(load_settings())
    try:
        rows = [
            {"metric": sample.name, **sample.labels, "value": sample.value}
            for family in StoreCollector(store).collect()
            for sample in family.samples
        ]
    finally:
        if owned:
            store.close()
    columns = ["metric", *[c for c in _LABEL_COLUMNS if any(c in row for row in rows)], "value"]
    return pd.DataFrame(rows, columns=columns)
