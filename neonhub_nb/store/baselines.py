"""What each run-derived Prometheus counter counts, as SQL over the audit tables, and the
baselines that keep those counters monotonic when old rows are pruned.

Every counter is a sum of per-row contributions, so the same definitions serve three
callers: the exporter's full count (``where="TRUE"``), its incremental count of rows
added since the last scrape (``where="rowid > ?"``), and :func:`fold_into_baselines`,
which a ``prune`` calls inside its transaction, before deleting rows, to move their
contribution into ``metric_baselines``. Exposed value = baseline + what the tables
hold now, so deleting folded rows changes nothing a scrape shows.

Each query runs on a DuckDB file or a PostgreSQL team store; where the engines' SQL
differs, both texts sit side by side (:class:`~neonhub_nb.store.dialect.Sql`). The
``where`` conditions callers pass are plain SQL over the same columns in both.

Samples are keyed by their exposition name and sorted label pairs, e.g.
``("neonhub_agent_runs_total", (("agent", "content"), ("intent", "..."), ("status", ...)))``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from .dialect import Sql, executemany, fetchall
from .ingest import TERMINAL
from .rollups import rate_limited_pg

__all__ = [
    "BREAKER_FAILURES",
    "CONNECTOR_REQUESTS",
    "DURATION_BUCKETS",
    "MODEL_CALLS",
    "MODEL_CALL_BUCKETS",
    "MODEL_CALL_DURATION",
    "MODEL_COST",
    "MODEL_TOKENS",
    "QUEUE_JOBS_ADDED",
    "RATE_LIMIT_HITS",
    "RUNS_TOTAL",
    "RUN_DURATION",
    "TERMINAL",
    "Labels",
    "QueryTimer",
    "SampleKey",
    "Samples",
    "breaker_rows",
    "breaker_samples",
    "fetch_rows",
    "fold_into_baselines",
    "labels_json",
    "model_call_samples",
    "read_baselines",
    "run_samples",
    "tool_samples",
    "usage_samples",
]

RUNS_TOTAL = "neonhub_agent_runs_total"
RUN_DURATION = "neonhub_agent_run_duration_seconds"
BREAKER_FAILURES = "neonhub_circuit_breaker_failures_total"
CONNECTOR_REQUESTS = "neonhub_connector_requests_total"
RATE_LIMIT_HITS = "neonhub_rate_limit_hits_total"
QUEUE_JOBS_ADDED = "neonhub_queue_jobs_added_total"
MODEL_CALLS = "neonhub_llm_requests_total"
MODEL_TOKENS = "neonhub_llm_tokens_total"
MODEL_COST = "neonhub_llm_cost_usd_total"
MODEL_CALL_DURATION = "neonhub_llm_request_duration_seconds"

# Agent runs last from a tenth of a second (mock mode) to minutes (live, long drafts).
# Baselines store bucket counts by ``le``: changing these needs a migration that
# rewrites the histogram rows of ``metric_baselines``.
DURATION_BUCKETS: tuple[float, ...] = (
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0,
)  # fmt: skip

# One model call lasts from a millisecond (mock) to minutes (a long draft on a slow
# endpoint); the same rule as above holds for these bounds.
MODEL_CALL_BUCKETS: tuple[float, ...] = (
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0,
)  # fmt: skip

Labels = tuple[tuple[str, str], ...]
SampleKey = tuple[str, Labels]
# Wraps each query, by name, so a caller can time it (the exporter's query histogram).
QueryTimer = Callable[[str], AbstractContextManager[object]]

_CONNECTOR_PREFIX = "connector."
# A response's ``rate_limited`` may be true/false or a number of 429s met while retrying.
_RATE_LIMITED = (
    "coalesce(TRY_CAST(response->>'rate_limited' AS DOUBLE), "
    "TRY_CAST(response->>'rate_limited' AS BOOLEAN)::DOUBLE, 0)"
)


def _le(bound: float) -> str:
    # client_python's spelling of bucket bounds ("0.1", "1.0", "600.0") for these values.
    return repr(float(bound))


class Samples(dict[SampleKey, float]):
    """Sample values keyed by (sample name, sorted label pairs); ``add`` accumulates."""

    def add(self, name: str, labels: Mapping[str, str], value: float) -> None:
        key = (name, tuple(sorted(labels.items())))
        self[key] = self.get(key, 0.0) + float(value)

    def merge(self, other: Mapping[SampleKey, float]) -> Samples:
        for key, value in other.items():
            self[key] = self.get(key, 0.0) + value
        return self


def labels_json(labels: Labels) -> str:
    """The canonical text of a label set in ``metric_baselines`` (sorted, compact JSON)."""
    return json.dumps(dict(labels), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fetch_rows(
    con: Any, name: str, sql: str | Sql, params: Sequence[Any], timer: QueryTimer | None
) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` (the text for ``con``'s engine), timed as ``name``."""
    with timer(name) if timer is not None else nullcontext():
        return fetchall(con, sql, params)


