"""Helpers for the audit-trail tests: spool lines written by hand, the CLI as a subprocess,
and real file systems (a tiny tmpfs for a full disk, a read-only remount)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from neonhub_nb.records import DraftRecord, MetricRecord, RunRecord, ToolExecution

T0 = datetime(2026, 3, 1, 12, 0, 0)


def line(kind: str, row: Mapping[str, Any], rev: int | None = None) -> bytes:
    """One spool line as the store writes it (orjson, NaN written as null)."""
    event: dict[str, Any] = {"t": kind, "row": dict(row)}
    if rev is not None:
        event["rev"] = rev
    return orjson.dumps(event, default=str) + b"\n"


def good_run(
    run_id: str, *, writer: str = "w", at: datetime = T0, draft_status: str = "draft"
) -> bytes:
    """A finished run with a tool call, two metrics and a draft: the lines of one run."""
    started = RunRecord(
        run_id=run_id,
        agent="content",
        intent="content.generate_article",
        status="running",
        mode="mock",
        started_at=at,
        writer_id=writer,
    )
    finished = started.model_copy(
        update={"status": "succeeded", "finished_at": at + timedelta(seconds=1), "duration_ms": 5.0}
    )
    tool = ToolExecution(
        execution_id=f"tex_{run_id}",
        run_id=run_id,
        seq=1,
        tool="llm",
        operation="chat.completions",
        status="succeeded",
        started_at=at,
        duration_ms=1.0,
    )
    draft = DraftRecord(
        draft_id=f"draft_{run_id}",
        run_id=run_id,
        title="T",
        content="body",
        status=draft_status,  # type: ignore[arg-type]
        created_at=at,
        updated_at=at,
    )
    return b"".join(
        [
            line("run", started.model_dump(mode="json"), 0),
            line("tool", tool.model_dump(mode="json")),
            line("run", finished.model_dump(mode="json"), 1),
            line("metric", MetricRecord(run_id=run_id, name="cost_usd", value=0.1).model_dump()),
            line("metric", MetricRecord(run_id=run_id, name="total_tokens", value=9).model_dump()),
            line("draft", draft.model_dump(mode="json")),
        ]
    )


def write_segment(db: Path, name: str, data: bytes) -> Path:
    """A spool segment of a writer that is gone (nobody holds its lock)."""
    spool = db.with_name(db.name + ".spool")
    spool.mkdir(parents=True, exist_ok=True)
    path = spool / f"{name}.00001.jsonl"
    with open(path, "ab") as handle:
        handle.write(data)
    return path


def neonhub(
    *args: str | bytes, db: Path | str, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``neonhub-nb ARGS`` in a fresh process with ``NEONHUB_DB=db``."""
    environ = {**os.environ, "NEONHUB_DB": str(db), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "neonhub_nb", *args],
        capture_output=True,
        text=True,
        errors="replace",
        env=environ,
        timeout=timeout,
        check=False,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The CLI's stderr, checked to be exactly one ``error:`` line and no traceback."""
    lines = [text for text in result.stderr.splitlines() if text.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@contextlib.contextmanager
def tmpfs(size: str) -> Iterator[Path]:
    """A real tmpfs of ``size`` (``64k``): writes past it fail with ENOSPC."""
    folder = Path(tempfile.mkdtemp(prefix="neonhub-tmpfs-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        folder.rmdir()
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
        folder.rmdir()


def remount_read_only(folder: Path) -> None:
    """Make a :func:`tmpfs` read-only: EROFS for every writer, root included."""
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
