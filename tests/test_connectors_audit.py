"""Connector calls made by agents land in the audit store as tool executions, secrets removed.

Uses a real DuckDB store (the ``store`` fixture) and live-mode connectors with recognisable
fake credentials over their mock vendors, so redaction is tested on the real code path.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from neonhub_nb.agents import AgentCatalog, AgentSpec
from neonhub_nb.agents.base import AgentContext, AgentOutput
from neonhub_nb.clock import FakeClock
from neonhub_nb.config import Settings, load_settings
from neonhub_nb.connectors import connector_factory, get_mock_class, list_connectors
from neonhub_nb.connectors.mock import MockVendor
from neonhub_nb.errors import ConfigError, ConnectorError
from neonhub_nb.llm import MockLLM
from neonhub_nb.models import AgentParams, RunRequest
from neonhub_nb.orchestrator import Orchestrator
from neonhub_nb.store import AuditStore

MARK = "FAKESECRET"


def fake_env() -> dict[str, str]:
    env = {"USE_MOCK_CONNECTORS": "false"}
    for spec in list_connectors():
        for var in spec.env:
            if var.mock_value:
                # Only secrets carry the marker: ids such as a YouTube channel id are public
                # and rightly appear in recorded requests (replay needs them).
                marked = var.mock_value.replace("mock", MARK, 1) if var.secret else var.mock_value
                env[var.name] = marked
    return env


class Vendors:
    """One mock vendor per service, shared by every connector the factory builds."""

    def __init__(self) -> None:
        self.by_name: dict[str, MockVendor] = {}

    def client(self, name: str) -> httpx.Client:
        vendor = self.by_name.setdefault(name, get_mock_class(name)())
        return httpx.Client(transport=httpx.MockTransport(vendor))


@pytest.fixture
def vendors() -> Vendors:
    return Vendors()


@pytest.fixture
def live_settings() -> Settings:
    return load_settings(fake_env())


def context(store: AuditStore, settings: Settings, vendors: Vendors) -> AgentContext:
    clock = FakeClock()
    factory = connector_factory(settings, clock=clock, client_for=vendors.client)
    return AgentContext(
        run_id="run_test",
        llm=MockLLM(AgentCatalog.builtin().mock_writers()),
        model="mock",
        clock=clock,
        record=store.record_tool_execution,
        connectors=factory,
    )


def stored_rows(store: AuditStore) -> list[dict[str, Any]]:
    store.flush()
    frame = store.sql("SELECT * FROM tool_executions ORDER BY seq")
    rows: list[dict[str, Any]] = frame.to_dict("records")
    for row in rows:
        for key in ("request", "response"):
            if isinstance(row[key], str):
                row[key] = json.loads(row[key])
    return rows


def test_connector_calls_are_recorded_with_secrets_redacted(
    store: AuditStore, live_settings: Settings, vendors: Vendors
) -> None:
    ctx = context(store, live_settings, vendors)
    slack = ctx.connector("slack")
    assert ctx.connector("slack") is slack  # one connector per service and run
    slack.post_message("#launch", "We are live")  # type: ignore[attr-defined]
    ctx.connector("stripe").create_payment_intent(2500, "usd")  # type: ignore[attr-defined]
    x = ctx.connector("x")
    vendors.by_name["x"].rate_limit(1, retry_after=1)
    x.post("hello")  # type: ignore[attr-defined]
    vendors.by_name["x"].fail_next(401)
    with pytest.raises(ConnectorError):
        x.post("again")  # type: ignore[attr-defined]

    rows = stored_rows(store)
    assert [(r["tool"], r["operation"], r["status"]) for r in rows] == [
        ("connector.slack", "post_message", "succeeded"),
        ("connector.stripe", "create_payment_intent", "succeeded"),
        ("connector.x", "post", "succeeded"),
        ("connector.x", "post", "failed"),
    ]
    assert [r["seq"] for r in rows] == [1, 2, 3, 4]
    assert all(r["run_id"] == "run_test" and r["execution_id"].startswith("tex_") for r in rows)
    slack_row, stripe_row, limited, failed = rows
    assert slack_row["request"] == {
        "channel": "#launch",
        "text_chars": 11,
        "blocks": 0,
        "thread_ts": None,
    }
    assert slack_row["response"]["http_status"] == 200 and slack_row["response"]["attempts"] == 1
    assert stripe_row["request"]["idempotency_key"].startswith("nh-")
    assert stripe_row["response"]["id"].startswith("pi_")
    assert (limited["response"]["rate_limited"], limited["response"]["attempts"]) == (1, 2)
    assert failed["response"]["http_status"] == 401
    assert failed["error"].startswith("ConnectorError: x.post: HTTP 401")
    assert "X_ACCESS_TOKEN" in failed["error"]
    # The metrics engineer's queries, on the fields they rely on.
    requests = store.sql("SELECT count(*) AS n FROM tool_executions WHERE tool LIKE 'connector.%'")
    hits = store.sql(
        "SELECT sum(CAST(json_extract(response, '$.rate_limited') AS INTEGER)) AS n "
        "FROM tool_executions"
    )
    assert (requests["n"][0], hits["n"][0]) == (4, 1)
    everything = json.dumps(rows, default=str) + repr(ctx.executions)
    assert MARK not in everything


def test_every_service_records_without_leaking_credentials(
    store: AuditStore, live_settings: Settings, vendors: Vendors
) -> None:
    from neonhub_nb.connectors.examples import EXAMPLES

    ctx = context(store, live_settings, vendors)
    errors = []
    for name, examples in EXAMPLES.items():
        vendors.client(name)
        vendors.by_name[name].fail_next(401)  # the first call of each service fails
        for example in examples:
            try:
                example.call(ctx.connector(name))
            except ConnectorError as exc:
                errors.append(str(exc))
    rows = stored_rows(store)
    assert len(rows) == sum(len(e) for e in EXAMPLES.values()) and len(errors) == 17
    assert sum(r["status"] == "failed" for r in rows) == 17
    assert MARK not in json.dumps(rows, default=str)
    assert all(MARK not in error for error in errors)


def test_a_run_without_a_connector_factory_says_so(store: AuditStore) -> None:
    ctx = AgentContext(
        run_id="r", llm=MockLLM(), model="m", clock=FakeClock(), record=store.record_tool_execution
    )
    with pytest.raises(ConfigError, match="this run has no connector factory"):
        ctx.connector("slack")


class AnnounceParams(AgentParams):
    message: str


class AnnounceAgent:
    """A minimal social agent: posts to Slack and Discord through its context."""

    name = "announce"

    def run(self, params: AnnounceParams, ctx: AgentContext) -> AgentOutput:
        slack = ctx.connector("slack").post_message("#launch", params.message)  # type: ignore[attr-defined]
        discord = ctx.connector("discord").send_message(params.message)  # type: ignore[attr-defined]
        return AgentOutput(output={"slack_ts": slack["ts"], "discord_id": discord["id"]})


def test_agents_use_connectors_through_the_orchestrator(
    store: AuditStore, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = AgentSpec(
        intent="test.announce",
        agent="announce",
        params_model=AnnounceParams,
        factory=AnnounceAgent,
        description="post an announcement",
    )
    catalog = AgentCatalog.builtin()
    catalog.register(spec)
    clock = FakeClock()
    orchestrator = Orchestrator(
        settings=settings,
        store=store,
        llm=MockLLM(catalog.mock_writers()),
        clock=clock,
        connectors=connector_factory(settings, clock=clock),
        catalog=catalog,
    )
    result = orchestrator.run(RunRequest(intent="test.announce", params={"message": "Hi"}))
    assert result.status == "succeeded", result.error
    assert [(t.tool, t.operation) for t in result.tool_executions] == [
        ("connector.slack", "post_message"),
        ("connector.discord", "send_message"),
    ]
    again = orchestrator.run(RunRequest(intent="test.announce", params={"message": "Hi"}))
    assert again.output == result.output  # mock mode: same inputs, same outputs
    detail = store.run_detail(result.run_id)
    assert list(detail.tool_executions["tool"]) == ["connector.slack", "connector.discord"]