def run_samples(
    con: Any,
    where: str = "TRUE",
    params: Sequence[Any] = (),
    *,
    queue: bool = True,
    timer: QueryTimer | None = None,
) -> Samples:
    """Counters over the ``agent_runs`` rows matching ``where``, in one scan.

    Runs count once they are terminal (succeeded, failed, abandoned): a terminal row never
    changes again, so the counters never go down. Runs with a duration fill the histogram.
    ``queue=False`` leaves out queue jobs (runs with an ``experiment_id``, counted when
    first seen, whatever their status).
    """
    buckets = ", ".join(
        f"count(*) FILTER (WHERE duration_ms <= {bound * 1000!r})" for bound in DURATION_BUCKETS
    )
    rows = fetch_rows(
        con,
        "runs",
        f"""SELECT agent, intent, status, mode, count(*), count(experiment_id),
                   count(duration_ms), coalesce(sum(duration_ms), 0), {buckets}
            FROM agent_runs WHERE ({where}) GROUP BY agent, intent, status, mode""",
        params,
        timer,
    )
    samples = Samples()
    for agent, intent, status, mode, runs, queued, timed, total_ms, *cumulative in rows:
        if queue and queued:
            samples.add(QUEUE_JOBS_ADDED, {}, queued)
        if status not in TERMINAL:
            continue
        labels = {"agent": agent, "intent": intent, "status": status, "mode": mode}
        samples.add(RUNS_TOTAL, labels, runs)
        if not timed:
            continue
        where_run = {"agent": agent, "intent": intent, "mode": mode}
        for bound, count in zip(DURATION_BUCKETS, cumulative, strict=True):
            samples.add(f"{RUN_DURATION}_bucket", {**where_run, "le": _le(bound)}, count)
        samples.add(f"{RUN_DURATION}_bucket", {**where_run, "le": "+Inf"}, timed)
        samples.add(f"{RUN_DURATION}_count", where_run, timed)
        samples.add(f"{RUN_DURATION}_sum", where_run, total_ms / 1000)
    return samples


def tool_samples(
    con: Any,
    where: str = "TRUE",
    params: Sequence[Any] = (),
    *,
    timer: QueryTimer | None = None,
) -> Samples:
    """Connector requests and rate-limit hits over the ``tool_executions`` rows matching
    ``where`` (a tool execution never changes once written)."""

    def text(rate_limited: str) -> str:
        return f"""SELECT tool, operation, status, count(*), sum({rate_limited})
            FROM tool_executions
            WHERE (tool = 'llm' OR starts_with(tool, '{_CONNECTOR_PREFIX}')) AND ({where})
            GROUP BY tool, operation, status"""

    rows = fetch_rows(
        con, "tools", Sql(text(_RATE_LIMITED), text(rate_limited_pg("response"))), params, timer
    )
    samples = Samples()
    for tool, operation, status, calls, limited in rows:
        if tool.startswith(_CONNECTOR_PREFIX):
            service = tool[len(_CONNECTOR_PREFIX) :]
            labels = {"service": service, "operation": operation, "status": status}
            samples.add(CONNECTOR_REQUESTS, labels, calls)
        else:
            service = "llm"
        samples.add(RATE_LIMIT_HITS, {"service": service}, limited)
    return samples


def model_call_samples(
    con: Any,
    where: str = "TRUE",
    params: Sequence[Any] = (),
    *,
    timer: QueryTimer | None = None,
) -> Samples:
    """Model calls (``tool = 'llm'`` executions, alias ``t``) matching ``where``, by the
    agent, mode and model of their run: calls by status, and their durations as a
    histogram. Plain columns only: parsing a million JSON requests would take seconds.

    A call whose run is not in the store is not counted (it has no agent), as for breaker
    failures.
    """
    buckets = ", ".join(
        f"count(*) FILTER (WHERE t.duration_ms <= {bound * 1000!r})" for bound in MODEL_CALL_BUCKETS
    )
    rows = fetch_rows(
        con,
        "model_calls",
        f"""SELECT r.agent, r.mode, coalesce(r.model, 'unknown'), t.status, count(*),
                   coalesce(sum(t.duration_ms), 0), {buckets}
            FROM tool_executions t JOIN agent_runs r ON r.run_id = t.run_id
            WHERE t.tool = 'llm' AND ({where})
            GROUP BY 1, 2, 3, 4""",
        params,
        timer,
    )
    samples = Samples()
    for agent, mode, model, status, calls, total_ms, *cumulative in rows:
        who = {"agent": agent, "mode": mode, "model": model}
        samples.add(MODEL_CALLS, {**who, "status": status}, calls)
        for bound, count in zip(MODEL_CALL_BUCKETS, cumulative, strict=True):
            samples.add(f"{MODEL_CALL_DURATION}_bucket", {**who, "le": _le(bound)}, count)
        samples.add(f"{MODEL_CALL_DURATION}_bucket", {**who, "le": "+Inf"}, calls)
        samples.add(f"{MODEL_CALL_DURATION}_count", who, calls)
        samples.add(f"{MODEL_CALL_DURATION}_sum", who, total_ms / 1000)
    return samples


