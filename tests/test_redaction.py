"""Secrets never reach the store: by field name, by value pattern, by known value."""

from __future__ import annotations

import json

import pytest

from neonhub_nb.clock import FakeClock
from neonhub_nb.config import load_settings
from neonhub_nb.models import ToolExecution
from neonhub_nb.redact import REDACTED, Redactor, is_secret_name, redact_text
from neonhub_nb.store import AuditStore

OPENAI_KEY = "sk-proj-Zx81LmQpT5vN2wE7rY4uI9oA3sD6fG0h"


@pytest.mark.parametrize(
    "text",
    [
        OPENAI_KEY,
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig",
        "slack xoxb-123456789012-abcdefghijkl",
        "stripe sk_live_51Hx9aBcDeFgHiJkLmN",
        "google AIzaSyA1234567890abcdefghijklmnopqrstu",
        "aws AKIAIOSFODNN7EXAMPLE",
        "shopify shpat_0123456789abcdef0123456789abcdef",
        "github ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    ],
)
def test_value_patterns_are_redacted(text: str) -> None:
    cleaned = redact_text(f"before {text} after")
    assert REDACTED in cleaned
    assert cleaned.startswith("before ") and cleaned.endswith(" after")


@pytest.mark.parametrize(
    "name",
    [
        "api_key",
        "Authorization",
        "password",
        "client_secret",
        "X-Api-Key",
        "refresh_token",
        "access_token",
    ],
)
def test_secret_field_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name", ["prompt_tokens", "completion_tokens", "max_tokens", "topic", "keyword"]
)
def test_ordinary_field_names(name: str) -> None:
    assert not is_secret_name(name)


def test_known_environment_secrets_are_removed_from_free_text() -> None:
    redactor = Redactor.from_environ({"TWILIO_AUTH_TOKEN": "plainlookingvalue42", "HOME": "/root"})
    clean, paths = redactor.redact({"error": "auth failed for plainlookingvalue42 in /root"})
    assert clean == {"error": f"auth failed for {REDACTED} in /root"}
    assert paths == ["error"]


def test_store_redacts_inputs_outputs_errors_and_tool_calls(tmp_path: object) -> None:
    settings = load_settings(
        {"NEONHUB_DB": f"{tmp_path}/r.duckdb", "SLACK_BOT_TOKEN": "xoxb-999999999999-secretvalue"}
    )
    store = AuditStore.from_settings(settings, background=False)
    now = FakeClock().now()
    row = {
        "run_id": "run_s",
        "agent": "a",
        "intent": "i",
        "mode": "mock",
        "started_at": now,
        "input": {"topic": "t", "api_key": "anything", "note": f"uses {OPENAI_KEY}"},
    }
    store.record_run_started({**row, "status": "running"})
    store.record_tool_execution(
        ToolExecution(
            execution_id="tex_1",
            run_id="run_s",
            seq=1,
            tool="connector.slack",
            operation="chat.postMessage",
            status="failed",
            started_at=now,
            duration_ms=1.0,
            request={
                "headers": {"Authorization": "Bearer xoxb-999999999999-secretvalue"},
                "text": "hi",
            },
            response={"echo": "token=xoxb-999999999999-secretvalue"},
            error="401 for xoxb-999999999999-secretvalue",
        )
    )
    store.record_run_finished(
        {
            **row,
            "status": "failed",
            "finished_at": now,
            "duration_ms": 1.0,
            "output": {"password": "hunter2hunter2"},
            "error": f"LLMError: bad key {OPENAI_KEY}",
        }
    )
    store.flush()
    dump = json.dumps(
        [
            store.sql(f"SELECT * FROM {t}").to_dict("records")
            for t in ("agent_runs", "tool_executions")
        ],
        default=str,
    )
    for secret in (OPENAI_KEY, "xoxb-999999999999-secretvalue", "hunter2hunter2", "anything"):
        assert secret not in dump
    raw_spool = b"".join(p.read_bytes() for p in store.spool_dir.glob("*.jsonl"))
    assert OPENAI_KEY.encode() not in raw_spool
    fields = store.run_detail("run_s").run["redacted_fields"]
    assert set(fields) >= {"input.api_key", "input.note", "output.password", "error"}
    store.close()


def test_store_removes_formats_and_settings_values_it_was_not_told_by_name(
    tmp_path: object,
) -> None:
    # The examples: a JWT in SESSION_JWT and a GitHub token reached every table.
    from .secrets_corpus import by_env

    jwt, github = by_env("SESSION_JWT").value, by_env("GITHUB_TOKEN").value
    twilio = by_env("TWILIO_AUTH_TOKEN").value  # no format: only known from the settings
    settings = load_settings(
        {"NEONHUB_DB": f"{tmp_path}/f.duckdb", "SESSION_JWT": jwt, "TWILIO_AUTH_TOKEN": twilio}
    )
    store = AuditStore.from_settings(settings, background=False)
    now = FakeClock().now()
    row = {
        "run_id": "run_f",
        "agent": "a",
        "intent": "i",
        "mode": "mock",
        "started_at": now,
        "input": {"topic": f"launch with {github}", "note": f"session {jwt} / {twilio}"},
    }
    store.record_run_started({**row, "status": "running"})
    store.flush()
    dump = json.dumps(store.sql("SELECT * FROM agent_runs").to_dict("records"), default=str)
    for secret in (jwt, github, twilio):
        assert secret not in dump
    assert set(store.run_detail("run_f").run["redacted_fields"]) == {"input.topic", "input.note"}
    store.close()
