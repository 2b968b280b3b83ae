"""Export, retention (prune) and snapshots of the audit store.

All three work through :meth:`AuditStore.connect`, so they see every spooled run and hold
the file only while they run. Exports pass every text and JSON column through the store's
redactor on the way out (rows are redacted when written; this also cleans rows written by
other code, or before a credential was in the settings). A team store (PostgreSQL) has
its own versions in ``store/pg/maintenance.py``; each function here hands such a store
over to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import duckdb

from ..clock import parse_age as _parse_age
from ..errors import InvalidInputError, StoreError
from ..redaction import Redactor, safe_value
from .connection import one_row
from .recognise import one_line
from .schema import rollback

if TYPE_CHECKING:
    from .base import Store
    from .pg.store import PgStore

__all__ = [
    "AWAITING_REVIEW",
    "EXPORT_TABLES",
    "PruneReport",
    "export_store",
    "parse_age",
    "prunable_runs",
    "prune",
    "snapshot",
]

ExportFormat = Literal["parquet", "csv", "jsonl"]
EXPORT_TABLES = (
    "agent_runs",
    "tool_executions",
    "agent_run_metrics",
    "content_drafts",
    "review_events",
)
_COPY_OPTIONS = {"parquet": "FORMAT parquet", "csv": "FORMAT csv, HEADER", "jsonl": "FORMAT json"}


def parse_age(text: str) -> timedelta:
    """``90d``, ``12h``, ``2w`` ... as a timedelta (see :func:`neonhub_nb.clock.parse_age`)."""
    return _parse_age(text, "older_than")


def _run_filter(since: object, until: object) -> tuple[str, list[Any]]:
    from .queries import period_clause

    clause, params = period_clause(since, until)
    return clause.removeprefix("WHERE ") or "TRUE", params


def export_store(
    store: Store,
    out_dir: Path,
    fmt: ExportFormat = "parquet",
    *,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
) -> dict[str, Path]:
    """Write the five audit tables (runs started in ``[since, until)``, their tool calls,
    metrics, drafts and every review decision on those drafts) to ``out_dir``.

    ``since``/``until`` take ages (``7d``), naive times (UTC) or aware ones (see
    :func:`neonhub_nb.clock.parse_time`)."""
    if fmt not in _COPY_OPTIONS:
        raise InvalidInputError(
            "format", f"must be one of parquet, csv, jsonl (got {safe_value(fmt)})"
        )
    if store.backend == "postgresql":
        from .pg.maintenance import export_store as export_team

        return export_team(_team(store), out_dir, fmt, since=since, until=until)
    out_dir.mkdir(parents=True, exist_ok=True)
    where, params = _run_filter(since, until)
    selects = {
        "agent_runs": f"SELECT * FROM agent_runs WHERE {where} ORDER BY started_at, run_id",
        "tool_executions": (
            f"SELECT t.* FROM tool_executions t JOIN agent_runs r USING (run_id) "
            f"WHERE {where.replace('started_at', 'r.started_at')} ORDER BY t.run_id, t.seq"
        ),
        "agent_run_metrics": (
            f"SELECT m.* FROM agent_run_metrics m JOIN agent_runs r USING (run_id) "
            f"WHERE {where.replace('started_at', 'r.started_at')} ORDER BY m.run_id, m.name"
        ),
        "content_drafts": (
            f"SELECT d.* FROM content_drafts d JOIN agent_runs r USING (run_id) "
            f"WHERE {where.replace('started_at', 'r.started_at')} ORDER BY d.created_at, d.draft_id"
        ),
        # Every review decision on those drafts: who decided what, when, and why.
        "review_events": (
            f"SELECT e.* FROM review_events e JOIN content_drafts d USING (draft_id) "
            f"JOIN agent_runs r ON r.run_id = d.run_id "
            f"WHERE {where.replace('started_at', 'r.started_at')} "
            f"ORDER BY e.decided_at, e.event_id"
        ),
    }
    written: dict[str, Path] = {}
    with store.connect() as con:
        _register_redact(con, store.redactor)
        for table, query in selects.items():
            path = out_dir / f"{table}.{fmt}"
            literal = str(path).replace("'", "''")
            redacted = _redacted_select(con, query, params)
            try:
                con.execute(f"COPY ({redacted}) TO '{literal}' ({_COPY_OPTIONS[fmt]})", params)
            except duckdb.Error as exc:
                raise StoreError(f"export: cannot write {path}: {one_line(exc)}") from None
            written[table] = path
    return written


_REDACT_UDF = "neonhub_redact"


def _register_redact(con: duckdb.DuckDBPyConnection, redactor: Redactor) -> None:
    """``neonhub_redact(text)``: the redactor over a whole Arrow batch at a time.

    One literal pass over the batch decides whether any value can hold a secret (the
    common case: none can, and the batch is returned as it is); only then is each value
    redacted on its own.
    """
    import pyarrow as pa
    from duckdb.func import ARROW

    def redact(values: Any) -> Any:  # a pyarrow string array, batch by batch
        texts = values.to_pylist()
        batch = "\n".join(t for t in texts if t).encode("utf-8", "surrogatepass")
        if not redactor.scanner.may_contain(batch):
            return values
        return pa.array([redactor.text(t) if t else t for t in texts], type=pa.string())

    con.create_function(
        _REDACT_UDF,
        redact,
        [duckdb.sqltype("VARCHAR")],
        duckdb.sqltype("VARCHAR"),
        type=ARROW,
        side_effects=False,
    )


def _redacted_select(con: duckdb.DuckDBPyConnection, query: str, params: list[Any]) -> str:
    """``query`` with each text column passed through ``neonhub_redact`` (JSON columns
    as their text, then cast back), same column names and order."""
    columns = con.execute(f"DESCRIBE ({query})", params).fetchall()
    shown = []
    for name, kind, *_ in columns:
        quoted = '"' + str(name).replace('"', '""') + '"'
        if kind == "VARCHAR":
            shown.append(f"{_REDACT_UDF}({quoted}) AS {quoted}")
        elif kind == "JSON":
            shown.append(f"{_REDACT_UDF}({quoted}::VARCHAR)::JSON AS {quoted}")
        else:
            shown.append(quoted)
    return f"SELECT {', '.join(shown)} FROM ({query})"


@dataclass(frozen=True)
class PruneReport:
    """What a prune deleted (or, with ``dry_run``, would delete)."""

    cutoff: datetime
    runs: int
    tool_executions: int
    metrics: int
    drafts: int
    #: Review decisions on the deleted drafts (their trail goes with them).
    review_events: int = 0
    #: Runs old enough but kept because a draft of theirs awaits a review decision.
    kept_unreviewed: int = 0
    #: True when nothing was deleted: the counts are what a prune would delete now.
    dry_run: bool = False


#: Draft statuses that still wait for a decision (``content_drafts.status`` caches the
#: status derived from the review events; see ``store/reviews.py``).
AWAITING_REVIEW = "('draft', 'truncated')"


def prunable_runs(param: str, *, include_unreviewed: bool) -> tuple[str, str]:
    """``(runs to delete, old runs kept for review)`` as SQL conditions on
    ``agent_runs``, each taking the cutoff once as ``param`` (``?`` on DuckDB, ``%s`` on
    PostgreSQL). Unfinished runs are never pruned; nor, unless ``include_unreviewed``,
    runs whose drafts await review: a prune must not lose work nobody has decided on."""
    old = f"started_at < {param} AND status NOT IN ('queued', 'running')"
    waiting = f"run_id IN (SELECT run_id FROM content_drafts WHERE status IN {AWAITING_REVIEW})"
    if include_unreviewed:
        return old, f"FALSE AND started_at < {param}"  # (the same one parameter)
    return f"{old} AND NOT {waiting}", f"{old} AND {waiting}"


def prune(
    store: Store,
    older_than: timedelta,
    *,
    now: datetime | None = None,
    include_unreviewed: bool = False,
    dry_run: bool = False,
) -> PruneReport:
    """Delete finished runs started before ``now - older_than`` with everything they own.

    One transaction: either every row of a pruned run goes, or none does. Runs still
    ``queued``/``running`` are kept whatever their age, and so are runs whose drafts await
    review unless ``include_unreviewed``. Before deleting, the runs' counts are folded
    into ``metric_baselines`` so Prometheus counters never go down. ``dry_run`` does all
    of it and rolls back: the report says what a prune would delete now. A team store
    needs its owner's URL for this (the writer role cannot delete).
    """
    if store.backend == "postgresql":
        from .pg.maintenance import prune as prune_team

        return prune_team(
            _team(store),
            older_than,
            now=now,
            include_unreviewed=include_unreviewed,
            dry_run=dry_run,
        )
    from .baselines import fold_into_baselines
    from .rollups import refresh_hours, rollup_hours

    cutoff = (now or store.clock.now()) - older_than
    where, kept_where = prunable_runs("?", include_unreviewed=include_unreviewed)
    counted: dict[str, int] = {}
    with store.connect(write=True) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            (kept,) = one_row(con, f"SELECT count(*) FROM agent_runs WHERE {kept_where}", [cutoff])
            con.execute(
                f"CREATE TEMP TABLE pruned AS SELECT run_id FROM agent_runs WHERE {where}", [cutoff]
            )
            fold_into_baselines(con, "run_id IN (SELECT run_id FROM pruned)", [])
            hours = rollup_hours(con, "run_id IN (SELECT run_id FROM pruned)")
            # A pruned draft's review trail goes with it (prune is the one deletion rule).
            counted["review_events"] = len(
                con.execute(
                    "DELETE FROM review_events WHERE draft_id IN (SELECT draft_id FROM "
                    "content_drafts WHERE run_id IN (SELECT run_id FROM pruned)) "
                    "RETURNING draft_id"
                ).fetchall()
            )
            for table in ("tool_executions", "agent_run_metrics", "content_drafts", "agent_runs"):
                deleted = con.execute(
                    f"DELETE FROM {table} WHERE run_id IN (SELECT run_id FROM pruned) "
                    "RETURNING run_id"
                ).fetchall()
                counted[table] = len(deleted)
            con.execute("DROP TABLE pruned")
            refresh_hours(con, hours)
            con.execute("ROLLBACK" if dry_run else "COMMIT")
        except Exception:
            rollback(con)
            raise
        if not dry_run:
            con.execute("CHECKPOINT")
    return PruneReport(
        cutoff=cutoff,
        runs=counted["agent_runs"],
        tool_executions=counted["tool_executions"],
        metrics=counted["agent_run_metrics"],
        drafts=counted["content_drafts"],
        review_events=counted["review_events"],
        kept_unreviewed=int(kept),
        dry_run=dry_run,
    )


def snapshot(
    store: Store,
    destination: Path,
    *,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
) -> Path:
    """Copy the store to ``destination``, a DuckDB file analysts can keep open for hours.

    A DuckDB store is copied whole (``since``/``until`` are refused); a team store's
    runs of the period ``[since, until)`` (all by default) are pulled from PostgreSQL
    with everything they own (see :func:`neonhub_nb.store.pg.maintenance.snapshot`).
    """
    if store.backend == "postgresql":
        from .pg.maintenance import snapshot as snapshot_team

        snapshot_team(_team(store), destination, since=since, until=until)
        return destination
    if since is not None or until is not None:
        raise InvalidInputError(
            "since", "a DuckDB store is copied whole; a period is for a team store's snapshot"
        )
    if destination.exists():
        raise InvalidInputError("destination", f"{destination} exists; choose a new file name")
    destination.parent.mkdir(parents=True, exist_ok=True)
    literal = str(destination).replace("'", "''")
    with store.connect(write=True) as con:
        try:
            con.execute(f"ATTACH '{literal}' AS snapshot_target")
            try:
                source = one_row(con, "SELECT current_database()")[0]
                con.execute(f'COPY FROM DATABASE "{source}" TO snapshot_target')
            finally:
                con.execute("DETACH snapshot_target")
        except duckdb.Error as exc:
            raise StoreError(f"snapshot: cannot write {destination}: {one_line(exc)}") from None
    return destination


def _team(store: Store) -> PgStore:
    """``store`` as the team store it says it is (the PostgreSQL functions take one)."""
    from .pg.store import PgStore

    if not isinstance(store, PgStore):
        raise StoreError(f"{store.label}: says it is a PostgreSQL store but is not a PgStore")
    return store
