"""Failures: every vendor error becomes one clear ConnectorError naming service and operation.

Covers 401/403/404/500, 429 with and without ``Retry-After``, malformed bodies, the retry
rules (what is retried, what never is) and the vendor-specific ways of saying "slow down".
Sleeps are recorded, never waited.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

import httpx
import pytest

from neonhub_nb.clock import FakeClock
from neonhub_nb.config import load_settings
from neonhub_nb.connectors import (
    CONNECTOR_NAMES,
    Connector,
    ConnectorCall,
    ConnectorRetryPolicy,
    build_connector,
    get_mock_class,
    list_connectors,
)
from neonhub_nb.connectors.examples import EXAMPLES, Example
from neonhub_nb.connectors.mock import MockVendor
from neonhub_nb.errors import ConnectorError


def fake_env() -> dict[str, str]:
    """Live mode with a recognisable fake value for every credential."""
    env = {"USE_MOCK_CONNECTORS": "false"}
    for spec in list_connectors():
        for var in spec.env:
            if var.mock_value:
                env[var.name] = var.mock_value.replace("mock", "FAKESECRET", 1)
    return env


class Harness:
    def __init__(self, name: str, **kwargs: Any) -> None:
        self.vendor: MockVendor = get_mock_class(name)()
        self.sleeps: list[float] = []
        self.calls: list[ConnectorCall] = []
        self.clock = FakeClock()
        self.connector: Connector = build_connector(
            name,
            load_settings(fake_env()),
            http_client=httpx.Client(transport=httpx.MockTransport(self.vendor)),
            sleep=self.sleeps.append,
            clock=self.clock,
            instrument=self.calls.append,
            **kwargs,
        )


def first(name: str) -> Example:
    return EXAMPLES[name][0]


def read(name: str) -> Example:
    return next(e for e in EXAMPLES[name] if not e.write)


def secret_names(name: str) -> list[str]:
    spec = next(s for s in list_connectors() if s.name == name)
    return [v.name for v in spec.env if v.secret]


@pytest.mark.parametrize("status", [401, 403, 404, 500])
@pytest.mark.parametrize("name", CONNECTOR_NAMES)
def test_http_errors_become_connector_errors(name: str, status: int) -> None:
    h = Harness(name)
    h.vendor.fail_next(status)
    example = first(name)
    with pytest.raises(ConnectorError) as caught:
        example.call(h.connector)
    err = caught.value
    assert (err.service, err.operation, err.status_code) == (name, example.operation, status)
    assert str(err).startswith(f"{name}.{example.operation}: ")
    if status == 401:  # the message says which variables to check
        assert all(var in str(err) for var in secret_names(name))
    (call,) = h.calls
    assert call.status == "failed" and call.attempts == 1 and h.sleeps == []
    assert call.error is not None and call.error.startswith("ConnectorError: ")


@pytest.mark.parametrize("name", CONNECTOR_NAMES)
def test_429_with_retry_after_waits_that_long_then_succeeds(name: str) -> None:
    h = Harness(name)
    h.vendor.rate_limit(1, retry_after=2)
    first(name).call(h.connector)
    (call,) = h.calls
    assert h.sleeps == [2.0]
    assert (call.status, call.rate_limited) == ("succeeded", 1)
    assert call.attempts == len(h.vendor.requests)


@pytest.mark.parametrize("name", CONNECTOR_NAMES)
def test_429_without_retry_after_backs_off_with_jitter(name: str) -> None:
    h = Harness(name)
    h.vendor.rate_limit(1, retry_after=None)
    first(name).call(h.connector)
    (wait,) = h.sleeps
    if name == "reddit":  # Reddit always announces its window in X-Ratelimit-Reset
        assert wait == 60.0
    else:  # first backoff: 0.5 s ceiling, equal jitter
        assert 0.25 <= wait <= 0.5
    assert h.calls[0].rate_limited == 1


@pytest.mark.parametrize("name", CONNECTOR_NAMES)
def test_429_that_persists_fails_after_the_last_attempt(name: str) -> None:
    h = Harness(name)
    h.vendor.rate_limit(3, retry_after=1)
    example = first(name)
    with pytest.raises(ConnectorError, match="rate limited") as caught:
        example.call(h.connector)
    assert caught.value.status_code == 429
    (call,) = h.calls
    assert (call.attempts, call.rate_limited, h.sleeps) == (3, 3, [1.0, 1.0])


@pytest.mark.parametrize("name", CONNECTOR_NAMES)
def test_malformed_body_is_a_clear_error(name: str) -> None:
    h = Harness(name)
    h.vendor.fail_next(200, body=b"<html>upstream proxy</html>")
    example = first(name)
    with pytest.raises(ConnectorError, match="malformed response") as caught:
        example.call(h.connector)
    assert caught.value.service == name and caught.value.operation == example.operation
    assert h.calls[0].status == "failed"


@pytest.mark.parametrize(
    ("name", "operation"),
    [
        ("stripe", "create_customer"),
        ("x", "post"),
        ("shopify", "create_product"),
        ("discord", "send_message"),
        ("whatsapp", "send_text"),
    ],
)
def test_json_of_the_wrong_shape_is_a_clear_error(name: str, operation: str) -> None:
    h = Harness(name)
    h.vendor.fail_next(200, body=b'{"unexpected": true}')
    example = next(e for e in EXAMPLES[name] if e.operation == operation)
    with pytest.raises(ConnectorError, match=f"{name}.{operation}: malformed response"):
        example.call(h.connector)


def test_gateway_errors_on_reads_are_retried() -> None:
    h = Harness("ga4")
    h.vendor.fail_next(503)
    read("ga4").call(h.connector)
    assert h.calls[0].status == "succeeded" and len(h.sleeps) == 1


def test_gateway_errors_on_writes_without_idempotency_are_not_retried() -> None:
    h = Harness("sms")
    h.vendor.fail_next(503)
    with pytest.raises(ConnectorError, match="HTTP 503") as caught:
        h.connector.send_sms("+15551234567", "hi")  # type: ignore[attr-defined]
    assert caught.value.status_code == 503
    assert h.calls[0].attempts == 1 and h.sleeps == []


def test_stripe_retries_a_write_with_the_same_idempotency_key() -> None:
    h = Harness("stripe")
    h.vendor.fail_next(502)
    intent = h.connector.create_payment_intent(990, "eur")  # type: ignore[attr-defined]
    keys = {r.headers["Idempotency-Key"] for r in h.vendor.requests}
    assert len(h.vendor.requests) == 2 and len(keys) == 1
    assert list(h.vendor.created) == [intent["id"]]  # type: ignore[attr-defined]


def test_refused_connections_are_retried_even_for_writes() -> None:
    h = Harness("sms")
    h.vendor.fail_next(exception=httpx.ConnectError)
    h.connector.send_sms("+15551234567", "hi")  # type: ignore[attr-defined]
    assert h.calls[0].attempts == 2 and h.calls[0].status == "succeeded"


def test_timeouts_on_writes_are_not_retried() -> None:
    h = Harness("sms")
    h.vendor.fail_next(exception=httpx.ReadTimeout)
    with pytest.raises(ConnectorError, match=r"sms.send_sms: timed out after 1 attempt"):
        h.connector.send_sms("+15551234567", "hi")  # type: ignore[attr-defined]
    assert h.calls[0].http_status is None


def test_timeouts_on_reads_are_retried_up_to_the_policy() -> None:
    h = Harness("youtube", retry=ConnectorRetryPolicy(max_attempts=4, backoff_base_s=1.0))
    h.vendor.fail_next(times=4, exception=httpx.ReadTimeout)
    with pytest.raises(ConnectorError, match="timed out after 4 attempt"):
        h.connector.channel_statistics()  # type: ignore[attr-defined]
    assert len(h.sleeps) == 3
    assert 0.5 <= h.sleeps[0] <= 1.0 and 1.0 <= h.sleeps[1] <= 2.0 and 2.0 <= h.sleeps[2] <= 4.0


def test_retry_after_as_an_http_date() -> None:
    h = Harness("shopify")  # the fake clock reads 2026-01-01 12:00:00 UTC
    h.vendor.rate_limit(1, retry_after="Thu, 01 Jan 2026 12:00:07 GMT")
    h.connector.list_products(max_pages=1)  # type: ignore[attr-defined]
    assert h.sleeps == [7.0]


def test_a_retry_after_too_long_fails_at_once_instead_of_blocking() -> None:
    h = Harness("slack")
    h.vendor.rate_limit(1, retry_after=3600)
    with pytest.raises(ConnectorError, match=r"retry after 3600 s"):
        h.connector.post_message("#x", "hi")  # type: ignore[attr-defined]
    assert h.sleeps == [] and h.calls[0].attempts == 1


def test_x_rate_limit_reset_header_is_honoured() -> None:
    h = Harness("x")
    reset = int(h.clock.now().replace(tzinfo=UTC).timestamp()) + 5
    h.vendor.fail_next(429, headers={"x-rate-limit-reset": str(reset)})
    h.connector.post("hello")  # type: ignore[attr-defined]
    assert h.sleeps == [5.0]


def test_discord_prefers_the_exact_retry_after_in_the_body() -> None:
    h = Harness("discord")
    body = json.dumps({"message": "You are being rate limited.", "retry_after": 1.25})
    h.vendor.fail_next(429, body=body.encode(), retry_after=2)
    h.connector.send_message("hi")  # type: ignore[attr-defined]
    assert h.sleeps == [1.25]


def google_error(status: int, reason: str) -> bytes:
    error = {"code": status, "message": reason, "errors": [{"reason": reason}]}
    return json.dumps({"error": error}).encode()


def test_google_403_rate_limit_is_retried_but_quota_is_not() -> None:
    h = Harness("youtube")
    h.vendor.fail_next(403, body=google_error(403, "rateLimitExceeded"))
    h.connector.channel_statistics()  # type: ignore[attr-defined]
    assert h.calls[-1].rate_limited == 1
    h.vendor.fail_next(403, body=google_error(403, "quotaExceeded"))
    with pytest.raises(ConnectorError, match="quotaExceeded") as caught:
        h.connector.channel_statistics()  # type: ignore[attr-defined]
    assert caught.value.status_code == 403 and h.calls[-1].attempts == 1


def test_graph_throttling_codes_are_treated_as_rate_limits() -> None:
    h = Harness("facebook")
    body = {"error": {"message": "(#4) Application request limit reached", "code": 4}}
    h.vendor.fail_next(400, body=json.dumps(body).encode())
    h.connector.publish_post("hi")  # type: ignore[attr-defined]
    assert h.calls[0].rate_limited == 1 and h.calls[0].status == "succeeded"


def test_slack_errors_inside_200_answers() -> None:
    h = Harness("slack")
    h.vendor.fail_next(200, body=b'{"ok": false, "error": "not_in_channel"}')
    with pytest.raises(ConnectorError, match="Slack error not_in_channel") as caught:
        h.connector.post_message("#private", "hi")  # type: ignore[attr-defined]
    assert caught.value.status_code == 403


def test_reddit_errors_inside_200_answers() -> None:
    h = Harness("reddit")
    with pytest.raises(ConnectorError, match="SUBREDDIT_NOEXIST") as caught:
        h.connector.submit_post("nosuchsub", "Hello", text="x")  # type: ignore[attr-defined]
    assert caught.value.status_code == 404


def test_tiktok_error_codes_inside_200_answers() -> None:
    h = Harness("tiktok")
    body = {"data": {}, "error": {"code": "spam_risk_too_many_posts", "message": "slow down"}}
    h.vendor.fail_next(200, body=json.dumps(body).encode())
    with pytest.raises(ConnectorError, match="spam_risk_too_many_posts") as caught:
        first("tiktok").call(h.connector)
    assert caught.value.status_code == 429


def test_vendor_validation_messages_reach_the_caller() -> None:
    h = Harness("sms")
    with pytest.raises(ConnectorError, match="'To' number 12345 is not a valid phone number"):
        h.connector.send_sms("12345", "hi")  # type: ignore[attr-defined]


def test_pagination_never_follows_links_to_another_host() -> None:
    h = Harness("shopify")
    evil = '<https://collector.example.net/orders.json?page_info=x>; rel="next"'
    h.vendor.fail_next(200, body=b'{"orders": [{"id": 1}]}', headers={"Link": evil})
    with pytest.raises(ConnectorError, match="refusing to follow a link to another host"):
        h.connector.list_orders()  # type: ignore[attr-defined]
    assert len(h.vendor.requests) == 1


def test_max_pages_bounds_pagination() -> None:
    h = Harness("shopify")
    orders = h.connector.list_orders(page_size=10, max_pages=2)  # type: ignore[attr-defined]
    assert len(orders) == 20 and h.calls[0].response == {"count": 20, "pages": 2, "truncated": True}
