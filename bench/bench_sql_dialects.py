"""How to write the product's queries for DuckDB and PostgreSQL: three candidates measured.

    .venv/bin/python bench/bench_sql_dialects.py                 # 5,000 runs, 2,000 calls
    .venv/bin/python bench/bench_sql_dialects.py --runs 20000 --pg-url postgresql://...

1. A synthetic DuckDB store (``neonhub_nb.synth``, plus circuit-breaker transitions) is
   copied row for row into a fresh PostgreSQL database through ``store.pg.upsert_batch``
   (a local cluster from ``scripts/postgres.sh`` unless ``--pg-url`` names a server whose
   user may create databases).
2. The product's real read queries are captured by running the real functions
   (``store/queries.py``, ``dashboard/aggregates.py``, ``metrics/tally.py`` and
   ``store/baselines.py``) on the DuckDB file through a recording connection: each query
   is the exact text and parameters the product sends.
3. Each query is run on PostgreSQL as each candidate writes it, and its rows compared with
   DuckDB's (times in UTC, numbers to 6 places, JSON parsed, rows as a multiset):

   * ``text``: one text per engine; the product's own PostgreSQL text where it holds one
     (``store.dialect.Sql``, captured from the call), else the DuckDB text with only its
     placeholders converted (``?`` -> ``%s``) when that already runs, else a PostgreSQL
     text written here by hand (:data:`PG_TEXTS`, from before the product held its own).
   * ``sqlglot``: ``sqlglot.transpile(text, read="duckdb", write="postgres")``, then the
     same placeholder conversion.
   * ``sqlalchemy``: the query rebuilt in SQLAlchemy Core and compiled per dialect; written
     for a representative subset (:data:`CORE`), one per dialect feature the product uses.

Prints per query: ok / wrong rows / error for each candidate, and per candidate the
median cost of producing the PostgreSQL text per call (build + compile / transpile; the
hand-written texts are a dict lookup) over ``--calls`` calls.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import sqlalchemy as sa
import sqlglot
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import aggregate_order_by

from neonhub_nb.dashboard import aggregates as dash
from neonhub_nb.dashboard.data import Period, RunFilters
from neonhub_nb.metrics.tally import StoreTally
from neonhub_nb.store import baselines
from neonhub_nb.store import queries as store_queries
from neonhub_nb.store import schema as duck_schema
from neonhub_nb.store.dialect import Sql
from neonhub_nb.store.ingest import ingest_segments
from neonhub_nb.store.pg import apply_migrations, connect, upsert_batch
from neonhub_nb.store.rollups import create_rollups, drop_rollups
from neonhub_nb.store.spool import SpoolWriter, encode_events
from neonhub_nb.synth import SYNTH_END, generate_synthetic_store

ROOT = Path(__file__).resolve().parents[1]
PG_SCRIPT = ROOT / "scripts" / "postgres.sh"


# ----------------------------------------------------------------------------- data
def build_duckdb(path: Path, runs: int) -> None:
    generate_synthetic_store(path, runs, seed=3, days=10)
    con = duckdb.connect(str(path))
    # Breaker transitions, which the synthetic store has none of (the trend and events).
    con.execute(
        """INSERT INTO tool_executions BY NAME
           SELECT 'brk-' || i AS execution_id, run_id, 99 AS seq, 'circuit_breaker' AS tool,
                  'transition' AS operation, 'succeeded' AS status, started_at,
                  0.0 AS duration_ms,
                  json_object('agent', agent, 'from', 'closed', 'to', 'open',
                              'failures', 5, 'reason', 'five failures') AS request,
                  NULL AS response, NULL AS error
           FROM (SELECT row_number() OVER () AS i, * FROM agent_runs
                 WHERE status = 'failed' LIMIT 40)"""
    )
    # Rows added beside the ingester: the dashboard's cells are built again from them.
    drop_rollups(con)
    create_rollups(con)
    con.close()


def copy_to_postgres(path: Path, url: str, chunk: int = 2000) -> None:
    duck = duckdb.connect(str(path), read_only=True)
    with connect(url, autocommit=True) as con:
        apply_migrations(con)
        tables = ("agent_runs", "tool_executions", "agent_run_metrics", "content_drafts")
        for table in tables:
            cursor = duck.execute(f"SELECT * FROM {table}")
            names = [d[0] for d in cursor.description]
            while rows := cursor.fetchmany(chunk):
                batch = [dict(zip(names, row, strict=True)) for row in rows]
                done = upsert_batch(con, {table: batch}, now=datetime.now(UTC))
                assert done.committed
        create_rollups(con)  # the cells of the copied rows, as the ingester keeps them
        # The inserting transaction's id (migration 12) is the exporter's bookkeeping,
        # which a DuckDB file leaves empty; it is not what this benchmark compares.
        for table in ("agent_runs", "tool_executions", "agent_run_metrics"):
            con.execute(f"UPDATE {table} SET ingest_xid = NULL")
        con.execute("ANALYZE")
    duck.close()


# ------------------------------------------------------------------ capturing queries
@dataclass
class Captured:
    name: str
    text: str
    params: list[Any]
    #: The product's own PostgreSQL text, when it holds one (``store.dialect.Sql``).
    pg: str | None = None


class Recorder:
    """A DuckDB connection that records every statement with the product function that
    sent it."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.seen: list[Captured] = []

    def execute(self, query: str, params: Any = None) -> Any:
        stack = inspect.stack()[1:]
        # store.dialect picks the text by engine and hands this recorder DuckDB's; the
        # product's PostgreSQL text, if it has one, is in the dialect call's ``query``.
        pg = next(
            (
                f.frame.f_locals["query"].postgres
                for f in stack
                if f.frame.f_globals.get("__name__") == "neonhub_nb.store.dialect"
                and isinstance(f.frame.f_locals.get("query"), Sql)
            ),
            None,
        )
        caller = next(
            f
            for f in stack
            if f.frame.f_globals.get("__name__", "").startswith("neonhub_nb")
            and f.frame.f_globals.get("__name__") != "neonhub_nb.store.dialect"
            and f.function not in {"timed_df", "fetch_rows", "timed"}
        )
        module = caller.frame.f_globals["__name__"].rsplit(".", 2)
        name = f"{module[-2]}.{module[-1]}.{caller.function}"
        self.seen.append(Captured(name, query, list(params or []), pg))
        return self.con.execute(query, params or [])

    def register(self, name: str, table: Any) -> None:
        self.con.register(name, table)

    def unregister(self, name: str) -> None:
        self.con.unregister(name)


