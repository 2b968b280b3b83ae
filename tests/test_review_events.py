"""Review history: every decision an appended event, the status derived by stated rules
(issue example 5), old files' decisions kept as events."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from neonhub_nb.clock import FakeClock
from neonhub_nb.errors import InvalidInputError
from neonhub_nb.records import ReviewEvent, ReviewRecord, derive_review
from neonhub_nb.store import AuditStore, Store, apply_migrations

from .audit_support import T0, good_run, line
from .backends import Backend


def _event(decision: str, minute: int, **extra: object) -> ReviewEvent:
    return ReviewEvent(
        event_id=f"rev_{minute:03d}",
        draft_id="d",
        decision=decision,  # type: ignore[arg-type]
        reviewer="Dana",
        decided_at=T0 + timedelta(minutes=minute),
        **extra,  # type: ignore[arg-type]
    )


# (first status, decisions in order) -> status after the last, or the refusal's words
RULES = [
    ("draft", ["approve"], "approved"),
    ("draft", ["reject"], "rejected"),
    ("draft", ["reject", "approve"], "reopen it"),
    ("draft", ["reject", "edit"], "reopen it"),
    ("draft", ["reject", "reopen"], "draft"),
    ("draft", ["reject", "reopen", "approve"], "approved"),
    ("draft", ["approve", "reject"], "reopen it"),
    ("draft", ["approve", "approve"], "already approved"),
    ("draft", ["approve", "edit"], "draft"),
    ("draft", ["approve", "reopen"], "draft"),
    ("draft", ["reopen"], "nothing to reopen"),
    ("truncated", ["approve"], "cut at the token limit"),
    ("truncated", ["edit", "approve"], "approved"),
    ("truncated", ["reject"], "rejected"),
    ("truncated", ["reject", "reopen"], "truncated"),
    ("truncated", ["reject", "reopen", "approve"], "cut at the token limit"),
    ("truncated", ["edit", "reject", "reopen"], "draft"),
]


@pytest.mark.parametrize(("first", "decisions", "outcome"), RULES)
def test_the_review_rules(first: str, decisions: list[str], outcome: str) -> None:
    events = [
        _event(d, i, reason="why", content="body" if d == "edit" else None)
        for i, d in enumerate(decisions)
    ]
    state = derive_review(first, events)
    if state.ignored:
        assert len(state.ignored) == 1 and state.ignored[0][0] == events[-1].event_id
        assert outcome in state.ignored[0][1]
    else:
        assert state.status == outcome
        assert state.events == len(decisions)


def test_events_are_applied_in_decision_order_not_arrival_order() -> None:
    late = _event("approve", 5)
    early = _event("reject", 1, reason="off-brand")
    state = derive_review("draft", [late, early])
    assert state.status == "rejected"
    assert state.ignored == (("rev_005", "the draft is rejected: reopen it (with a reason) "
                              "before you approve it"),)  # fmt: skip


def _store_with_a_draft(backend: Backend, *, finish: str | None = None) -> tuple[Store, str]:
    clock = FakeClock(datetime(2026, 3, 1, 9, 0))
    store = backend.store(background=False, clock=clock)
    lines = good_run("run_1", draft_status="truncated" if finish else "draft")
    if finish:
        lines += line(
            "run",
            {"run_id": "run_1", "agent": "content", "intent": "content.generate_article",
             "status": "succeeded", "mode": "mock", "started_at": T0.isoformat(),
             "ending": finish},
            1,
        )  # fmt: skip
    backend.write_segment("w", lines)
    store.flush()
    return store, "draft_run_1"


def test_reject_then_approve_is_refused_and_every_decision_is_kept(backend: Backend) -> None:
    """Issue example 5: Reject -> Approve -> Save edits used to end as status=draft still
    carrying the rejection note, with who decided what lost."""
    store, draft = _store_with_a_draft(backend)
    clock = store.clock
    assert isinstance(clock, FakeClock)
    store.review_draft(draft, "reject", "Dana", "off-brand tone")
    clock.advance(60)
    with pytest.raises(InvalidInputError, match="decision: approve: the draft is rejected"):
        store.review_draft(draft, "approve", "Eve")
    with pytest.raises(InvalidInputError, match="reopen it"):
        store.review_draft(draft, "edit", "Eve", content="# New\n\nBody")
    store.review_draft(draft, "reopen", "Eve", "fixed the tone")
    clock.advance(60)
    body = "# Better Title\n\nA kinder tone, é."
    edited = store.review_draft(draft, "edit", "Eve", content=body, title="Better Title")
    assert edited.status == "draft" and edited.note is None
    clock.advance(60)
    store.review_draft(draft, "approve", "Dana")
    clock.advance(60)
    again = store.review_draft(draft, "edit", "Fay", content=body + " More.")
    assert again.status == "draft"
    assert again.note == "edited after approval: back to review"

    trail = store.review_trail(draft)
    assert trail["decision"].tolist() == ["reject", "reopen", "edit", "approve", "edit"]
    assert trail["reviewer"].tolist() == ["Dana", "Eve", "Eve", "Dana", "Fay"]
    assert trail["reason"].tolist()[:2] == ["off-brand tone", "fixed the tone"]
    assert trail["decided_at"].is_monotonic_increasing
    assert trail["content_sha256"][2] == hashlib.sha256(body.encode()).hexdigest()
    assert int(trail["content_bytes"][2]) == len(body.encode())
    row = store.sql("SELECT * FROM content_drafts WHERE draft_id = ?", [draft]).iloc[0]
    assert (row["status"], row["reviewer"], row["review_note"]) == ("draft", "Fay", None)
    assert row["content"] == body + " More." and row["title"] == "Better Title"
    store.close()


def test_a_truncated_draft_is_approved_only_after_an_edit(backend: Backend) -> None:
    store, draft = _store_with_a_draft(backend, finish="truncated")
    assert store.review_state(draft).status == "truncated"
    with pytest.raises(InvalidInputError, match="cut at the token limit"):
        store.review_draft(draft, "approve", "Dana")
    store.review_draft(draft, "edit", "Dana", content="# Whole\n\nNow complete.")
    assert store.review_draft(draft, "approve", "Dana").status == "approved"
    store.close()


@pytest.mark.parametrize(
    ("decision", "reviewer", "reason", "content", "rule"),
    [
        ("approve", "  ", None, None, "reviewer: must not be empty"),
        ("reject", "Dana", None, None, "reason: must say why when you reject a draft"),
        ("reopen", "Dana", " ", None, "reason: must say why when you reopen a draft"),
        ("edit", "Dana", None, "  ", "content: must hold the edited draft"),
        ("publish", "Dana", None, None, "decision: must be one of approve, reject, edit"),
        ("approve", "D\udcffana", None, None, "reviewer: must be valid UTF-8 text"),
        ("approve", "x" * 201, None, None, "reviewer: must be at most 200 characters"),
        ("reject", "Dana", "x" * 2001, None, "reason: must be at most 2000 characters"),
    ],
)
def test_bad_review_fields_are_refused_and_nothing_is_written(
    backend: Backend, decision: str, reviewer: str, reason: str | None, content: str | None,
    rule: str,
) -> None:  # fmt: skip
    store, draft = _store_with_a_draft(backend)
    with pytest.raises(InvalidInputError, match=rule.replace("(", r"\(")):
        store.review_draft(draft, decision, reviewer, reason, content=content)
    assert store.review_trail(draft).empty
    store.close()


def test_an_unknown_draft_is_refused(backend: Backend) -> None:
    store, _ = _store_with_a_draft(backend)
    with pytest.raises(InvalidInputError, match="draft_id: no draft 'draft_nope'"):
        store.review_draft("draft_nope", "approve", "Dana")
    store.close()


def test_old_files_keep_their_decisions_as_events(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    apply_migrations(con, up_to=6)
    for draft, status, note, content in (
        ("d_ok", "approved", None, "text"),
        ("d_no", "rejected", "off-brand", "text"),
        ("d_ed", "draft", None, "edited text"),
        ("d_new", "draft", None, "untouched"),
    ):
        reviewed = None if draft == "d_new" else T0
        con.execute(
            """INSERT INTO content_drafts (draft_id, run_id, title, content, status,
                   created_at, updated_at, reviewer, review_note, reviewed_at)
               VALUES (?, 'r', 'T', ?, ?, ?, ?, ?, ?, ?)""",
            [draft, content, status, T0, T0, None if reviewed is None else "Dana", note,
             reviewed],
        )  # fmt: skip
    con.close()

    store = AuditStore(db, background=False)
    events = store.sql("SELECT * FROM review_events ORDER BY draft_id")
    assert events["draft_id"].tolist() == ["d_ed", "d_no", "d_ok"]
    assert events["decision"].tolist() == ["edit", "reject", "approve"]
    assert events["reason"].tolist()[1] == "off-brand"
    assert events["content_sha256"][0] == hashlib.sha256(b"edited text").hexdigest()
    assert events["content_bytes"][0] == len("edited text")
    assert store.review_state("d_no").status == "rejected"
    with pytest.raises(InvalidInputError, match="reopen it"):
        store.review_draft("d_no", "approve", "Eve")
    store.close()


def test_review_lines_of_older_writers_become_events(backend: Backend) -> None:
    legacy = ReviewRecord(
        draft_id="draft_run_1", status="rejected", reviewer="Dana", review_note="no",
        reviewed_at=T0 + timedelta(hours=1),
    )  # fmt: skip
    backend.write_segment("old", good_run("run_1") + line("review", legacy.model_dump(mode="json")))
    backend.write_segment("old", line("review", legacy.model_dump(mode="json")))  # read twice
    store = backend.store(background=False)
    store.flush()
    trail = store.review_trail("draft_run_1")
    assert trail["decision"].tolist() == ["reject"]
    assert store.review_state("draft_run_1").status == "rejected"
    store.close()


def test_show_prints_the_review_trail(backend: Backend) -> None:
    store, draft = _store_with_a_draft(backend)
    store.review_draft(draft, "reject", "Dana", "off-brand tone")
    store.close()
    shown = backend.cli("show", "run_1")
    assert shown.returncode == 0, shown.stderr
    assert "draft draft_run_1 (rejected)" in shown.stdout
    assert "review trail (UTC):" in shown.stdout
    assert "2026-03-01 09:00:00  reject  by Dana  reason: off-brand tone" in shown.stdout
    as_json = backend.cli("show", "run_1", "--json")
    assert '"decision": "reject"' in as_json.stdout


def test_show_says_when_the_drafts_text_is_a_reviewers_edit(backend: Backend) -> None:
    store, draft = _store_with_a_draft(backend)
    before = backend.cli("show", "run_1")
    assert "\noutput:\n" in before.stdout and "edited by a reviewer" not in before.stdout
    store.review_draft(draft, "edit", "Dana", content="# Shorter\n\nA reviewer's own text.")
    store.close()
    after = backend.cli("show", "run_1")
    assert after.returncode == 0, after.stderr
    assert "output (the draft's text as last edited by a reviewer" in after.stdout
    assert "A reviewer's own text." in after.stdout


def test_a_secret_in_an_edit_is_redacted_and_the_hash_describes_what_is_stored(
    backend: Backend,
) -> None:
    store, draft = _store_with_a_draft(backend)
    secret = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb3dEf6h"
    store.review_draft(draft, "edit", "Dana", content=f"# T\n\nkey {secret} here")
    trail = store.sql("SELECT content, content_sha256, content_bytes FROM review_events")
    stored = trail["content"][0]
    assert secret not in stored and "[REDACTED" in stored
    assert trail["content_sha256"][0] == hashlib.sha256(stored.encode()).hexdigest()
    assert int(trail["content_bytes"][0]) == len(stored.encode())
    assert secret not in store.sql("SELECT content FROM content_drafts")["content"][0]
    store.close()
