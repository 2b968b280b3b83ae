"""Export round-trip, prune consistency and snapshots on a real store: a DuckDB file and a
team's PostgreSQL (its owner's URL: only the owner may prune)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from neonhub_nb import DraftParams, InvalidInputError, run_agent
from neonhub_nb.clock import FakeClock
from neonhub_nb.config import Settings
from neonhub_nb.models import RunRequest
from neonhub_nb.orchestrator import build_orchestrator
from neonhub_nb.store import Store
from neonhub_nb.store.maintenance import EXPORT_TABLES, export_store, parse_age, prune, snapshot

from .backends import Backend

TABLES = EXPORT_TABLES  # the review trail included: an export forgets no decision


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    """Either backend's store, as the owner (who alone may prune a team store)."""
    owned = backend.owner(ingest_interval=0.05)
    yield owned
    owned.close()


def record_runs(store: Store, settings: Settings, clock: FakeClock, days: list[int]) -> None:
    orchestrator = build_orchestrator(settings, store=store, clock=clock)
    for index, day in enumerate(days):
        clock._now = FakeClock().now() + timedelta(days=day)
        orchestrator.run(
            RunRequest(
                intent="content.generate_article",
                params=DraftParams(topic=f"topic {index}", primary_keyword="kw", word_count=80),
            )
        )


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_export_round_trip(store: Store, settings: Settings, tmp_path: Path, fmt: str) -> None:
    record_runs(store, settings, FakeClock(), [0, 1, 2])
    drafts = store.sql("SELECT draft_id FROM content_drafts ORDER BY draft_id")["draft_id"]
    store.review_draft(drafts[0], "reject", "Ana", "too generic")
    store.review_draft(drafts[0], "reopen", "Ana", "worth another pass")
    written = export_store(store, tmp_path / "out", fmt)  # type: ignore[arg-type]
    reader = {"parquet": "read_parquet", "csv": "read_csv_auto", "jsonl": "read_json_auto"}[fmt]
    for table in TABLES:
        exported = duckdb.sql(f"SELECT * FROM {reader}('{written[table]}')").df()
        original = store.sql(f"SELECT * FROM {table}")
        assert len(exported) == len(original) > 0
        key = exported.columns[0]
        assert sorted(exported[key].astype(str)) == sorted(original[key].astype(str))
    runs = duckdb.sql(f"SELECT * FROM {reader}('{written['agent_runs']}')").df()
    assert set(runs["status"]) == {"succeeded"}
    if fmt == "parquet":  # typed format: values come back exactly
        pd.testing.assert_series_equal(
            runs.sort_values("run_id")["duration_ms"].reset_index(drop=True),
            store.sql("SELECT * FROM agent_runs ORDER BY run_id")["duration_ms"],
        )


def test_export_since_keeps_only_newer_runs_and_their_rows(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    clock = FakeClock()
    record_runs(store, settings, clock, [0, 10, 20])
    since = FakeClock().now() + timedelta(days=5)
    written = export_store(store, tmp_path / "since", "parquet", since=since)
    runs = duckdb.sql(f"SELECT * FROM read_parquet('{written['agent_runs']}')").df()
    tools = duckdb.sql(f"SELECT * FROM read_parquet('{written['tool_executions']}')").df()
    assert len(runs) == 2
    assert set(tools["run_id"]) == set(runs["run_id"])


def test_prune_deletes_old_runs_with_everything_they_own(store: Store, settings: Settings) -> None:
    clock = FakeClock()
    record_runs(store, settings, clock, [0, 1, 100, 101])
    now = FakeClock().now() + timedelta(days=102)
    report = prune(store, timedelta(days=90), now=now, include_unreviewed=True)
    assert (report.runs, report.tool_executions, report.drafts) == (2, 2, 2)
    assert report.metrics == 2 * 7
    left = store.sql("SELECT run_id, started_at FROM agent_runs")
    assert len(left) == 2
    assert (left["started_at"] >= now - timedelta(days=90)).all()
    for table in ("tool_executions", "agent_run_metrics", "content_drafts"):
        orphans = store.sql(
            f"SELECT count(*) AS n FROM {table} WHERE run_id NOT IN (SELECT run_id FROM agent_runs)"
        )["n"][0]
        assert orphans == 0, table


def test_prune_keeps_running_runs_whatever_their_age(store: Store) -> None:
    store.record_run_started(
        {
            "run_id": "run_open",
            "agent": "content",
            "intent": "content.generate_article",
            "mode": "mock",
            "status": "running",
            "started_at": FakeClock().now(),
            "input": {},
        }
    )
    report = prune(store, timedelta(days=1), now=FakeClock().now() + timedelta(days=400))
    assert report.runs == 0
    assert store.sql("SELECT status FROM agent_runs")["status"].tolist() == ["running"]


def test_prune_keeps_drafts_awaiting_review_and_a_dry_run_deletes_nothing(
    store: Store, settings: Settings
) -> None:
    record_runs(store, settings, FakeClock(), [0, 1, 2, 100])
    drafts = store.sql(
        "SELECT d.draft_id FROM content_drafts d JOIN agent_runs r USING (run_id) "
        "ORDER BY r.started_at"
    )["draft_id"].tolist()
    store.review_draft(drafts[0], "approve", "Ana")
    store.review_draft(drafts[1], "reject", "Ana", "off brand")
    now = FakeClock().now() + timedelta(days=102)
    before = store.sql("SELECT count(*) AS n FROM agent_runs")["n"][0]

    preview = prune(store, timedelta(days=90), now=now, dry_run=True)
    assert (preview.runs, preview.drafts, preview.kept_unreviewed, preview.dry_run) == (
        2, 2, 1, True
    )  # fmt: skip
    assert preview.review_events == 2  # the approval and the rejection go with their drafts
    assert store.sql("SELECT count(*) AS n FROM agent_runs")["n"][0] == before

    report = prune(store, timedelta(days=90), now=now)
    assert (report.runs, report.drafts, report.kept_unreviewed) == (2, 2, 1)
    assert report.review_events == 2
    left = store.sql("SELECT draft_id, status FROM content_drafts ORDER BY draft_id")
    assert sorted(left["draft_id"]) == sorted(drafts[2:])  # the waiting one and the young one
    assert set(left["status"]) == {"draft"}

    everything = prune(store, timedelta(days=90), now=now, include_unreviewed=True)
    assert (everything.runs, everything.kept_unreviewed) == (1, 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("90d", timedelta(days=90)), ("12h", timedelta(hours=12)), ("2w", timedelta(weeks=2))],
)
def test_parse_age(text: str, expected: timedelta) -> None:
    assert parse_age(text) == expected