def capture_ingest(path: Path, work: Path) -> list[Captured]:
    """The ingester's statements, from one real pass over a spool of ten finished runs
    (each with tool calls, metrics and a draft) and a review."""
    source = duckdb.connect(str(path), read_only=True)
    spool = SpoolWriter(work / "spool")
    ids = [
        r[0]
        for r in source.execute(
            "SELECT run_id FROM agent_runs WHERE intent = 'content.generate_article' "
            "AND status = 'succeeded' LIMIT 10"
        ).fetchall()
    ]
    for run_id in ids:
        events: list[dict[str, Any]] = []
        for kind, table, key in (
            ("run", "agent_runs", "run_id"),
            ("tool", "tool_executions", "run_id"),
            ("metric", "agent_run_metrics", "run_id"),
            ("draft", "content_drafts", "run_id"),
        ):
            cursor = source.execute(f"SELECT * FROM {table} WHERE {key} = ?", [run_id])
            names = [d[0] for d in cursor.description]
            for row in cursor.fetchall():
                event = {"t": kind, "row": dict(zip(names, row, strict=True))}
                if kind == "run":
                    event["rev"] = 1
                events.append(event)
        spool.append(encode_events(events))
    draft = source.execute("SELECT draft_id FROM content_drafts LIMIT 1").fetchone()
    spool.append(
        encode_events(
            [
                {
                    "t": "review",
                    "row": {
                        "draft_id": draft[0],
                        "status": "approved",
                        "reviewer": "ana",
                        "review_note": None,
                        "reviewed_at": SYNTH_END,
                        "title": None,
                        "content": None,
                    },
                }
            ]
        )
    )
    spool.close()
    source.close()
    target = duckdb.connect(str(work / "ingest.duckdb"))
    duck_schema.apply_migrations(target)
    rec = Recorder(target)
    ingest_segments(rec, work / "spool", SYNTH_END)
    target.close()
    seen = [
        c
        for c in rec.seen
        if c.name.startswith("store.ingest._write_batch") or "spool_segments VALUES" in c.text
    ]
    for item in seen:
        table = item.text.split()[2] if item.text.startswith("INSERT") else "review_update"
        item.name = f"store.ingest.{table}"
    return seen


