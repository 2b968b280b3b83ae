"""UTC everywhere (issue example 6): every since/until filter takes ages, naive times (UTC)
and aware times, and selects the same rows whatever the machine's TZ."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from neonhub_nb.clock import parse_time, utcnow
from neonhub_nb.errors import InvalidInputError
from neonhub_nb.store import AuditStore

from .audit_support import T0, good_run, neonhub, write_segment

ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Runs started at 12:00 and 13:30 UTC on 2026-03-01, and one an hour ago."""
    path = tmp_path / "s.duckdb"
    write_segment(path, "w", good_run("run_noon", at=T0))
    write_segment(path, "w", good_run("run_later", at=T0 + timedelta(minutes=90)))
    write_segment(path, "w", good_run("run_recent", at=utcnow() - timedelta(hours=1)))
    AuditStore(path, background=False).close()
    return path


FILTERS = {
    # the case: an aware time one hour after the first run, in UTC
    "aware_utc": (["--since", "2026-03-01T13:00:00+00:00"], ["run_later", "run_recent"]),
    "aware_new_york": (["--since", "2026-03-01T08:00:00-05:00"], ["run_later", "run_recent"]),
    "aware_z": (["--since", "2026-03-01T13:00:00Z"], ["run_later", "run_recent"]),
    "naive_means_utc": (["--since", "2026-03-01T13:00"], ["run_later", "run_recent"]),
    "date": (["--since", "2026-03-02"], ["run_recent"]),
    "until_aware": (["--until", "2026-03-01T18:00:00+05:30"], ["run_noon"]),
    "window": (
        ["--since", "2026-03-01T11:00", "--until", "2026-03-01T14:00:00+00:00"],
        ["run_later", "run_noon"],
    ),
    "age": (["--since", "2h"], ["run_recent"]),
}


@pytest.mark.parametrize("zone", ZONES)
def test_export_selects_the_same_runs_under_every_tz(db: Path, tmp_path: Path, zone: str) -> None:
    for name, (args, expected) in FILTERS.items():
        out = tmp_path / f"{zone.replace('/', '_')}_{name}"
        result = neonhub("export", "--format", "csv", *args, "--out", str(out), db=db,
                         env={"TZ": zone})  # fmt: skip
        assert result.returncode == 0, (name, result.stderr)
        with open(out / "agent_runs.csv") as handle:
            got = sorted(row["run_id"] for row in csv.DictReader(handle))
        assert got == sorted(expected), (zone, name)


@pytest.mark.parametrize("zone", ZONES)
def test_runs_lists_the_same_runs_under_every_tz(db: Path, zone: str) -> None:
    for name, (args, expected) in FILTERS.items():
        result = neonhub("runs", "--json", *args, db=db, env={"TZ": zone})
        assert result.returncode == 0, (name, result.stderr)
        got = sorted(row["run_id"] for row in json.loads(result.stdout))
        assert got == sorted(expected), (zone, name)


_API = """
import json, sys
from datetime import datetime, timedelta, timezone
from neonhub_nb.store import AuditStore
store = AuditStore(sys.argv[1], read_only=True)
new_york = timezone(timedelta(hours=-5))
since = datetime(2026, 3, 1, 8, 0, tzinfo=new_york)          # 13:00 UTC
print(json.dumps({
    "aware": sorted(store.runs(since=since)["run_id"]),
    "naive": sorted(store.runs(since=datetime(2026, 3, 1, 13, 0))["run_id"]),
    "text": sorted(store.runs(since="2026-03-01T13:00:00+00:00")["run_id"]),
    "age": sorted(store.runs(since="2h")["run_id"]),
    "counts": int(store.aggregate("counts_by_agent_status", since=since,
                                  until=datetime(2026, 3, 2))["runs"].sum()),
    "local_now": datetime.now().isoformat(),
}))
"""


@pytest.mark.parametrize("zone", ZONES)
def test_the_python_api_gives_the_same_rows_under_every_tz(db: Path, zone: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _API, str(db)],
        capture_output=True, text=True, env={"TZ": zone, "PATH": "/usr/bin"}, timeout=120,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert got["aware"] == got["naive"] == got["text"] == ["run_later", "run_recent"]
    assert got["age"] == ["run_recent"]
    assert got["counts"] == 1


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "America/New_York"])
def test_runs_are_stored_in_utc_whatever_the_tz(tmp_path: Path, zone: str) -> None:
    db = tmp_path / "s.duckdb"
    before = datetime.now(UTC).replace(tzinfo=None)
    result = neonhub("run", "content.generate_article", "-p", "topic=Email marketing",
                     "-p", "primary_keyword=kw", "--json", db=db, env={"TZ": zone})  # fmt: skip
    assert result.returncode == 0, result.stderr
    after = datetime.now(UTC).replace(tzinfo=None)
    started = AuditStore(db, read_only=True).runs()["started_at"][0].to_pydatetime()
    assert before - timedelta(seconds=1) <= started <= after


def test_parse_time_rules() -> None:
    now = datetime(2026, 3, 1, 12, 0)
    assert parse_time("7d", now=now) == datetime(2026, 2, 22, 12, 0)
    assert parse_time(timedelta(hours=2), now=now) == datetime(2026, 3, 1, 10, 0)
    assert parse_time("2026-03-01T12:00:00+01:00") == datetime(2026, 3, 1, 11, 0)
    assert parse_time(datetime(2026, 3, 1, 12, 0, tzinfo=UTC)) == datetime(2026, 3, 1, 12, 0)
    assert parse_time(None) is None
    with pytest.raises(InvalidInputError, match="until: must be an age like 7d"):
        parse_time("last tuesday", "until")
    with pytest.raises(InvalidInputError, match="since: must be an age"):
        parse_time(42)


def test_a_bad_since_on_the_cli_is_one_line(db: Path) -> None:
    result = neonhub("runs", "--since", "yesterday-ish", db=db)
    assert result.returncode == 2
    assert result.stderr.startswith("error: since: must be an age like 7d")


@pytest.mark.parametrize("zone", ZONES)
def test_analysts_sql_sessions_are_utc_under_every_tz(db: Path, zone: str) -> None:
    # Notebook 03 once counted "this week" from now()::TIMESTAMP, which followed TZ.
    result = neonhub("sql", "SELECT now()::TIMESTAMP AS t", db=db, env={"TZ": zone})
    assert result.returncode == 0, result.stderr
    shown = datetime.fromisoformat(" ".join(result.stdout.split()[-2:]))
    assert abs(shown - datetime.now(UTC).replace(tzinfo=None)) < timedelta(minutes=5)
