"""Counting the store at scrape time without rescanning it on every scrape.

A full count of a million runs parses every LLM response for ``rate_limited`` (seconds),
far over a scrape budget. The audit tables change in only three ways, each of which
the tally follows cheaply:

* rows are appended (ingestion never rewrites a tool execution or a terminal run), and
  DuckDB gives appended rows higher ``rowid`` s, so each scrape counts only the rows
  above the last one it saw (``rowid`` filters are pushed into the scan);
* a queued or running run becomes terminal in place: the tally keeps the ``rowid`` s of
  the runs it saw unfinished (a few, in flight) and counts each when it finishes;
* ``prune`` deletes rows after folding them into ``metric_baselines``.

Every scrape first checks ``count(*) == rows seen + rows above the mark`` for each table
and a fingerprint of the baselines and of the file; any mismatch (a prune, a deletion,
rowids renumbered by a vacuum, another file at the same path) throws the tally away and
counts everything again, so the numbers stay exact while the usual scrape stays cheap.

A PostgreSQL team store has no stable row number, and neither a sequence nor a count
would do: numbers taken from a sequence become visible in commit order, not in number
order (two machines ingest at once), so a mark would skip a row committed late; and
``count(*)`` reads every row there (seconds at a million runs, where DuckDB reads a
number it keeps). Instead each row records the transaction that inserted it
(``ingest_xid``, migration 11), and each scrape reads, in one REPEATABLE READ snapshot,
the rows whose transaction lies between the last scrape's horizon and this one's:
the snapshot's ``xmin``, below which every transaction has ended, so no row can still
appear there. Runs seen unfinished are remembered by ``run_id``. The check is a
fingerprint of the baselines (a prune folds into them in its transaction), of the
database (its first migration's time) and the tables' deleted-row counters
(``pg_stat_user_tables.n_tup_del``: a deletion without folding, seen within a second or
so, as the server publishes its counters).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..store.baselines import (
    BREAKER_FAILURES,
    TERMINAL,
    QueryTimer,
    Samples,
    breaker_rows,
    breaker_samples,
    fetch_rows,
    model_call_samples,
    read_baselines,
    run_samples,
    tool_samples,
    usage_samples,
)
from ..store.dialect import is_postgres

__all__ = ["IN_PROGRESS", "StoreTally", "TallyResult"]

IN_PROGRESS = "neonhub_agent_runs_in_progress"
_TABLES = ("agent_runs", "tool_executions", "agent_run_metrics")
_TERMINAL_SQL = "(" + ", ".join(f"'{status}'" for status in TERMINAL) + ")"
# Up to this many run ids, DuckDB finds runs through the primary-key index; beyond it,
# a join scans agent_runs once, which is cheaper than thousands of lookups.
_INDEX_LOOKUP_MAX = 500


@dataclass
class _Mark:
    rowid: int = -1  # highest rowid counted
    rows: int = 0  # rows in the table when it was counted


@dataclass(frozen=True)
class TallyResult:
    """Counter samples (baselines + live rows) and in-flight runs, as of one refresh."""

    samples: Samples
    in_progress: Samples
    recounted: bool
    runs: int


@dataclass
class StoreTally:
    """The run-derived counters of one store, kept current by counting only what changed.

    Not thread-safe: its owner (the collector) serialises refreshes.
    """

    recounts: int = 0
    _live: Samples = field(default_factory=Samples)
    _baselines: Samples = field(default_factory=Samples)
    _marks: dict[str, _Mark] = field(default_factory=lambda: {t: _Mark() for t in _TABLES})
    # rowid (DuckDB) or run_id (PostgreSQL) -> labels of a run seen unfinished
    _pending: dict[Any, tuple[str, str, str, str]] = field(default_factory=dict)
    _identity: tuple[Any, ...] | None = None
    _has_baselines: bool = False
    # PostgreSQL: rows of transactions below this id are counted (None: none yet), and
    # how many runs they hold.
    _horizon: int | None = None
    _runs: int = 0

    def reset(self) -> None:
        """Forget everything: the next refresh counts the whole store."""
        self._live = Samples()
        self._baselines = Samples()
        self._marks = {table: _Mark() for table in _TABLES}
        self._pending = {}
        self._identity = None
        self._has_baselines = False
        self._horizon = None
        self._runs = 0

    def refresh(self, con: Any, timer: QueryTimer | None = None) -> TallyResult:
        """Bring the tally up to date with the open connection ``con``."""
        try:
            return self._refresh(con, timer)
        except BaseException:
            self.reset()  # half-applied counts would be counted twice: start over next time
            raise

    def _refresh(self, con: Any, timer: QueryTimer | None) -> TallyResult:
        if is_postgres(con):
            with _one_snapshot(con):
                return self._refresh_pg(con, timer)
        blank = self._identity is None  # nothing counted yet: the survey is from scratch
        totals, tops, identity = self._survey(con, timer)
        recounted = blank or identity != self._identity
        recounted = recounted or any(
            totals[t][0] != self._marks[t].rows + totals[t][1] for t in _TABLES
        )
        if recounted:
            if not blank:
                self.reset()
                totals, tops, identity = self._survey(con, timer)
            self.recounts += 1
            if identity[1]:
                self._baselines = read_baselines(con, timer=timer)
            self._identity = identity
        self._count_runs(con, tops["agent_runs"], timer)
        self._count_tools(con, tops["tool_executions"], timer)
        self._count_metrics(con, tops["agent_run_metrics"], timer)
        for table in _TABLES:
            mark = self._marks[table]
            mark.rowid = max(mark.rowid, tops[table])
            mark.rows = totals[table][0]
        return self._result(recounted, totals["agent_runs"][0])

    def _result(self, recounted: bool, runs: int) -> TallyResult:
        in_progress = Samples()
        for agent, intent, status, mode in self._pending.values():
            labels = {"agent": agent, "intent": intent, "status": status, "mode": mode}
            in_progress.add(IN_PROGRESS, labels, 1)
        return TallyResult(
            samples=Samples(self._live).merge(self._baselines),
            in_progress=in_progress,
            recounted=recounted,
            runs=runs,
        )

    # ------------------------------------------------------------------ PostgreSQL
    def _refresh_pg(self, con: Any, timer: QueryTimer | None) -> TallyResult:
        horizon, identity = self._survey_pg(con, timer)
        recounted = self._identity is None or identity != self._identity
        if recounted:
            self.reset()
            self.recounts += 1
            self._baselines = read_baselines(con, timer=timer)
            self._identity = identity
        low = self._horizon
        # Rows inserted with no ingest_xid (a writer naming the column) count in full counts.
        window, params = (
            ("ingest_xid >= ? AND ingest_xid < ?", [low, horizon])
            if low is not None
            else ("(ingest_xid < ? OR ingest_xid IS NULL)", [horizon])
        )
        if low is None or horizon > low:
            self._runs += self._count_runs_pg(con, window, params, timer)
            self._live.merge(tool_samples(con, window, params, timer=timer))
            prefixed = window.replace("ingest_xid", "t.ingest_xid")
            self._live.merge(model_call_samples(con, prefixed, params, timer=timer))
            prefixed = window.replace("ingest_xid", "m.ingest_xid")
            self._live.merge(usage_samples(con, prefixed, params, timer=timer))
            self._live.merge(breaker_samples(con, prefixed, params, timer=timer))
        self._horizon = horizon if low is None else max(low, horizon)
        return self._result(recounted, self._runs)

    def _survey_pg(self, con: Any, timer: QueryTimer | None) -> tuple[int, tuple[Any, ...]]:
        """The snapshot's horizon, and what tells this store's history apart: its first
        migration's time, the baselines, and rows deleted from the counted tables."""
        tables = ", ".join(f"'{table}'::regclass" for table in _TABLES)
        row = fetch_rows(
            con,
            "tally_survey",
            f"""SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint,
                       (SELECT min(applied_at) FROM schema_migrations),
                       (SELECT count(*) FROM metric_baselines),
                       (SELECT sum(value) FROM metric_baselines),
                       (SELECT coalesce(sum(n_tup_del), 0) FROM pg_stat_user_tables
                        WHERE relid IN ({tables}))""",
            (),
            timer,
        )[0]
        return int(row[0]), tuple(row[1:])

    def _count_runs_pg(
        self, con: Any, window: str, params: list[Any], timer: QueryTimer | None
    ) -> int:
        """Count the window's runs and the pending runs that finished; returns how many
        runs the window holds."""
        if self._pending:
            ids = sorted(self._pending)
            still = fetch_rows(
                con,
                "tally_pending",
                f"""SELECT run_id, agent, intent, status, mode FROM agent_runs
                    WHERE run_id = ANY(?::text[]) AND status NOT IN {_TERMINAL_SQL}""",
                [ids],
                timer,
            )
            waiting = {str(run_id): (a, i, s, m) for run_id, a, i, s, m in still}
            finished = [run_id for run_id in ids if run_id not in waiting]
            self._pending = waiting
            if finished:
                # Their queue job was counted when they were first seen, unfinished.
                among = "run_id = ANY(?::text[])"
                self._live.merge(run_samples(con, among, [finished], queue=False, timer=timer))
        samples = run_samples(con, window, params, timer=timer)
        self._live.merge(samples)
        unfinished = fetch_rows(
            con,
            "tally_unfinished",
            f"""SELECT run_id, agent, intent, status, mode FROM agent_runs
                WHERE ({window}) AND status NOT IN {_TERMINAL_SQL}""",
            params,
            timer,
        )
        for run_id, agent, intent, status, mode in unfinished:
            self._pending[str(run_id)] = (agent, intent, status, mode)
        counted = fetch_rows(
            con, "tally_rows", f"SELECT count(*) FROM agent_runs WHERE {window}", params, timer
        )
        return int(counted[0][0])

    def _survey(
        self, con: Any, timer: QueryTimer | None
    ) -> tuple[dict[str, tuple[int, int]], dict[str, int], tuple[Any, ...]]:
        """Per table: (rows, rows above the mark), the highest rowid; and the identity."""
        if not self._has_baselines:  # once migrated, a store keeps the table
            self._has_baselines = bool(
                con.execute(
                    "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'metric_baselines'"
                ).fetchone()[0]
            )
        has_baselines = self._has_baselines
        parts: list[str] = []
        params: list[Any] = []
        for table in _TABLES:
            mark = self._marks[table].rowid
            parts += [
                f"(SELECT count(*) FROM {table})",
                f"(SELECT count(*) FROM {table} WHERE rowid > ?)",
                f"(SELECT coalesce(max(rowid), -1) FROM {table} WHERE rowid > ?)",
            ]
            params += [mark, mark]
        parts.append("(SELECT min(applied_at) FROM schema_migrations)")
        if has_baselines:
            parts.append("(SELECT count(*) FROM metric_baselines)")
            parts.append("(SELECT sum(value) FROM metric_baselines)")
        row = fetch_rows(con, "tally_survey", f"SELECT {', '.join(parts)}", params, timer)[0]
        totals = {t: (int(row[3 * i]), int(row[3 * i + 1])) for i, t in enumerate(_TABLES)}
        tops = {t: int(row[3 * i + 2]) for i, t in enumerate(_TABLES)}
        # The file's creation time tells one store from another put at the same path.
        identity = (row[9], *row[10:]) if has_baselines else (row[9], None)
        return totals, tops, identity

    def _count_runs(self, con: Any, top: int, timer: QueryTimer | None) -> None:
        mark = self._marks["agent_runs"].rowid
        finished: list[int] = []
        if self._pending:
            ids = sorted(self._pending)
            still = fetch_rows(
                con,
                "tally_pending",
                f"""SELECT rowid, agent, intent, status, mode FROM agent_runs
                    WHERE rowid BETWEEN ? AND ? AND rowid IN (SELECT unnest(?::BIGINT[]))
                      AND status NOT IN {_TERMINAL_SQL}""",
                [ids[0], ids[-1], ids],
                timer,
            )
            waiting = {int(rowid): (a, i, s, m) for rowid, a, i, s, m in still}
            finished = [rowid for rowid in ids if rowid not in waiting]
            self._pending = waiting
        if finished:
            # Their queue job was counted when they were first seen, unfinished.
            self._live.merge(
                run_samples(
                    con,
                    "rowid BETWEEN ? AND ? AND rowid IN (SELECT unnest(?::BIGINT[]))",
                    [finished[0], finished[-1], finished],
                    queue=False,
                    timer=timer,
                )
            )
        if top <= mark:
            return
        self._live.merge(run_samples(con, "rowid > ? AND rowid <= ?", [mark, top], timer=timer))
        for rowid, agent, intent, status, mode in fetch_rows(
            con,
            "tally_unfinished",
            f"""SELECT rowid, agent, intent, status, mode FROM agent_runs
                WHERE rowid > ? AND rowid <= ? AND status NOT IN {_TERMINAL_SQL}""",
            [mark, top],
            timer,
        ):
            self._pending[int(rowid)] = (agent, intent, status, mode)

    def _count_tools(self, con: Any, top: int, timer: QueryTimer | None) -> None:
        mark = self._marks["tool_executions"].rowid
        if top <= mark:
            return
        self._live.merge(tool_samples(con, "rowid > ? AND rowid <= ?", [mark, top], timer=timer))
        # Model calls need their run's agent, mode and model: one join (no JSON parsed).
        self._live.merge(
            model_call_samples(con, "t.rowid > ? AND t.rowid <= ?", [mark, top], timer=timer)
        )

    def _count_metrics(self, con: Any, top: int, timer: QueryTimer | None) -> None:
        mark = self._marks["agent_run_metrics"].rowid
        if top <= mark:
            return
        where, params = "m.rowid > ? AND m.rowid <= ?", [mark, top]
        self._live.merge(usage_samples(con, where, params, timer=timer))
        rows = breaker_rows(con, where, params, timer=timer)
        if len(rows) > _INDEX_LOOKUP_MAX:
            self._live.merge(breaker_samples(con, where, params, timer=timer))
        elif rows:
            self._live.merge(_breakers_by_lookup(con, rows, timer))