def capture(path: Path) -> list[Captured]:
    con = duckdb.connect(str(path), read_only=True)
    rec = Recorder(con)
    end = SYNTH_END.replace(tzinfo=None) if SYNTH_END.tzinfo else SYNTH_END
    since = end - timedelta(days=3)
    run_id = con.execute("SELECT max(run_id) FROM agent_runs WHERE status = 'failed'").fetchone()
    store_queries.runs(rec, limit=50, since=since)
    store_queries.runs(rec, limit=20, agent=["content", "seo"], status="succeeded")
    store_queries.counts_by_agent_status(rec, since=since)
    store_queries.duration_percentiles(rec, since=since)
    store_queries.runs_per_bucket(rec, since=since, bucket="day")
    store_queries.run_detail(rec, str(run_id[0]))
    store_queries.drafts(rec, status="draft")
    period = Period.days(date.fromordinal(since.toordinal()), date.fromordinal(end.toordinal()))
    dash.load_dashboard(rec, period, RunFilters(status="failed"), now=end)
    StoreTally().refresh(rec)
    baselines.run_samples(rec)
    baselines.tool_samples(rec)
    baselines.breaker_samples(rec)
    con.close()
    # One entry per distinct query text and caller (load_dashboard repeats none).
    unique: dict[tuple[str, str], Captured] = {}
    for item in rec.seen:
        unique.setdefault((item.name, item.text), item)
    named: dict[str, int] = {}
    out = []
    for item in unique.values():
        named[item.name] = named.get(item.name, 0) + 1
        suffix = f"#{named[item.name]}" if named[item.name] > 1 else ""
        out.append(Captured(item.name + suffix, item.text, item.params, item.pg))
    return out


# ---------------------------------------------------------------- the three candidates
# The exporter's incremental tally reads DuckDB's rowid (and its catalogue): PostgreSQL has
# no stable row number, so those queries need another design (e.g. an ingest sequence
# column), whatever writes the SQL.
REDESIGN = re.compile(r"\browid\b|duckdb_tables\(\)")


def placeholders(text: str) -> str:
    """DuckDB's ``?`` as psycopg's ``%s`` (and a literal % doubled): no SQL changes."""
    return re.sub(r"%(?!s\b)", "%%", text).replace("?", "%s")


# Hand-written PostgreSQL texts for the captured queries that do not run as they are.
# Keys are capture names; params are passed in the same order as DuckDB's.
_RATE_LIMITED_PG = (
    "coalesce(CASE WHEN jsonb_typeof(response->'rate_limited') = 'number' "
    "THEN (response->>'rate_limited')::float8 "
    "WHEN jsonb_typeof(response->'rate_limited') = 'boolean' "
    "THEN (response->>'rate_limited')::boolean::int::float8 END, 0)"
)
PG_TEXTS: dict[str, Callable[[Captured], str]] = {}


def _pg(name: str) -> Callable[[Callable[[Captured], str]], Callable[[Captured], str]]:
    def register(build: Callable[[Captured], str]) -> Callable[[Captured], str]:
        PG_TEXTS[name] = build
        return build

    return register


