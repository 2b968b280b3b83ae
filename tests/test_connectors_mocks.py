"""Mock vendors: deterministic, offline, vendor-like (ids, pagination, idempotency, faults)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from neonhub_nb.clock import FakeClock
from neonhub_nb.config import load_settings
from neonhub_nb.connectors import CONNECTOR_NAMES, ConnectorCall, build_connector, get_mock_class
from neonhub_nb.connectors.examples import EXAMPLES, run_examples
from neonhub_nb.errors import ConnectorError


def run_all(name: str) -> tuple[list[Any], list[ConnectorCall]]:
    calls: list[ConnectorCall] = []
    connector = build_connector(
        name, load_settings({}), clock=FakeClock(), sleep=lambda _: None, instrument=calls.append
    )
    return [example.call(connector) for example in EXAMPLES[name]], calls


@pytest.mark.parametrize("name", CONNECTOR_NAMES)
def test_mock_results_are_deterministic(name: str) -> None:
    first, first_calls = run_all(name)
    second, second_calls = run_all(name)
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert first_calls == second_calls  # records too: ids, urls, counts, timings
    assert all(call.status == "succeeded" for call in first_calls)


def test_mock_mode_never_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> httpx.Response:
        raise AssertionError("a real HTTP transport was used in mock mode")

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", refuse)
    for name in CONNECTOR_NAMES:
        run_all(name)


@pytest.mark.parametrize("name", CONNECTOR_NAMES)
def test_run_examples_gives_one_row_per_operation(name: str) -> None:
    rows = run_examples(name, load_settings({}))
    assert [row["operation"] for row in rows] == [e.operation for e in EXAMPLES[name]]
    assert all(row["status"] == "succeeded" and row["transport"] == "mock" for row in rows)


@pytest.mark.parametrize(
    ("name", "call", "total"),
    [
        ("email", lambda c: c.list_messages(page_size=10, max_pages=10), 42),
        ("sms", lambda c: c.list_messages(page_size=30), 75),
        ("stripe", lambda c: c.list_customers(page_size=25, max_pages=10), 57),
        ("instagram", lambda c: c.list_media(page_size=10), 31),
        ("linkedin", lambda c: c.list_posts(page_size=10), 23),
        ("x", lambda c: c.list_posts(page_size=25), 64),
        ("google_ads", lambda c: c.search("SELECT campaign.id FROM campaign"), 12),
        ("shopify", lambda c: c.list_orders(page_size=50), 123),
        ("discord", lambda c: c.list_messages(page_size=60), 140),
        ("reddit", lambda c: c.list_new("growth", page_size=100), 180),
        ("tiktok", lambda c: c.list_videos(page_size=20), 47),
        ("youtube", lambda c: c.list_channel_videos(page_size=50), 88),
    ],
)
def test_pagination_reads_every_page_once(name: str, call: Any, total: int) -> None:
    items = call(build_connector(name, load_settings({})))
    keys = [json.dumps(item, sort_keys=True) for item in items]
    assert len(items) == total and len(set(keys)) == total


def test_stripe_idempotency_key_replays_instead_of_charging_twice() -> None:
    connector = build_connector("stripe", load_settings({}))
    one = connector.create_payment_intent(5000, "usd")  # type: ignore[attr-defined]
    two = connector.create_payment_intent(5000, "usd")  # type: ignore[attr-defined]
    assert one == two and len(connector.mock.created) == 1  # type: ignore[union-attr]
    three = connector.create_payment_intent(5000, "usd", idempotency_key="second-order")  # type: ignore[attr-defined]
    assert three["id"] != one["id"] and len(connector.mock.created) == 2  # type: ignore[union-attr]


def test_stripe_rejects_a_reused_key_with_other_parameters() -> None:
    connector = build_connector("stripe", load_settings({}))
    connector.create_payment_intent(100, "usd", idempotency_key="k1")  # type: ignore[attr-defined]
    with pytest.raises(ConnectorError, match="same parameters they were first used with"):
        connector.create_payment_intent(200, "usd", idempotency_key="k1")  # type: ignore[attr-defined]


def test_without_a_key_the_stripe_mock_double_charges_like_stripe() -> None:
    vendor = get_mock_class("stripe")()
    client = httpx.Client(transport=httpx.MockTransport(vendor))
    headers = {"Authorization": "Bearer sk_test_x"}
    ids = {
        client.post(
            "https://api.stripe.com/v1/payment_intents",
            headers=headers,
            data={"amount": "100", "currency": "usd"},
        ).json()["id"]
        for _ in range(2)
    }
    assert len(ids) == 2


def test_discord_nonce_makes_a_retried_send_post_once() -> None:
    connector = build_connector("discord", load_settings({}), sleep=lambda _: None)
    assert connector.mock is not None
    connector.mock.fail_next(503)
    message = connector.send_message("launch!")  # type: ignore[attr-defined]
    again = connector.send_message("launch!")  # type: ignore[attr-defined]
    assert message["id"] == again["id"]
    assert len(connector.mock.created) == 1  # type: ignore[attr-defined]


def test_x_rejects_duplicate_posts_like_x() -> None:
    connector = build_connector("x", load_settings({}))
    connector.post("same words")  # type: ignore[attr-defined]
    with pytest.raises(ConnectorError, match="duplicate content") as caught:
        connector.post("same words")  # type: ignore[attr-defined]
    assert caught.value.status_code == 403


def test_instagram_container_publishes_once() -> None:
    connector = build_connector("instagram", load_settings({}))
    published = connector.publish_image("https://cdn.example.com/a.jpg")  # type: ignore[attr-defined]
    assert published["id"] != published["container_id"]
    assert connector.mock is not None
    client = httpx.Client(transport=httpx.MockTransport(connector.mock))
    again = client.post(
        "https://graph.facebook.com/v25.0/17841405822304914/media_publish",
        json={"creation_id": published["container_id"]},
        headers={"Authorization": "Bearer EAAtoken"},
    )
    assert again.status_code == 400 and again.json()["error"]["code"] == 9007
    assert "(#9007) Media ID is not available" in again.json()["error"]["message"]


def test_mock_rejects_missing_or_malformed_auth_like_the_vendor() -> None:
    settings = load_settings({"USE_MOCK_CONNECTORS": "false", "SLACK_BOT_TOKEN": "not-a-token"})
    vendor = get_mock_class("slack")()
    connector = build_connector(
        "slack", settings, http_client=httpx.Client(transport=httpx.MockTransport(vendor))
    )
    with pytest.raises(ConnectorError, match="invalid_auth") as caught:
        connector.post_message("#x", "hi")  # type: ignore[attr-defined]
    assert caught.value.status_code == 401


def test_mock_answers_unknown_paths_and_methods_like_a_server() -> None:
    vendor = get_mock_class("x")()
    client = httpx.Client(transport=httpx.MockTransport(vendor))
    auth = {"Authorization": "Bearer t"}
    assert client.get("https://api.x.com/2/nothing", headers=auth).status_code == 404
    assert client.delete("https://api.x.com/2/tweets", headers=auth).status_code == 405
    assert client.get("https://evil.example.com/2/tweets", headers=auth).status_code == 404


def test_fault_queue_and_delay() -> None:
    sleeps: list[float] = []
    vendor = get_mock_class("ga4")(delay_ms=40, sleep=sleeps.append)
    vendor.rate_limit(2).fail_next(500)
    assert vendor.pending_faults == 3
    client = httpx.Client(transport=httpx.MockTransport(vendor))
    statuses = [client.get("https://analyticsdata.googleapis.com/x").status_code for _ in range(4)]
    assert statuses == [429, 429, 500, 401] and sleeps == [0.04] * 4
    assert vendor.pending_faults == 0


def test_vendor_validation_errors() -> None:
    settings = load_settings({})
    with pytest.raises(ConnectorError, match="Invalid To header"):
        build_connector("email", settings).send_email([], "s", "b")  # type: ignore[attr-defined]
    with pytest.raises(ConnectorError, match="Invalid integer"):
        build_connector("stripe", settings).create_payment_intent(0, "usd")  # type: ignore[attr-defined]
    with pytest.raises(ConnectorError, match=r"UNRECOGNIZED_FIELD|Unrecognized field"):
        build_connector("google_ads", settings).search("SELECT campaign.nope FROM campaign")  # type: ignore[attr-defined]
    with pytest.raises(ConnectorError, match="not a valid dimension"):
        build_connector("ga4", settings).run_report("today", "today", dimensions=("shoeSize",))  # type: ignore[attr-defined]
