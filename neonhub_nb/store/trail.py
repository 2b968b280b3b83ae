"""The review trail and the quarantine, as methods of :class:`~neonhub_nb.store.AuditStore`.

Kept apart from ``audit.py`` (spool, ingestion, connections) because they are the trail's
own rules: review decisions are appended events checked against the draft's derived state
(``records.next_review_state``), and quarantined lines are listed and retried.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from ..clock import Clock
from ..errors import InvalidInputError
from ..ids import new_id
from ..records import ReviewEvent, ReviewRuleError, ReviewState, content_digest, next_review_state
from ..redaction import safe_value
from .spool import event_head

if TYPE_CHECKING:
    import pandas as pd

    from .quarantine import QuarantineCounts, RetryReport

__all__ = ["TrailMethods"]

R = TypeVar("R", bound=BaseModel)

_REVIEW_EVENT = event_head("review_event")


class TrailMethods:
    """Review decisions and quarantine, over the store's spool and connections."""

    if TYPE_CHECKING:
        clock: Clock

        def connect(self, *, write: bool = False) -> AbstractContextManager[Any]: ...

        def _redact(self, record: R) -> tuple[R, list[str]]: ...

        def _row_line(self, head: bytes, row: dict[str, Any]) -> bytes: ...

        def _append(self, data: bytes, *, sync: bool = False) -> None: ...

    def review_draft(
        self,
        draft_id: str,
        decision: str,
        reviewer: str,
        reason: str | None = None,
        *,
        title: str | None = None,
        content: str | None = None,
    ) -> ReviewState:
        """Append a review decision on a draft and return the draft's new review state.

        ``decision`` is ``approve``, ``reject`` (needs a ``reason``), ``edit`` (needs the
        new ``content``; ``title`` optional) or ``reopen`` (needs a ``reason``). The older
        statuses ``approved``, ``rejected`` and ``draft`` (saving edits) are accepted too.
        The draft's current state is derived from its earlier decisions, and a decision
        its rules refuse raises :class:`InvalidInputError` (``decision: <rule>``) with
        nothing written; see :func:`neonhub_nb.records.next_review_state` for the rules.
        """
        from ..models import validate_review

        decision = validate_review(decision, reviewer, reason, content=content)
        state = self.review_state(draft_id)
        digest, size = content_digest(content if decision == "edit" else None)
        event = ReviewEvent(
            event_id=new_id("rev"),
            draft_id=draft_id,
            decision=decision,
            reviewer=reviewer.strip(),
            decided_at=self.clock.now(),
            reason=reason.strip() if reason and reason.strip() else None,
            title=title if decision == "edit" else None,
            content=content if decision == "edit" else None,
            content_sha256=digest,
            content_bytes=size,
        )
        try:
            new_state = next_review_state(state, event)
        except ReviewRuleError as refusal:
            raise InvalidInputError("decision", f"{decision}: {refusal}", decision) from None
        clean, found = self._redact(event)
        if found and clean.content is not None:
            # The hash and size describe the content as stored (a secret was replaced).
            digest, size = content_digest(clean.content)
            clean = clean.model_copy(update={"content_sha256": digest, "content_bytes": size})
        self._append(self._row_line(_REVIEW_EVENT, clean.model_dump()), sync=True)
        return new_state

    def review_state(self, draft_id: str) -> ReviewState:
        """Where the review of ``draft_id`` stands, derived from its events (spooled ones
        included: the read ingests first)."""
        from .reviews import draft_states

        with self.connect() as con:
            states = draft_states(con, [draft_id])
        if draft_id not in states:
            raise InvalidInputError(
                "draft_id", f"no draft {safe_value(draft_id)} in the audit store"
            )
        return states[draft_id]

    def review_trail(self, draft_id: str) -> pd.DataFrame:
        """Every review decision on ``draft_id`` in order (see ``reviews.review_trail``)."""
        from .reviews import review_trail

        with self.connect() as con:
            return review_trail(con, draft_id)

    def quarantine_counts(self) -> QuarantineCounts:
        """Lines in quarantine now (``open``) and ever (``total``)."""
        from .quarantine import quarantine_counts

        with self.connect() as con:
            return quarantine_counts(con)

    def quarantine(self, *, include_resolved: bool = False, limit: int = 100) -> pd.DataFrame:
        """Quarantined spool lines, oldest first (see :mod:`neonhub_nb.store.quarantine`)."""
        from .quarantine import list_quarantine

        with self.connect() as con:
            return list_quarantine(con, include_resolved=include_resolved, limit=limit)

    def retry_quarantine(self) -> RetryReport:
        """Check every open quarantined line again and ingest those that pass now."""
        from .quarantine import retry_quarantine

        with self.connect(write=True) as con:
            return retry_quarantine(con, self.clock.now())
