"""The store's reads on PostgreSQL: the second texts of ``store/queries.py``,
``store/reviews.py`` and ``store/quarantine.py`` where DuckDB's do not run as they are.

Same arguments, same DataFrame columns and value shapes as the DuckDB functions (see
``session.py``), so the CLI, the widgets and notebooks cannot tell the engines apart.
Where the DuckDB text runs unchanged on PostgreSQL it is not repeated here: only its
placeholders are converted (:func:`~neonhub_nb.store.pg.session.read_frame`). The
dashboard's and the exporter's reads run their own texts through
:mod:`neonhub_nb.store.dialect`; the roll-ups are in ``rollups.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg

from ...errors import StoreError
from ...records import ReviewState
from ..lines import BadLine
from ..quarantine import KEPT_LINE_CHARS, QuarantineCounts
from ..queries import (
    RunDetail,
    first_record,
    period_clause,
    run_filter_clause,
    without_bookkeeping,
)
from ..reviews import FIRST_STATUS, TRAIL_COLUMNS, states_of
from .session import read_frame

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "counts_by_agent_status",
    "draft_states",
    "drafts",
    "duration_percentiles",
    "list_quarantine",
    "quarantine_counts",
    "quarantine_lines",
    "refresh_draft_status",
    "review_trail",
    "run_detail",
    "runs",
    "runs_per_bucket",
]

Observers = Sequence[Any]
Connection = psycopg.Connection[Any]


def runs(
    con: Connection,
    *,
    limit: int | None = 50,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    observers: Observers = (),
    **filters: str | Sequence[str] | None,
) -> pd.DataFrame:
    """Runs newest first, as :func:`neonhub_nb.store.queries.runs` (same filters)."""
    clause, params = run_filter_clause(since, until, filters, postgres=True)
    limit_clause = f"LIMIT {int(limit)}" if limit is not None else ""
    # DuckDB's text uses "page.* EXCLUDE (error)"; PostgreSQL names the columns.
    query = f"""
        WITH page AS (
            SELECT run_id, started_at, agent, intent, status, mode, duration_ms,
                   model, prompt_name, prompt_version, experiment_id, campaign, variant, error
            FROM agent_runs {clause}
            ORDER BY started_at DESC, run_id DESC {limit_clause}
        ),
        totals AS (
            SELECT run_id,
                   max(value) FILTER (WHERE name = 'total_tokens') AS total_tokens,
                   max(value) FILTER (WHERE name = 'cost_usd') AS cost_usd
            FROM agent_run_metrics
            WHERE run_id IN (SELECT run_id FROM page) AND name IN ('total_tokens', 'cost_usd')
            GROUP BY run_id
        )
        SELECT page.run_id, page.started_at, page.agent, page.intent, page.status, page.mode,
               page.duration_ms, page.model, page.prompt_name, page.prompt_version,
               page.experiment_id, page.campaign, page.variant,
               totals.total_tokens, totals.cost_usd, page.error
        FROM page LEFT JOIN totals USING (run_id)
        ORDER BY started_at DESC, run_id DESC"""
    return read_frame(con, query, params, observers=observers, name="runs")


def run_detail(con: Connection, run_id: str, observers: Observers = ()) -> RunDetail:
    """One run with its tool executions, metrics and draft (DuckDB's texts)."""

    def frame(query: str, name: str) -> pd.DataFrame:
        return read_frame(con, query, [run_id], observers=observers, name=name)

    run = frame("SELECT * FROM agent_runs WHERE run_id = ?", "run")
    if run.empty:
        raise StoreError(f"run_id: no run {run_id!r} in the audit store")
    tools = frame("SELECT * FROM tool_executions WHERE run_id = ? ORDER BY seq", "run_tools")
    metrics = frame(
        "SELECT name, value, unit FROM agent_run_metrics WHERE run_id = ? ORDER BY name",
        "run_metrics",
    )
    draft = frame("SELECT * FROM content_drafts WHERE run_id = ?", "run_draft")
    return RunDetail(
        first_record(without_bookkeeping(run)),
        without_bookkeeping(tools),
        metrics,
        None if draft.empty else first_record(draft),
    )


def drafts(
    con: Connection, *, status: str | None = None, limit: int = 50, observers: Observers = ()
) -> pd.DataFrame:
    """Drafts newest first (DuckDB's text)."""
    clause = "WHERE status = ?" if status else ""
    return read_frame(
        con,
        f"""SELECT draft_id, run_id, title, status, topic, primary_keyword, reviewer,
                   review_note, created_at, reviewed_at
            FROM content_drafts {clause} ORDER BY created_at DESC LIMIT {int(limit)}""",
        [status] if status else [],
        observers=observers,
        name="drafts",
    )


def counts_by_agent_status(
    con: Connection,
    since: datetime | None = None,
    until: datetime | None = None,
    observers: Observers = (),
) -> pd.DataFrame:
    """Runs per (agent, status) in the period, as
    :func:`neonhub_nb.store.queries.counts_by_agent_status`; text ordered by its bytes
    (``COLLATE "C"``), as DuckDB orders it."""
    clause, params = period_clause(since, until)
    return read_frame(
        con,
        f"SELECT agent, status, count(*) AS runs FROM agent_runs {clause} "
        'GROUP BY agent, status ORDER BY agent COLLATE "C", status COLLATE "C"',
        params,
        observers=observers,
        name="counts_by_agent_status",
    )


def duration_percentiles(
    con: Connection,
    since: datetime | None = None,
    until: datetime | None = None,
    observers: Observers = (),
) -> pd.DataFrame:
    """p50 and p95 duration (ms) of finished runs per agent, as
    :func:`neonhub_nb.store.queries.duration_percentiles` (``percentile_cont`` for
    DuckDB's ``quantile_cont``: the same interpolation)."""
    clause, params = period_clause(since, until)
    finished = ("AND" if clause else "WHERE") + " duration_ms IS NOT NULL"
    frame = read_frame(
        con,
        f"""SELECT agent, count(*) AS runs,
                   percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY duration_ms)
                     AS quantiles
            FROM agent_runs {clause} {finished} GROUP BY agent ORDER BY agent COLLATE "C" """,
        params,
        observers=observers,
        name="duration_percentiles",
    )
    frame["p50_ms"] = [q[0] for q in frame["quantiles"]]
    frame["p95_ms"] = [q[1] for q in frame["quantiles"]]
    return frame.drop(columns=["quantiles"])


def runs_per_bucket(
    con: Connection,
    since: datetime | None = None,
    until: datetime | None = None,
    bucket: str = "hour",
    observers: Observers = (),
) -> pd.DataFrame:
    """Runs and failures per ``hour`` or ``day`` (UTC) and agent, as
    :func:`neonhub_nb.store.queries.runs_per_bucket`."""
    if bucket not in {"hour", "day"}:
        raise StoreError(f"bucket: must be hour or day (got {bucket!r})")
    clause, params = period_clause(since, until)
    return read_frame(
        con,
        f"""SELECT date_trunc('{bucket}', started_at, 'UTC') AS bucket, agent,
                   count(*) AS runs, count(*) FILTER (WHERE status = 'failed') AS failed
            FROM agent_runs {clause} GROUP BY 1, 2 ORDER BY bucket, agent COLLATE "C" """,
        params,
        observers=observers,
        name=f"runs_per_{bucket}",
    )


# ------------------------------------------------------------------------ reviews
def draft_states(con: Connection, draft_ids: Sequence[str]) -> dict[str, ReviewState]:
    """The derived review state of each draft in ``draft_ids`` that is in the store
    (see :func:`neonhub_nb.store.reviews.draft_states`); runs in the caller's
    transaction."""
    if not draft_ids:
        return {}
    drafts_found = con.execute(
        f"""SELECT d.draft_id, {FIRST_STATUS}, d.status, d.reviewer, d.review_note, d.reviewed_at
            FROM content_drafts d LEFT JOIN agent_runs r USING (run_id)
            WHERE d.draft_id = ANY(%s)""",
        [list(draft_ids)],
    ).fetchall()
    rows = con.execute(
        f"SELECT {', '.join(TRAIL_COLUMNS)} FROM review_events WHERE draft_id = ANY(%s)",
        [list(draft_ids)],
    ).fetchall()
    return states_of(drafts_found, rows)


def refresh_draft_status(con: Connection, draft_ids: Sequence[str]) -> None:
    """Bring the cached review columns of ``draft_ids`` in line with their events, in the
    caller's transaction (see :func:`neonhub_nb.store.reviews.refresh_draft_status`)."""
    if not draft_ids:
        return
    with_events = [
        str(row[0])
        for row in con.execute(
            "SELECT DISTINCT draft_id FROM review_events WHERE draft_id = ANY(%s)",
            [list(draft_ids)],
        ).fetchall()
    ]
    for draft_id, state in draft_states(con, with_events).items():
        if state.events == 0:
            continue  # every event was refused by the rules: the draft is as it was
        con.execute(
            """UPDATE content_drafts SET status = %s, reviewer = %s, review_note = %s,
                   reviewed_at = %s, updated_at = %s,
                   title = coalesce(%s, title), content = coalesce(%s, content)
               WHERE draft_id = %s""",
            [
                state.status,
                state.reviewer,
                state.reason,
                state.decided_at,
                state.decided_at,
                state.title,
                state.content,
                draft_id,
            ],
        )


def review_trail(con: Connection, draft_id: str) -> pd.DataFrame:
    """Every decision on ``draft_id`` in decision order (DuckDB's text)."""
    return read_frame(
        con,
        """SELECT event_id, decision, reviewer, decided_at, reason, content_sha256,
                  content_bytes
           FROM review_events WHERE draft_id = ? ORDER BY decided_at, event_id""",
        [draft_id],
        name="review_trail",
    )


# --------------------------------------------------------------------- quarantine
def quarantine_lines(
    con: Connection,
    lines: Sequence[BadLine],
    now: datetime,
    machine: str,
    redact: Callable[[str], str] | None = None,
) -> int:
    """Insert ``lines`` of this machine's segments (in the caller's transaction) under
    the key ``machine/segment``; returns how many were new."""
    added = 0
    for bad in lines:
        text = bad.line.decode("utf-8", errors="replace")
        kept_whole = bad.complete and len(text) <= KEPT_LINE_CHARS
        # PostgreSQL's text cannot hold NUL: the kept line shows where it was.
        text = text[:KEPT_LINE_CHARS].replace("\x00", "\\u0000")
        if redact is not None:
            text = redact(text)
        key = bad.segment if "/" in bad.segment else f"{machine}/{bad.segment}"
        inserted = con.execute(
            """INSERT INTO ingest_quarantine (segment, line_offset, line_bytes, event_type,
                   reason, line, line_complete, quarantined_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT DO NOTHING RETURNING segment""",
            [
                key,
                bad.offset,
                len(bad.line),
                bad.event_type,
                bad.reason.replace("\x00", "\\u0000"),
                text,
                kept_whole,
                now,
            ],
        ).fetchall()
        added += len(inserted)
    return added


def quarantine_counts(con: Connection) -> QuarantineCounts:
    """Lines in quarantine now (``open``) and ever (``total``)."""
    frame = read_frame(
        con,
        "SELECT count(*) FILTER (WHERE resolved_at IS NULL) AS open, count(*) AS total "
        "FROM ingest_quarantine",
        name="quarantine_counts",
    )
    return QuarantineCounts(open=int(frame["open"][0]), total=int(frame["total"][0]))


def list_quarantine(
    con: Connection, *, include_resolved: bool = False, limit: int = 100
) -> pd.DataFrame:
    """Quarantined lines, oldest first (DuckDB's text); ``segment`` is
    ``machine/segment``."""
    where = "" if include_resolved else "WHERE resolved_at IS NULL"
    return read_frame(
        con,
        f"""SELECT segment, line_offset, line_bytes, event_type, reason, line,
                   line_complete AS retryable, quarantined_at, retried_at, resolved_at
            FROM ingest_quarantine {where}
            ORDER BY quarantined_at, segment, line_offset LIMIT {int(limit)}""",
        name="quarantine",
    )