@_pg("store.queries.duration_percentiles")
def _pg_percentiles(q: Captured) -> str:
    return placeholders(
        q.text.replace(
            "quantile_cont(duration_ms, [0.5, 0.95])",
            "percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY duration_ms)",
        )
    )


@_pg("store.queries.runs")
def _pg_runs(q: Captured) -> str:
    return placeholders(
        q.text.replace(
            "page.* EXCLUDE (error)",
            "page.run_id, page.started_at, page.agent, page.intent, page.status, page.mode, "
            "page.duration_ms, page.model, page.prompt_name, page.prompt_version, "
            "page.experiment_id, page.campaign, page.variant",
        )
    )


def _group_by_all(text: str, keys: str) -> str:
    return text.replace("GROUP BY ALL", f"GROUP BY {keys}")


PG_TEXTS["store.queries.runs#2"] = _pg_runs
PG_TEXTS["store.queries.runs_per_bucket"] = lambda q: placeholders(_group_by_all(q.text, "1, 2"))
PG_TEXTS["dashboard.queries.trend"] = lambda q: placeholders(_group_by_all(q.text, "1, 2"))
PG_TEXTS["dashboard.queries.trend#2"] = lambda q: placeholders(_group_by_all(q.text, "1"))
PG_TEXTS["dashboard.queries.error_groups"] = lambda q: placeholders(_group_by_all(q.text, "1, 2"))


@_pg("dashboard.queries.choices")
def _pg_choices(q: Captured) -> str:
    return re.sub(r"\blist\(", "array_agg(", q.text)


@_pg("dashboard.queries.kpis")
def _pg_kpis(q: Captured) -> str:
    return placeholders(
        q.text.replace(
            "quantile_cont(duration_ms, [0.5, 0.95])",
            "percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY duration_ms)",
        )
    )


@_pg("dashboard.queries.recent_runs#2")
def _pg_recent_totals(q: Captured) -> str:
    return placeholders(
        q.text.replace("run_id IN (SELECT unnest(?::VARCHAR[]))", "run_id = ANY(?)")
    )


@_pg("dashboard.queries.connector_calls")
def _pg_connectors(q: Captured) -> str:
    text = q.text.replace(dash._RATE_LIMITED, f"{_RATE_LIMITED_PG} > 0")
    text = text.replace("response LIKE", "response::text LIKE")
    # PostgreSQL 15 wants a name for a subquery in FROM.
    text = re.sub(r"\)\s*GROUP BY ALL", ") AS c GROUP BY 1", text)
    return placeholders(text)


@_pg("dashboard.queries.breaker_events")
def _pg_breaker_events(q: Captured) -> str:
    return placeholders(
        q.text.replace(
            "TRY_CAST(request->>'failures' AS INTEGER)",
            "CASE WHEN jsonb_typeof(request->'failures') = 'number' "
            "THEN (request->>'failures')::numeric::int END",
        )
    )


@_pg("store.baselines.tool_samples#2")
def _pg_tool_samples(q: Captured) -> str:
    return placeholders(q.text.replace(baselines._RATE_LIMITED, _RATE_LIMITED_PG))


# SQLAlchemy Core: the same queries rebuilt, one per dialect feature the product uses.
_meta = sa.MetaData()
_runs = sa.Table(
    "agent_runs",
    _meta,
    *(
        sa.Column(c)
        for c in ("run_id", "agent", "intent", "status", "mode", "started_at", "duration_ms")
    ),
)
_tools = sa.Table(
    "tool_executions",
    _meta,
    *(sa.Column(c) for c in ("run_id", "tool", "operation", "status", "started_at")),
    sa.Column("request", postgresql.JSONB),
    sa.Column("response", postgresql.JSONB),
)
_metrics = sa.Table(
    "agent_run_metrics", _meta, sa.Column("run_id"), sa.Column("name"), sa.Column("value")
)


def _period(column: Any, q: Captured) -> list[Any]:
    since = q.params[0] if q.params else None
    return [column >= since] if since is not None else []


