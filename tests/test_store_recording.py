"""The recording path: one serialization per event, redaction only where the quick check
flags a line, and the stored record is what the method returns."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import orjson
import pytest

from neonhub_nb.errors import StoreError
from neonhub_nb.models import Metric
from neonhub_nb.records import DraftRecord, RunRecord, ToolExecution
from neonhub_nb.redact import Redactor
from neonhub_nb.store import AuditStore

T0 = datetime(2026, 3, 1, 12, 0, 0)
# A GitHub personal access token shape (ghp_ + 36 characters), not a real one.
GITHUB = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
KNOWN = "correct-horse-battery-staple-41"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AuditStore]:
    opened = AuditStore(tmp_path / "audit.duckdb", background=False)
    opened.redactor = Redactor([KNOWN])
    yield opened
    opened.close()


def spooled(store: AuditStore) -> list[dict[str, object]]:
    return [
        orjson.loads(line)
        for segment in sorted(store.spool_dir.glob("*.jsonl"))
        for line in segment.read_bytes().splitlines()
    ]


def run(**fields: object) -> RunRecord:
    base: dict[str, object] = {
        "run_id": "run_1",
        "agent": "content",
        "intent": "content.generate_article",
        "status": "running",
        "mode": "mock",
        "started_at": T0,
    }
    return RunRecord.model_validate({**base, **fields})


def tool(**fields: object) -> ToolExecution:
    base: dict[str, object] = {
        "execution_id": "tex_1",
        "run_id": "run_1",
        "seq": 1,
        "tool": "connector.gsc",
        "operation": "query",
        "status": "succeeded",
        "started_at": T0,
        "duration_ms": 1.0,
    }
    return ToolExecution.model_validate({**base, **fields})


def test_a_clean_run_is_spooled_as_returned_with_its_writer(store: AuditStore) -> None:
    stored = store.record_run_started(run(input={"topic": "newsletters"}))
    [event] = spooled(store)
    assert event["t"] == "run" and event["rev"] == 0
    assert event["row"] == orjson.loads(orjson.dumps(stored.model_dump()))
    assert stored.writer_id and stored.redacted_fields == []


def test_a_secret_shape_and_a_known_value_are_replaced_before_the_spool(
    store: AuditStore,
) -> None:
    stored = store.record_run_started(
        run(input={"topic": f"launch {GITHUB}", "brief": f"login {KNOWN}"})
    )
    raw = b"".join(p.read_bytes() for p in store.spool_dir.glob("*.jsonl"))
    assert GITHUB.encode() not in raw and KNOWN.encode() not in raw
    [event] = spooled(store)
    assert event["row"] == orjson.loads(orjson.dumps(stored.model_dump()))
    assert stored.redacted_fields == ["input.brief", "input.topic"]
    assert stored.writer_id


def test_a_flagged_line_without_a_secret_is_kept_as_it_was(store: AuditStore) -> None:
    # "password" makes the quick check look closer; nothing follows it that is a secret.
    given = tool(request={"q": "how to reset a password"})
    assert store.redactor.scanner.may_contain(b"how to reset a password")
    assert store.record_tool_execution(given) is given
    [event] = spooled(store)
    assert event["row"]["request"] == {"q": "how to reset a password"}


def test_a_finished_run_keeps_earlier_redacted_paths_and_adds_new_ones(
    store: AuditStore,
) -> None:
    finished = run(
        status="succeeded",
        finished_at=T0,
        duration_ms=3.0,
        output={"content": f"token {GITHUB}"},
        redacted_fields=["input.topic"],
    )
    draft = DraftRecord(
        draft_id="draft_1",
        run_id="run_1",
        content=f"body {GITHUB}",
        created_at=T0,
        updated_at=T0,
    )
    stored, stored_draft = store.record_run_finished(
        finished, [Metric(name="cost_usd", value=0.25, unit="USD")], draft
    )
    assert stored.redacted_fields == ["input.topic", "output.content"]
    assert stored_draft is not None and GITHUB not in (stored_draft.content or "")
    events = spooled(store)
    assert [e["t"] for e in events] == ["run", "metric", "draft"]
    assert events[0]["row"]["redacted_fields"] == ["input.topic", "output.content"]
    assert events[1]["row"] == {"run_id": "run_1", "name": "cost_usd", "value": 0.25, "unit": "USD"}
    assert GITHUB not in str(events)


def test_a_value_json_cannot_hold_is_refused_in_one_line_and_nothing_is_spooled(
    store: AuditStore,
) -> None:
    with pytest.raises(StoreError, match=r"cannot record: .*object"):
        store.record_run_started(run(input={"topic": object()}))
    assert spooled(store) == []


def test_a_forked_child_spools_to_its_own_segment_under_its_own_writer_id(
    store: AuditStore,
) -> None:
    parent = store.record_run_started(run(run_id="run_parent"))
    pid = os.fork()
    if pid == 0:  # the child: record through the inherited store, then leave at once
        code = 0
        try:
            # A tool call first: the append path alone must notice the fork.
            store.record_tool_execution(tool(execution_id="tex_child", run_id="run_child"))
            store.record_run_started(run(run_id="run_child"))
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    store.record_tool_execution(tool(run_id="run_parent"))
    segments = sorted(store.spool_dir.glob("*.jsonl"))
    assert len(segments) == 2
    writers = {
        orjson.loads(line)["row"].get("writer_id")
        for segment in segments
        for line in segment.read_bytes().splitlines()
        if orjson.loads(line)["t"] == "run"
    }
    assert len(writers) == 2 and parent.writer_id in writers
    by_segment = {
        frozenset(orjson.loads(line)["row"]["run_id"] for line in seg.read_bytes().splitlines())
        for seg in segments
    }
    assert by_segment == {frozenset({"run_parent"}), frozenset({"run_child"})}
    report = store.flush()
    assert report.events == 4 and report.quarantined == 0
    assert sorted(store.sql("SELECT run_id FROM agent_runs")["run_id"]) == [
        "run_child",
        "run_parent",
    ]


def test_a_metric_name_or_unit_holding_a_secret_is_redacted(store: AuditStore) -> None:
    store.record_run_finished(
        run(status="succeeded", finished_at=T0, duration_ms=1.0),
        [
            Metric(name=f"clicks {GITHUB}", value=1.0, unit=KNOWN),
            Metric(name="prompt_tokens", value=3.0, unit="tokens"),
        ],
    )
    metrics = [e["row"] for e in spooled(store) if e["t"] == "metric"]
    assert GITHUB not in str(metrics) and KNOWN not in str(metrics)
    assert metrics[0]["name"] == "clicks [REDACTED]" and metrics[0]["unit"] == "[REDACTED]"
    assert (metrics[1]["name"], metrics[1]["unit"]) == ("prompt_tokens", "tokens")