@contextmanager
def _one_snapshot(con: Any) -> Iterator[None]:
    """Run the block in one REPEATABLE READ, READ ONLY transaction of its own, so every
    query of a refresh sees the same rows as the horizon it read; inside a transaction
    the caller already opened, in that one."""
    from psycopg import pq

    if con.info.transaction_status != pq.TransactionStatus.IDLE:
        yield
        return
    if con.autocommit:
        con.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    else:  # psycopg opens the transaction; its first statement may set its level
        con.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    try:
        yield
    finally:
        if con.autocommit:
            con.execute("ROLLBACK")
        else:
            con.rollback()


def _breakers_by_lookup(
    con: Any, rows: Sequence[tuple[str, float]], timer: QueryTimer | None
) -> Samples:
    """Same sums as :func:`breaker_samples`, finding each run's agent by its primary key
    (a join would scan every run id in the store for a handful of new metrics)."""
    agents = dict(
        fetch_rows(
            con,
            "tally_breaker_agents",
            "SELECT run_id, agent FROM agent_runs WHERE run_id = ANY(?::VARCHAR[])",
            [sorted({run_id for run_id, _ in rows})],
            timer,
        )
    )
    samples = Samples()
    for run_id, value in rows:
        if run_id in agents:  # a metric without its run has no agent to count under
            samples.add(BREAKER_FAILURES, {"agent": agents[run_id]}, value)
    return samples