_USAGE = {"prompt_tokens": "prompt", "completion_tokens": "completion", "cost_usd": None}


def usage_samples(
    con: Any,
    where: str = "TRUE",
    params: Sequence[Any] = (),
    *,
    timer: QueryTimer | None = None,
) -> Samples:
    """Tokens and cost of runs, from their ``prompt_tokens``, ``completion_tokens`` and
    ``cost_usd`` metrics (alias ``m``) matching ``where``, by the run's agent, mode and
    model. The metrics are each run's totals over its model calls, written once with the
    run's final row (a run abandoned by a dead process has none)."""

    def text(decimal: str) -> str:
        # A DECIMAL sum: the total does not depend on the order of addition, so both
        # engines (and one engine's parallel plans) give the same figure.
        return f"""SELECT r.agent, r.mode, coalesce(r.model, 'unknown'), m.name,
                   sum(m.value::{decimal})
            FROM agent_run_metrics m JOIN agent_runs r ON r.run_id = m.run_id
            WHERE m.name IN ('prompt_tokens', 'completion_tokens', 'cost_usd') AND ({where})
            GROUP BY 1, 2, 3, 4"""

    rows = fetch_rows(
        con, "usage", Sql(text("DECIMAL(38, 10)"), text("numeric(38, 10)")), params, timer
    )
    samples = Samples()
    for agent, mode, model, name, total in rows:
        value = float(total)
        who = {"agent": agent, "mode": mode, "model": model}
        kind = _USAGE[name]
        if kind is None:
            samples.add(MODEL_COST, who, value)
        else:
            samples.add(MODEL_TOKENS, {**who, "type": kind}, value)
    return samples


def breaker_rows(
    con: Any,
    where: str = "TRUE",
    params: Sequence[Any] = (),
    *,
    timer: QueryTimer | None = None,
) -> list[tuple[str, float]]:
    """``(run_id, value)`` of the ``breaker_failures`` metrics matching ``where`` (over ``m``)."""
    return [
        (str(run_id), float(value))
        for run_id, value in fetch_rows(
            con,
            "breaker_rows",
            f"""SELECT run_id, value FROM agent_run_metrics m
                WHERE m.name = 'breaker_failures' AND ({where})""",
            params,
            timer,
        )
    ]


def breaker_samples(
    con: Any,
    where: str = "TRUE",
    params: Sequence[Any] = (),
    *,
    timer: QueryTimer | None = None,
) -> Samples:
    """Circuit-breaker failures by the agent of their run, over metrics matching ``where``."""
    rows = fetch_rows(
        con,
        "breaker",
        f"""SELECT r.agent, sum(m.value)
            FROM agent_run_metrics m JOIN agent_runs r ON r.run_id = m.run_id
            WHERE m.name = 'breaker_failures' AND ({where}) GROUP BY r.agent""",
        params,
        timer,
    )
    samples = Samples()
    for agent, value in rows:
        samples.add(BREAKER_FAILURES, {"agent": agent}, value)
    return samples


def fold_into_baselines(con: Any, where_sql: str, params: Sequence[Any]) -> None:
    """Add the contribution of the runs selected by ``where_sql`` (a condition over
    ``agent_runs``) and of their tool executions and metrics to ``metric_baselines``.

    Call it inside the transaction that then deletes exactly those runs and the
    ``tool_executions`` / ``agent_run_metrics`` rows with their ``run_id``; it opens no
    transaction of its own. Runs still queued or running add only their queue job, tool
    calls and metrics (they were never counted as runs).

    >>> con.execute("BEGIN TRANSACTION")                                   # doctest: +SKIP
    >>> fold_into_baselines(con, "finished_at < ?", [cutoff])              # doctest: +SKIP
    >>> ... DELETE the same runs and their rows ..., then COMMIT           # doctest: +SKIP
    """
    owned = f"run_id IN (SELECT run_id FROM agent_runs WHERE ({where_sql}))"
    samples = run_samples(con, where_sql, params)
    samples.merge(tool_samples(con, owned, params))
    samples.merge(model_call_samples(con, f"t.{owned}", params))
    samples.merge(usage_samples(con, f"m.{owned}", params))
    samples.merge(breaker_samples(con, f"m.{owned}", params))
    rows = [(name, labels_json(labels), value) for (name, labels), value in samples.items()]
    if rows:
        executemany(
            con,
            """INSERT INTO metric_baselines VALUES (?, ?, ?)
               ON CONFLICT (metric, labels) DO UPDATE
               SET value = metric_baselines.value + excluded.value""",
            rows,
        )


def read_baselines(con: Any, *, timer: QueryTimer | None = None) -> Samples:
    """Everything folded so far, as samples (empty for stores older than the table)."""
    samples = Samples()
    for metric, labels, value in fetch_rows(
        con, "baselines", "SELECT metric, labels, value FROM metric_baselines", (), timer
    ):
        samples.add(str(metric), {str(k): str(v) for k, v in json.loads(labels).items()}, value)
    return samples
