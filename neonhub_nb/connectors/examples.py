"""One representative call per connector operation: for demos, notebooks and tests.

>>> from neonhub_nb.connectors.examples import run_examples                # doctest: +SKIP
>>> run_examples("stripe", settings)        # each operation once, in mock mode: a table
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..errors import ConnectorError
from .base import ConnectorCall
from .registry import build_connector

__all__ = ["EXAMPLES", "Example", "run_examples"]


@dataclass(frozen=True)
class Example:
    operation: str
    call: Callable[[Any], Any]
    #: Whether the operation changes something at the vendor (sends, posts, charges).
    write: bool = False


EXAMPLES: dict[str, tuple[Example, ...]] = {
    "email": (
        Example("send_email", lambda c: c.send_email("ada@example.com", "Hello", "Welcome!"), True),
        Example("list_messages", lambda c: c.list_messages("label:inbox", page_size=10)),
    ),
    "sms": (
        Example("send_sms", lambda c: c.send_sms("+15551234567", "Your order shipped"), True),
        Example("list_messages", lambda c: c.list_messages(page_size=20)),
    ),
    "slack": (
        Example("post_message", lambda c: c.post_message("#launch", "We are live"), True),
        Example("list_channels", lambda c: c.list_channels(page_size=10)),
    ),
    "stripe": (
        Example("create_customer", lambda c: c.create_customer("ada@example.com"), True),
        Example(
            "create_payment_intent",
            lambda c: c.create_payment_intent(2500, "usd", metadata={"campaign": "spring"}),
            True,
        ),
        Example("list_customers", lambda c: c.list_customers(page_size=20, max_pages=2)),
    ),
    "whatsapp": (
        Example("send_text", lambda c: c.send_text("+15551234567", "See you at 5"), True),
        Example("send_template", lambda c: c.send_template("+15551234567", "hello_world"), True),
    ),
    "instagram": (
        Example(
            "publish_image",
            lambda c: c.publish_image("https://cdn.example.com/launch.jpg", "Launch day"),
            True,
        ),
        Example("list_media", lambda c: c.list_media(page_size=10)),
        Example("media_insights", lambda c: c.media_insights("17900000000000001")),
    ),
    "facebook": (
        Example("publish_post", lambda c: c.publish_post("Spring sale starts today"), True),
        Example("list_posts", lambda c: c.list_posts(page_size=10)),
        Example("page_insights", lambda c: c.page_insights()),
    ),
    "linkedin": (
        Example("create_post", lambda c: c.create_post("Our Q3 report is out"), True),
        Example("list_posts", lambda c: c.list_posts(page_size=10)),
    ),
    "x": (
        Example("post", lambda c: c.post("Shipping day"), True),
        Example("list_posts", lambda c: c.list_posts(page_size=20)),
    ),
    "google_ads": (
        Example("search", lambda c: c.search("SELECT campaign.id, metrics.clicks FROM campaign")),
        Example("campaign_metrics", lambda c: c.campaign_metrics("LAST_7_DAYS")),
    ),
    "ga4": (
        Example(
            "run_report",
            lambda c: c.run_report(
                "7daysAgo", "today", dimensions=("date", "country"), page_size=20
            ),
        ),
    ),
    "gsc": (
        Example(
            "search_analytics",
            lambda c: c.search_analytics("2025-12-01", "2025-12-31", row_limit=10),
        ),
    ),
    "shopify": (
        Example("list_orders", lambda c: c.list_orders(page_size=50)),
        Example("list_products", lambda c: c.list_products(page_size=20)),
        Example("create_product", lambda c: c.create_product("Neon Tee", tags=("merch",)), True),
    ),
    "discord": (
        Example("send_message", lambda c: c.send_message("New blog post is live"), True),
        Example("list_messages", lambda c: c.list_messages(page_size=50)),
    ),
    "reddit": (
        Example(
            "submit_post",
            lambda c: c.submit_post("marketing", "How we grew our newsletter", text="Notes"),
            True,
        ),
        Example("list_new", lambda c: c.list_new("marketing", page_size=50)),
    ),
    "tiktok": (
        Example(
            "publish_video",
            lambda c: c.publish_video("https://cdn.example.com/clip.mp4", "3 growth tips"),
            True,
        ),
        Example("publish_status", lambda c: c.publish_status("v_pub_url~v2.1234567890")),
        Example("list_videos", lambda c: c.list_videos(page_size=20)),
    ),
    "youtube": (
        Example("list_channel_videos", lambda c: c.list_channel_videos(page_size=50)),
        Example("video_statistics", lambda c: c.video_statistics(["xGp-Z8Ub8KQ", "9my8ETBiFA0"])),
        Example("channel_statistics", lambda c: c.channel_statistics()),
    ),
}


def run_examples(name: str, settings: Settings) -> list[dict[str, Any]]:
    """Run every example of ``name`` once; one row per operation (status, ids, timing)."""
    calls: list[ConnectorCall] = []
    rows: list[dict[str, Any]] = []
    with build_connector(name, settings, instrument=calls.append) as connector:
        for example in EXAMPLES[name]:
            with contextlib.suppress(ConnectorError):  # a failure is in the call record
                example.call(connector)
            call = calls[-1]
            rows.append(
                {
                    "service": name,
                    "operation": call.operation,
                    "transport": connector.transport,
                    "status": call.status,
                    "http_status": call.http_status,
                    "attempts": call.attempts,
                    "response": call.response,
                    "error": call.error,
                }
            )
    return rows