def _core_counts(q: Captured) -> Any:
    return (
        sa.select(_runs.c.agent, _runs.c.status, sa.func.count().label("runs"))
        .where(*_period(_runs.c.started_at, q))
        .group_by(_runs.c.agent, _runs.c.status)
        .order_by(_runs.c.agent, _runs.c.status)
    )


def _core_percentiles(q: Captured) -> Any:
    quantiles = sa.func.percentile_cont(postgresql.array([0.5, 0.95])).within_group(
        _runs.c.duration_ms
    )
    return (
        sa.select(_runs.c.agent, sa.func.count().label("runs"), quantiles.label("quantiles"))
        .where(*_period(_runs.c.started_at, q), _runs.c.duration_ms.is_not(None))
        .group_by(_runs.c.agent)
        .order_by(_runs.c.agent)
    )


def _core_per_bucket(q: Captured) -> Any:
    bucket = sa.func.date_trunc("day", _runs.c.started_at).label("bucket")
    return (
        sa.select(
            bucket,
            _runs.c.agent,
            sa.func.count().label("runs"),
            sa.func.count().filter(_runs.c.status == "failed").label("failed"),
        )
        .where(*_period(_runs.c.started_at, q))
        .group_by(bucket, _runs.c.agent)
        .order_by(bucket, _runs.c.agent)
    )


def _core_choices(q: Captured) -> Any:
    def listed(column: Any) -> Any:
        return sa.func.array_agg(aggregate_order_by(column.distinct(), column))

    return sa.select(
        listed(_runs.c.agent),
        listed(_runs.c.intent),
        listed(_runs.c.status),
        listed(_runs.c.mode),
        sa.func.count(),
        sa.func.min(_runs.c.started_at),
        sa.func.max(_runs.c.started_at),
    )


def _core_trend_opens(q: Captured) -> Any:
    bucket = sa.func.date_trunc(sa.literal_column("'day'"), _tools.c.started_at)
    return (
        sa.select(bucket, sa.func.count())
        .where(
            _tools.c.tool == "circuit_breaker",
            _tools.c.request["to"].astext == "open",
            *(
                [_tools.c.started_at >= q.params[0], _tools.c.started_at < q.params[1]]
                if len(q.params) == 2
                else []
            ),
        )
        .group_by(bucket)
    )


def _core_recent_totals(q: Captured) -> Any:
    low, high, ids = q.params
    return (
        sa.select(
            _metrics.c.run_id,
            sa.func.max(_metrics.c.value).filter(_metrics.c.name == "total_tokens"),
            sa.func.max(_metrics.c.value).filter(_metrics.c.name == "cost_usd"),
        )
        .where(
            _metrics.c.name.in_(["total_tokens", "cost_usd"]),
            _metrics.c.run_id.between(low, high),
            _metrics.c.run_id == sa.any_(sa.bindparam("ids", ids, type_=postgresql.ARRAY(sa.Text))),
        )
        .group_by(_metrics.c.run_id)
    )


CORE: dict[str, Callable[[Captured], Any]] = {
    "store.queries.counts_by_agent_status": _core_counts,
    "store.queries.duration_percentiles": _core_percentiles,
    "store.queries.runs_per_bucket": _core_per_bucket,
    "dashboard.queries.choices": _core_choices,
    "dashboard.queries.trend#2": _core_trend_opens,
    "dashboard.queries.recent_runs#2": _core_recent_totals,
}
_PG_DIALECT = postgresql.psycopg.dialect()


def compile_core(q: Captured) -> tuple[str, list[Any]]:
    compiled = CORE[q.name](q).compile(
        dialect=_PG_DIALECT, compile_kwargs={"render_postcompile": True}
    )
    params = compiled.construct_params()
    return str(compiled), [params[name] for name in compiled.positiontup or []] or dict(params)