@pytest.mark.parametrize("text", ["1000000d", "36526d", "5218w", "99999999999d"])
def test_an_age_beyond_a_hundred_years_is_refused_in_one_line(text: str) -> None:
    # Before: an OverflowError traceback from "now minus the age".
    from neonhub_nb.clock import parse_time

    with pytest.raises(InvalidInputError, match="older_than: must be at most 36525 days"):
        parse_age(text)
    with pytest.raises(InvalidInputError, match="since: must be at most 36525 days"):
        parse_time(timedelta(days=10**6), "since")
    assert parse_age("36525d") == timedelta(days=36525)


def test_parse_age_rejects_nonsense() -> None:
    with pytest.raises(InvalidInputError, match="older_than: must be a number and a unit"):
        parse_age("ninety days")


def test_snapshot_is_a_full_independent_copy(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    run_agent(
        "content.generate_article",
        DraftParams(topic="t", primary_keyword="k", word_count=80),
        store=store,
        settings=settings,
    )
    copy = snapshot(store, tmp_path / "copy.duckdb")
    with duckdb.connect(str(copy), read_only=True) as con:
        copied = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    assert copied == {t: len(store.sql(f"SELECT * FROM {t}")) for t in TABLES}
    assert copied["agent_runs"] == 1
    with pytest.raises(InvalidInputError, match=r"destination: .* exists"):
        snapshot(store, copy)


def test_prune_command_shows_the_counts_first_and_deletes_only_when_confirmed(
    tmp_path: Path, settings: Settings
) -> None:
    import os
    import subprocess
    import sys

    from neonhub_nb.store import AuditStore

    db = tmp_path / "prune.duckdb"
    owned = AuditStore(db)
    record_runs(owned, settings, FakeClock(), [0, 1])  # FakeClock's days: long ago
    first = owned.sql("SELECT draft_id FROM content_drafts ORDER BY created_at")["draft_id"][0]
    owned.review_draft(first, "approve", "Ana")
    owned.close()

    def cli(*args: str, answer: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "neonhub_nb", "prune", "--older-than", "0d", *args],
            input=answer,
            capture_output=True,
            text=True,
            env={**os.environ, "NEONHUB_DB": str(db)},
            timeout=120,
            check=False,
        )

    def runs_left() -> int:
        reader = AuditStore(db, read_only=True)
        return int(reader.sql("SELECT count(*) AS n FROM agent_runs")["n"][0])

    dry = cli("--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would delete 1 runs" in dry.stdout
    assert "kept 1 older runs whose drafts await review" in dry.stdout
    declined = cli(answer="n\n")
    assert declined.returncode != 0 and "would delete 1 runs" in declined.stdout
    assert runs_left() == 2
    confirmed = cli(answer="y\n")
    assert confirmed.returncode == 0, confirmed.stderr
    assert "deleted 1 runs" in confirmed.stdout and runs_left() == 1


def test_a_run_started_while_prune_asks_is_not_deleted_by_the_answer(
    tmp_path: Path, settings: Settings
) -> None:
    import os
    import subprocess
    import sys

    from neonhub_nb.clock import utcnow
    from neonhub_nb.store import AuditStore

    db = tmp_path / "asks.duckdb"
    owned = AuditStore(db)
    record_runs(owned, settings, FakeClock(), [0])  # long ago, its draft awaiting review
    owned.close()
    asking = subprocess.Popen(
        [sys.executable, "-m", "neonhub_nb", "prune", "--older-than", "0d",
         "--include-unreviewed"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NEONHUB_DB": str(db)},
    )  # fmt: skip
    assert asking.stdout is not None and asking.stdin is not None
    assert "would delete 1 runs" in asking.stdout.readline()  # the question is asked now
    newer = AuditStore(db)  # a run that starts and finishes while the question waits
    newer.record_run_started(
        {"run_id": "run_newer", "agent": "content", "intent": "content.generate_article",
         "mode": "mock", "status": "running", "started_at": utcnow(), "input": {}}
    )  # fmt: skip
    newer.record_run_finished(
        {"run_id": "run_newer", "agent": "content", "intent": "content.generate_article",
         "mode": "mock", "status": "succeeded", "started_at": utcnow(), "input": {},
         "finished_at": utcnow(), "duration_ms": 1.0}
    )  # fmt: skip
    newer.flush()
    newer.close()
    out, err = asking.communicate("y\n", timeout=120)
    assert asking.returncode == 0, err
    assert "deleted 1 runs" in out
    left = AuditStore(db, read_only=True).sql("SELECT run_id FROM agent_runs")["run_id"]
    assert left.tolist() == ["run_newer"]
