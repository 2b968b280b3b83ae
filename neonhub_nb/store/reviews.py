"""Review history: decisions are appended to ``review_events``; a draft's status is derived.

``content_drafts.status`` (with ``reviewer``, ``review_note``, ``reviewed_at`` and, after
an edit, ``title`` and ``content``) is a cache of :func:`~neonhub_nb.records.derive_review`
over the draft's events, refreshed in the same transaction that ingests them. The first
status is the draft's own until it is reviewed, then the run's: a run whose answers did not
all end ``complete`` (``agent_runs.ending``) left a ``truncated`` draft, any other a
``draft``, as the orchestrator decides when it records the draft.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from duckdb import DuckDBPyConnection

from ..records import ReviewEvent, ReviewState, columns_of, derive_review
from .quarantine import has_table

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FIRST_STATUS",
    "TRAIL_COLUMNS",
    "draft_states",
    "refresh_draft_status",
    "review_trail",
    "states_of",
]

TRAIL_COLUMNS = tuple(c.name for c in columns_of(ReviewEvent))
# A draft never reviewed still holds its first status; once reviewed, its first status is
# what the orchestrator gave it: ``draft`` for a complete answer, else ``truncated``.
FIRST_STATUS = """CASE
                   WHEN d.reviewed_at IS NULL AND d.status IN ('draft', 'truncated') THEN d.status
                   WHEN r.ending IS NULL OR r.ending = 'complete' THEN 'draft'
                   ELSE 'truncated' END"""


def draft_states(con: DuckDBPyConnection, draft_ids: Sequence[str]) -> dict[str, ReviewState]:
    """The derived review state of each draft in ``draft_ids`` that is in the store.

    A draft without events is as its row says (a store written by other means, an older
    file opened read-only, or a draft nobody reviewed yet)."""
    if not draft_ids:
        return {}
    drafts = con.execute(
        f"""SELECT d.draft_id, {FIRST_STATUS}, d.status, d.reviewer, d.review_note, d.reviewed_at
            FROM content_drafts d LEFT JOIN agent_runs r USING (run_id)
            WHERE list_contains(?, d.draft_id)""",
        [list(draft_ids)],
    ).fetchall()
    rows: list[tuple[Any, ...]] = []
    if has_table(con, "review_events"):
        columns = ", ".join(TRAIL_COLUMNS)
        rows = con.execute(
            f"SELECT {columns} FROM review_events WHERE list_contains(?, draft_id)",
            [list(draft_ids)],
        ).fetchall()
    return states_of(drafts, rows)


def states_of(
    drafts: Sequence[tuple[Any, ...]], event_rows: Sequence[tuple[Any, ...]]
) -> dict[str, ReviewState]:
    """The review state of each draft from its rows, on either engine: ``drafts`` rows of
    (draft_id, first status, status, reviewer, review_note, reviewed_at), ``event_rows``
    of :data:`TRAIL_COLUMNS`. A draft with events is derived from them; one without is as
    its row says."""
    events: dict[str, list[ReviewEvent]] = defaultdict(list)
    for row in event_rows:
        event = ReviewEvent.model_validate(dict(zip(TRAIL_COLUMNS, row, strict=True)))
        events[event.draft_id].append(event)
    states: dict[str, ReviewState] = {}
    for draft_id, initial, status, reviewer, note, reviewed_at in drafts:
        if draft_id in events:
            states[draft_id] = derive_review(initial, events[draft_id])
        else:
            states[draft_id] = ReviewState(
                status=status,
                complete=status != "truncated",
                reviewer=reviewer,
                reason=note,
                decided_at=reviewed_at,
            )
    return states


def refresh_draft_status(con: DuckDBPyConnection, draft_ids: Sequence[str]) -> None:
    """Bring the cached review columns of ``draft_ids`` in line with their events."""
    with_events = [
        row[0]
        for row in con.execute(
            "SELECT DISTINCT draft_id FROM review_events WHERE list_contains(?, draft_id)",
            [list(draft_ids)],
        ).fetchall()
    ]
    for draft_id, state in draft_states(con, with_events).items():
        if state.events == 0:
            continue  # every event was refused by the rules: the draft is as it was
        con.execute(
            """UPDATE content_drafts SET status = ?, reviewer = ?, review_note = ?,
                   reviewed_at = ?, updated_at = ?,
                   title = coalesce(?, title), content = coalesce(?, content)
               WHERE draft_id = ?""",
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


def review_trail(con: DuckDBPyConnection, draft_id: str) -> pd.DataFrame:
    """Every decision on ``draft_id`` in the order decided: event id, decision, reviewer,
    time (naive UTC), reason, and for edits the content's sha256 and size in bytes."""
    if not has_table(con, "review_events"):  # an older file: its one kept decision
        legacy: pd.DataFrame = con.execute(
            """SELECT 'rev_migrated_' || draft_id AS event_id,
                      CASE status WHEN 'approved' THEN 'approve' WHEN 'rejected' THEN 'reject'
                                  ELSE 'edit' END AS decision,
                      reviewer, reviewed_at AS decided_at, review_note AS reason,
                      NULL::VARCHAR AS content_sha256, NULL::BIGINT AS content_bytes
               FROM content_drafts WHERE draft_id = ? AND reviewed_at IS NOT NULL""",
            [draft_id],
        ).df()
        return legacy
    frame: pd.DataFrame = con.execute(
        """SELECT event_id, decision, reviewer, decided_at, reason, content_sha256,
                  content_bytes
           FROM review_events WHERE draft_id = ? ORDER BY decided_at, event_id""",
        [draft_id],
    ).df()
    return frame