# ------------------------------------------------------------------------ comparison
def _norm(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, Decimal | float | int) and not isinstance(value, bool):
        # sum(BIGINT) is an integer in DuckDB and numeric in PostgreSQL: same number.
        return round(float(value), 6)
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return _norm(json.loads(value))
        except ValueError:
            return value
    if isinstance(value, list | tuple):
        return tuple(_norm(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _norm(v)) for k, v in value.items()))
    return value


def _rows(rows: list[Any]) -> list[str]:
    return sorted(repr(tuple(_norm(v) for v in row)) for row in rows)


@dataclass
class Outcome:
    status: str  # ok, wrong, error, n/a
    detail: str = ""


@dataclass
class Row:
    name: str
    expected: list[str]
    outcomes: dict[str, Outcome] = field(default_factory=dict)


def run_pg(con: psycopg.Connection[Any], text: str, params: Any) -> list[Any]:
    try:
        return con.execute(text, params).fetchall()
    finally:
        con.rollback()


def judge(con: psycopg.Connection[Any], expected: list[str], build: Callable[[], Any]) -> Outcome:
    try:
        text, params = build()
        got = _rows(run_pg(con, text, params))
    except Exception as exc:
        return Outcome("error", " ".join(str(exc).split())[:70])
    if got == expected:
        return Outcome("ok")
    if os.environ.get("BENCH_DIALECTS_DIFF"):
        differ = sorted(set(got) ^ set(expected))[:2]
        print("DIFF", text[:60].replace("\n", " "), differ, file=sys.stderr)
    return Outcome("wrong", f"{len(got)} rows")


def median_us(build: Callable[[], Any], calls: int) -> float:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        build()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def transpile(q: Captured) -> str:
    return placeholders(
        sqlglot.transpile(q.text, read="duckdb", write="postgres")[0].replace("%s", "?")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--pg-url", help="an existing server (else a local one is started)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-dialects-", dir="/tmp"))
    # Its own folder under /tmp: the server may run as the postgres user.
    cluster = Path(tempfile.mkdtemp(prefix="bench-dialects-pg-", dir="/tmp"))
    try:
        if args.pg_url:
            admin = args.pg_url
        else:
            admin = subprocess.run(
                [str(PG_SCRIPT), "start", str(cluster)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
        with psycopg.connect(admin, autocommit=True) as con:
            con.execute("DROP DATABASE IF EXISTS bench_dialects")
            con.execute("CREATE DATABASE bench_dialects")
        url = admin.rsplit("/", 1)[0] + "/bench_dialects"
        duck_path = work / "store.duckdb"
        build_duckdb(duck_path, args.runs)
        copy_to_postgres(duck_path, url)
        captured = capture(duck_path)
        ingest = capture_ingest(duck_path, work)
        duck = duckdb.connect(str(duck_path), read_only=True)
        results: list[Row] = []
        timings: dict[str, list[float]] = {"text": [], "sqlglot": [], "sqlalchemy": []}
        with connect(url) as con:
            for q in captured:
                row = Row(q.name, _rows(duck.execute(q.text, q.params).fetchall()))
                if REDESIGN.search(q.text):
                    for c in ("text", "sqlglot", "sqlalchemy"):
                        row.outcomes[c] = Outcome("redesign", "rowid / duckdb_tables()")
                    results.append(row)
                    continue
                hand = PG_TEXTS.get(q.name)

                def as_text(q: Captured = q, hand: Any = hand) -> tuple[str, list[Any]]:
                    if q.pg is not None:  # the product's own second text
                        return placeholders(q.pg), q.params
                    return (hand(q) if hand else placeholders(q.text)), q.params

                row.outcomes["text"] = judge(con, row.expected, as_text)
                if q.pg is not None:
                    row.outcomes["text"].detail = "product's text " + row.outcomes["text"].detail
                elif hand:
                    row.outcomes["text"].detail = "hand-written " + row.outcomes["text"].detail
                row.outcomes["sqlglot"] = judge(
                    con, row.expected, lambda q=q: (transpile(q), q.params)
                )
                if q.name in CORE:
                    row.outcomes["sqlalchemy"] = judge(
                        con, row.expected, lambda q=q: compile_core(q)
                    )
                    timings["sqlalchemy"].append(median_us(lambda q=q: compile_core(q), args.calls))
                else:
                    row.outcomes["sqlalchemy"] = Outcome("n/a", "not rebuilt in Core")
                timings["text"].append(median_us(lambda f=as_text: f(), args.calls))
                # A text sqlglot cannot parse is counted as an error above.
                with contextlib.suppress(sqlglot.errors.SqlglotError):
                    timings["sqlglot"].append(median_us(lambda q=q: transpile(q), args.calls // 10))
                results.append(row)
            for q in ingest:
                # Staged Arrow tables and INSERT ... BY NAME exist only in DuckDB: the
                # PostgreSQL text is store/pg/upsert.py's (tests/test_pg_upsert.py checks it).
                row = Row(q.name, [])
                row.outcomes["text"] = Outcome("ok", "hand-written: store/pg/upsert.py")
                try:
                    with con.transaction():
                        con.execute(transpile(q), q.params)
                        raise psycopg.Rollback()
                    row.outcomes["sqlglot"] = Outcome("ok", "ran (rows not compared)")
                except Exception as exc:
                    row.outcomes["sqlglot"] = Outcome("error", " ".join(str(exc).split())[:70])
                row.outcomes["sqlalchemy"] = Outcome("n/a", "not rebuilt in Core")
                timings["sqlglot"].append(median_us(lambda q=q: transpile(q), args.calls // 10))
                results.append(row)
        duck.close()
        report(results, timings, args)
    finally:
        if not args.pg_url:
            subprocess.run([str(PG_SCRIPT), "stop", str(cluster)], check=False, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(cluster, ignore_errors=True)


def report(results: list[Row], timings: dict[str, list[float]], args: argparse.Namespace) -> None:
    print(
        f"{args.runs} synthetic runs in DuckDB {duckdb.__version__} and PostgreSQL; "
        f"{len(results)} distinct queries captured from the product's read paths"
    )
    print(f"{'query':40} {'text':8} {'sqlglot':8} {'sqlalchemy':10}  notes")
    for row in results:
        marks = [row.outcomes[c].status for c in ("text", "sqlglot", "sqlalchemy")]
        notes = "; ".join(
            f"{c}: {row.outcomes[c].detail}"
            for c in ("text", "sqlglot", "sqlalchemy")
            if row.outcomes[c].detail and row.outcomes[c].status not in {"n/a", "redesign"}
        )
        if marks[0] == "redesign":
            notes = "no rowid in PostgreSQL: needs another design"
        print(f"{row.name:40} {marks[0]:8} {marks[1]:8} {marks[2]:10}  {notes[:140]}")
    print()
    print(
        f"{'candidate':12} {'ok':>4} {'wrong':>6} {'error':>6} {'n/a':>4} {'redesign':>8} "
        f"{'hand-fixed':>10} {'median us/call':>15}"
    )
    for c in ("text", "sqlglot", "sqlalchemy"):
        counts = {
            s: sum(r.outcomes[c].status == s for r in results)
            for s in ("ok", "wrong", "error", "n/a", "redesign")
        }
        hand = (
            sum(1 for r in results if r.outcomes["text"].detail.startswith("hand-written"))
            if c == "text"
            else (len(CORE) if c == "sqlalchemy" else 0)
        )
        cost = statistics.median(timings[c]) if timings[c] else float("nan")
        print(
            f"{c:12} {counts['ok']:>4} {counts['wrong']:>6} {counts['error']:>6} "
            f"{counts['n/a']:>4} {counts['redesign']:>8} {hand:>10} {cost:>15.1f}"
        )
    print(
        "hand-fixed: PostgreSQL texts written by hand (text) or queries rebuilt in Core "
        "(sqlalchemy); us/call: median over the queries of each query's median"
    )


if __name__ == "__main__":
    main()
