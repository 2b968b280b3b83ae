"""Contract tests: the request each live connector builds, against the vendor's documented shape.

Every connector runs in *live* mode (mocks off, fake credentials from the environment) over
its mock vendor's ``httpx.MockTransport``, so the request checked here is byte for byte the
one that would go to the vendor: method, URL (with query), auth header, body.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from neonhub_nb.clock import FakeClock
from neonhub_nb.config import load_settings
from neonhub_nb.connectors import (
    CONNECTOR_NAMES,
    build_connector,
    get_connector_class,
    get_mock_class,
)
from neonhub_nb.connectors.base import Connector
from neonhub_nb.connectors.examples import EXAMPLES
from neonhub_nb.connectors.google_ads import CAMPAIGN_METRICS_QUERY
from neonhub_nb.connectors.mock import MockVendor

# Recognisable fake credentials: tests elsewhere assert "FAKESECRET" never lands anywhere.
FAKE_ENV = {
    "USE_MOCK_CONNECTORS": "false",
    "GMAIL_ACCESS_TOKEN": "ya29.FAKESECRET-gmail-token-0000",
    "GMAIL_SENDER": "growth@example.com",
    "TWILIO_ACCOUNT_SID": "AC0123456789abcdef0123456789abcdef",
    "TWILIO_AUTH_TOKEN": "FAKESECRET-twilio-auth-0000",
    "TWILIO_FROM_NUMBER": "+15005550006",
    "SLACK_BOT_TOKEN": "xoxb-FAKESECRET-slack-0000",
    "STRIPE_SECRET_KEY": "sk_test_FAKESECRETstripe0000",
    "WHATSAPP_ACCESS_TOKEN": "EAAFAKESECRETwhatsapp00000000",
    "WHATSAPP_PHONE_NUMBER_ID": "106540352242922",
    "INSTAGRAM_ACCESS_TOKEN": "EAAFAKESECRETinstagram0000000",
    "INSTAGRAM_USER_ID": "17841405822304914",
    "FACEBOOK_PAGE_ACCESS_TOKEN": "EAAFAKESECRETfacebook00000000",
    "FACEBOOK_PAGE_ID": "104938295824713",
    "LINKEDIN_ACCESS_TOKEN": "AQVFAKESECRET-linkedin-0000",
    "LINKEDIN_AUTHOR_URN": "urn:li:organization:5515715",
    "X_ACCESS_TOKEN": "FAKESECRET-x-user-token-0000",
    "X_USER_ID": "2244994945",
    "GOOGLE_ADS_ACCESS_TOKEN": "ya29.FAKESECRET-ads-token-00000",
    "GOOGLE_ADS_DEVELOPER_TOKEN": "FAKESECRET-ads-developer-0000",
    "GOOGLE_ADS_CUSTOMER_ID": "123-456-7890",
    "GOOGLE_ADS_LOGIN_CUSTOMER_ID": "111-222-3333",
    "GA4_ACCESS_TOKEN": "ya29.FAKESECRET-ga4-token-00000",
    "GA4_PROPERTY_ID": "314159265",
    "GSC_ACCESS_TOKEN": "ya29.FAKESECRET-gsc-token-00000",
    "GSC_SITE_URL": "https://www.example.com/",
    "SHOPIFY_ACCESS_TOKEN": "shpat_FAKESECRET0000shopify0000",
    "SHOPIFY_SHOP_DOMAIN": "neon-store",
    "DISCORD_BOT_TOKEN": "FAKESECRET.discord.bot-0000",
    "DISCORD_CHANNEL_ID": "1100000000000000001",
    "REDDIT_ACCESS_TOKEN": "FAKESECRET-reddit-token-0000",
    "REDDIT_USER_AGENT": "python:neonhub-tests:1.0 (by /u/tester)",
    "TIKTOK_ACCESS_TOKEN": "act.FAKESECRET-tiktok-0000",
    "YOUTUBE_ACCESS_TOKEN": "ya29.FAKESECRET-youtube-token-0",
    "YOUTUBE_CHANNEL_ID": "UCmockNeonHubChannel00000",
}
SECRET_MARK = "FAKESECRET"
NOTHING: Any = object()


def live_connector(
    name: str, env: dict[str, str] | None = None, **kwargs: Any
) -> tuple[Connector, MockVendor, list[float]]:
    """A live-mode connector over its mock vendor, with a fake clock and recorded sleeps."""
    settings = load_settings(env or FAKE_ENV)
    vendor = get_mock_class(name)()
    sleeps: list[float] = []
    kwargs.setdefault("clock", FakeClock())
    connector = build_connector(
        name,
        settings,
        http_client=httpx.Client(transport=httpx.MockTransport(vendor)),
        sleep=sleeps.append,
        **kwargs,
    )
    return connector, vendor, sleeps


def bearer(token_env: str) -> tuple[str, str]:
    return "Authorization", f"Bearer {FAKE_ENV[token_env]}"


def twilio_basic() -> tuple[str, str]:
    pair = f"{FAKE_ENV['TWILIO_ACCOUNT_SID']}:{FAKE_ENV['TWILIO_AUTH_TOKEN']}"
    return "Authorization", "Basic " + base64.b64encode(pair.encode()).decode()


def gmail_raw(body: Any) -> None:
    raw = base64.urlsafe_b64decode(body["raw"])
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert message["To"] == "ada@example.com"
    assert message["From"] == "growth@example.com"
    assert message["Subject"] == "Hello"
    assert message.get_content() == "Welcome!\n"
    assert set(body) == {"raw"}


def discord_nonce(body: Any) -> None:
    assert body["content"] == "New blog post is live"
    assert body["enforce_nonce"] is True
    assert isinstance(body["nonce"], str) and 1 <= len(body["nonce"]) <= 25


@dataclass(frozen=True)
class Expect:
    """One request as the vendor documents it."""

    method: str
    url: str
    auth: tuple[str, str]
    json: Any = NOTHING
    form: dict[str, str] | None = None
    check: Callable[[Any], None] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Seen in the second request (URL or body) when the operation reads more pages.
    next_page: str | None = None


GMAIL = "https://gmail.googleapis.com/gmail/v1/users/me/messages"
TWILIO = f"https://api.twilio.com/2010-04-01/Accounts/{FAKE_ENV['TWILIO_ACCOUNT_SID']}"
GRAPH = "https://graph.facebook.com/v25.0"
SHOP = "https://neon-store.myshopify.com/admin/api/2026-10"
TIKTOK_JSON = {"Content-Type": "application/json; charset=UTF-8"}

CONTRACTS: dict[tuple[str, str], list[Expect]] = {
    ("email", "send_email"): [
        Expect("POST", f"{GMAIL}/send", bearer("GMAIL_ACCESS_TOKEN"), check=gmail_raw)
    ],
    ("email", "list_messages"): [
        Expect("GET", f"{GMAIL}?maxResults=10&q=label%3Ainbox", bearer("GMAIL_ACCESS_TOKEN"),
               next_page="pageToken=")
    ],
    ("sms", "send_sms"): [
        Expect("POST", f"{TWILIO}/Messages.json", twilio_basic(),
               form={"To": "+15551234567", "Body": "Your order shipped", "From": "+15005550006"})
    ],
    ("sms", "list_messages"): [
        Expect("GET", f"{TWILIO}/Messages.json?PageSize=20", twilio_basic(),
               next_page="PageToken=")
    ],
    ("slack", "post_message"): [
        Expect("POST", "https://slack.com/api/chat.postMessage", bearer("SLACK_BOT_TOKEN"),
               json={"channel": "#launch", "text": "We are live"},
               headers={"Content-Type": "application/json; charset=utf-8"})
    ],
    ("slack", "list_channels"): [
        Expect("GET", "https://slack.com/api/conversations.list?types=public_channel&limit=10"
               "&exclude_archived=true", bearer("SLACK_BOT_TOKEN"), next_page="cursor=")
    ],
    ("stripe", "create_customer"): [
        Expect("POST", "https://api.stripe.com/v1/customers", bearer("STRIPE_SECRET_KEY"),
               form={"email": "ada@example.com"})
    ],
    ("stripe", "create_payment_intent"): [
        Expect("POST", "https://api.stripe.com/v1/payment_intents", bearer("STRIPE_SECRET_KEY"),
               form={"amount": "2500", "currency": "usd",
                     "automatic_payment_methods[enabled]": "true",
                     "metadata[campaign]": "spring"})
    ],
    ("stripe", "list_customers"): [
        Expect("GET", "https://api.stripe.com/v1/customers?limit=20", bearer("STRIPE_SECRET_KEY"),
               next_page="starting_after=cus_")
    ],
    ("whatsapp", "send_text"): [
        Expect("POST", f"{GRAPH}/106540352242922/messages", bearer("WHATSAPP_ACCESS_TOKEN"),
               json={"messaging_product": "whatsapp", "recipient_type": "individual",
                     "to": "+15551234567", "type": "text",
                     "text": {"preview_url": False, "body": "See you at 5"}})
    ],
    ("whatsapp", "send_template"): [
        Expect("POST", f"{GRAPH}/106540352242922/messages", bearer("WHATSAPP_ACCESS_TOKEN"),
               json={"messaging_product": "whatsapp", "recipient_type": "individual",
                     "to": "+15551234567", "type": "template",
                     "template": {"name": "hello_world", "language": {"code": "en_US"}}})
    ],
    ("instagram", "publish_image"): [
        Expect("POST", f"{GRAPH}/17841405822304914/media", bearer("INSTAGRAM_ACCESS_TOKEN"),
               json={"image_url": "https://cdn.example.com/launch.jpg", "caption": "Launch day"}),
        Expect("POST", f"{GRAPH}/17841405822304914/media_publish",
               bearer("INSTAGRAM_ACCESS_TOKEN"),
               check=lambda body: (set(body) == {"creation_id"}) or pytest.fail(str(body))),
    ],
    ("instagram", "list_media"): [
        Expect("GET", f"{GRAPH}/17841405822304914/media?fields=id%2Ccaption%2Cmedia_type"
               "%2Cmedia_url%2Cpermalink%2Ctimestamp%2Clike_count%2Ccomments_count&limit=10",
               bearer("INSTAGRAM_ACCESS_TOKEN"), next_page="after=")
    ],
    ("instagram", "media_insights"): [
        Expect("GET", f"{GRAPH}/17900000000000001/insights?metric=reach%2Clikes%2Ccomments"
               "%2Csaved", bearer("INSTAGRAM_ACCESS_TOKEN"))
    ],
    ("facebook", "publish_post"): [
        Expect("POST", f"{GRAPH}/104938295824713/feed", bearer("FACEBOOK_PAGE_ACCESS_TOKEN"),
               json={"message": "Spring sale starts today"})
    ],
    ("facebook", "list_posts"): [
        Expect("GET", f"{GRAPH}/104938295824713/posts?fields=id%2Cmessage%2Ccreated_time"
               "%2Cpermalink_url&limit=10", bearer("FACEBOOK_PAGE_ACCESS_TOKEN"),
               next_page="after=")
    ],
    ("facebook", "page_insights"): [
        Expect("GET", f"{GRAPH}/104938295824713/insights?metric=page_impressions_unique"
               "%2Cpage_post_engagements&period=day", bearer("FACEBOOK_PAGE_ACCESS_TOKEN"))
    ],
    ("linkedin", "create_post"): [
        Expect("POST", "https://api.linkedin.com/rest/posts", bearer("LINKEDIN_ACCESS_TOKEN"),
               headers={"LinkedIn-Version": "202607", "X-Restli-Protocol-Version": "2.0.0"},
               json={"author": "urn:li:organization:5515715",
                     "commentary": "Our Q3 report is out", "visibility": "PUBLIC",
                     "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                                      "thirdPartyDistributionChannels": []},
                     "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": False})
    ],
    ("linkedin", "list_posts"): [
        Expect("GET", "https://api.linkedin.com/rest/posts?q=author&author=urn%3Ali"
               "%3Aorganization%3A5515715&count=10&start=0&sortBy=LAST_MODIFIED",
               bearer("LINKEDIN_ACCESS_TOKEN"), next_page="start=10",
               headers={"X-RestLi-Method": "FINDER", "LinkedIn-Version": "202607"})
    ],
    ("x", "post"): [
        Expect("POST", "https://api.x.com/2/tweets", bearer("X_ACCESS_TOKEN"),
               json={"text": "Shipping day"})
    ],
    ("x", "list_posts"): [
        Expect("GET", "https://api.x.com/2/users/2244994945/tweets?max_results=20"
               "&tweet.fields=created_at%2Cpublic_metrics", bearer("X_ACCESS_TOKEN"),
               next_page="pagination_token=")
    ],
    ("google_ads", "search"): [
        Expect("POST", "https://googleads.googleapis.com/v26/customers/1234567890/"
               "googleAds:search", bearer("GOOGLE_ADS_ACCESS_TOKEN"),
               headers={"developer-token": FAKE_ENV["GOOGLE_ADS_DEVELOPER_TOKEN"],
                        "login-customer-id": "1112223333"},
               json={"query": "SELECT campaign.id, metrics.clicks FROM campaign"},
               next_page='"pageToken"')
    ],
    ("google_ads", "campaign_metrics"): [
        Expect("POST", "https://googleads.googleapis.com/v26/customers/1234567890/"
               "googleAds:search", bearer("GOOGLE_ADS_ACCESS_TOKEN"),
               json={"query": CAMPAIGN_METRICS_QUERY.format(during="LAST_7_DAYS")})
    ],
    ("ga4", "run_report"): [
        Expect("POST", "https://analyticsdata.googleapis.com/v1beta/properties/314159265"
               ":runReport", bearer("GA4_ACCESS_TOKEN"),
               json={"dateRanges": [{"startDate": "7daysAgo", "endDate": "today"}],
                     "dimensions": [{"name": "date"}, {"name": "country"}],
                     "metrics": [{"name": "sessions"}, {"name": "activeUsers"}],
                     "limit": "20", "offset": "0"}, next_page='"offset":"20"')
    ],
    ("gsc", "search_analytics"): [
        Expect("POST", "https://www.googleapis.com/webmasters/v3/sites/"
               "https%3A%2F%2Fwww.example.com%2F/searchAnalytics/query", bearer("GSC_ACCESS_TOKEN"),
               json={"startDate": "2025-12-01", "endDate": "2025-12-31", "dimensions": ["query"],
                     "type": "web", "rowLimit": 10, "startRow": 0}, next_page='"startRow":10')
    ],
    ("shopify", "list_orders"): [
        Expect("GET", f"{SHOP}/orders.json?status=any&limit=50",
               ("X-Shopify-Access-Token", FAKE_ENV["SHOPIFY_ACCESS_TOKEN"]),
               next_page="page_info=")
    ],
    ("shopify", "list_products"): [
        Expect("GET", f"{SHOP}/products.json?limit=20",
               ("X-Shopify-Access-Token", FAKE_ENV["SHOPIFY_ACCESS_TOKEN"]),
               next_page="page_info=")
    ],
    ("shopify", "create_product"): [
        Expect("POST", f"{SHOP}/products.json",
               ("X-Shopify-Access-Token", FAKE_ENV["SHOPIFY_ACCESS_TOKEN"]),
               json={"product": {"title": "Neon Tee", "body_html": "", "status": "draft",
                                 "tags": "merch"}})
    ],
    ("discord", "send_message"): [
        Expect("POST", "https://discord.com/api/v10/channels/1100000000000000001/messages",
               ("Authorization", f"Bot {FAKE_ENV['DISCORD_BOT_TOKEN']}"), check=discord_nonce)
    ],
    ("discord", "list_messages"): [
        Expect("GET", "https://discord.com/api/v10/channels/1100000000000000001/messages"
               "?limit=50", ("Authorization", f"Bot {FAKE_ENV['DISCORD_BOT_TOKEN']}"),
               next_page="before=")
    ],
    ("reddit", "submit_post"): [
        Expect("POST", "https://oauth.reddit.com/api/submit", bearer("REDDIT_ACCESS_TOKEN"),
               headers={"User-Agent": FAKE_ENV["REDDIT_USER_AGENT"]},
               form={"api_type": "json", "sr": "marketing", "title": "How we grew our newsletter",
                     "kind": "self", "text": "Notes"})
    ],
    ("reddit", "list_new"): [
        Expect("GET", "https://oauth.reddit.com/r/marketing/new?limit=50&raw_json=1",
               bearer("REDDIT_ACCESS_TOKEN"), next_page="after=t3_")
    ],
    ("tiktok", "publish_video"): [
        Expect("POST", "https://open.tiktokapis.com/v2/post/publish/video/init/",
               bearer("TIKTOK_ACCESS_TOKEN"), headers=TIKTOK_JSON,
               json={"post_info": {"title": "3 growth tips", "privacy_level": "SELF_ONLY",
                                   "disable_duet": False, "disable_comment": False,
                                   "disable_stitch": False, "video_cover_timestamp_ms": 1000},
                     "source_info": {"source": "PULL_FROM_URL",
                                     "video_url": "https://cdn.example.com/clip.mp4"}})
    ],
    ("tiktok", "publish_status"): [
        Expect("POST", "https://open.tiktokapis.com/v2/post/publish/status/fetch/",
               bearer("TIKTOK_ACCESS_TOKEN"), headers=TIKTOK_JSON,
               json={"publish_id": "v_pub_url~v2.1234567890"})
    ],
    ("tiktok", "list_videos"): [
        Expect("POST", "https://open.tiktokapis.com/v2/video/list/?fields=id%2Ctitle"
               "%2Ccreate_time%2Cshare_url%2Cview_count%2Clike_count%2Ccomment_count"
               "%2Cshare_count", bearer("TIKTOK_ACCESS_TOKEN"), json={"max_count": 20},
               next_page='"cursor":20')
    ],
    ("youtube", "list_channel_videos"): [
        Expect("GET", "https://www.googleapis.com/youtube/v3/search?part=snippet&channelId="
               "UCmockNeonHubChannel00000&type=video&order=date&maxResults=50",
               bearer("YOUTUBE_ACCESS_TOKEN"), next_page="pageToken=")
    ],
    ("youtube", "video_statistics"): [
        Expect("GET", "https://www.googleapis.com/youtube/v3/videos?part=snippet%2Cstatistics"
               "&id=xGp-Z8Ub8KQ%2C9my8ETBiFA0", bearer("YOUTUBE_ACCESS_TOKEN"))
    ],
    ("youtube", "channel_statistics"): [
        Expect("GET", "https://www.googleapis.com/youtube/v3/channels?part=statistics"
               "&id=UCmockNeonHubChannel00000", bearer("YOUTUBE_ACCESS_TOKEN"))
    ],
}  # fmt: skip

OPERATIONS = [(name, example) for name in CONNECTOR_NAMES for example in EXAMPLES[name]]


def _public_operations(name: str) -> set[str]:
    cls = get_connector_class(name)
    return {
        attr
        for klass in cls.__mro__
        if klass is not Connector and issubclass(klass, Connector)
        for attr, value in vars(klass).items()
        if callable(value) and not attr.startswith("_") and attr not in vars(Connector)
    }


def test_every_operation_has_an_example_and_a_contract() -> None:
    for name in CONNECTOR_NAMES:
        operations = {example.operation for example in EXAMPLES[name]}
        assert operations == _public_operations(name) - {"graph_path"}, name
        assert all((name, op) in CONTRACTS for op in operations), name
    assert len(CONTRACTS) == len(OPERATIONS)


@pytest.mark.parametrize(
    ("name", "example"), OPERATIONS, ids=[f"{n}.{e.operation}" for n, e in OPERATIONS]
)
def test_live_request_matches_the_vendor_contract(name: str, example: Any) -> None:
    connector, vendor, _ = live_connector(name)
    example.call(connector)
    expected = CONTRACTS[(name, example.operation)]
    for index, expect in enumerate(expected):
        request = vendor.requests[index]
        assert request.method == expect.method
        assert str(request.url) == expect.url
        header, value = expect.auth
        assert request.headers[header] == value
        for key, wanted in expect.headers.items():
            assert request.headers[key] == wanted, key
        if expect.json is not NOTHING:
            assert request.headers["Content-Type"].startswith("application/json")
            assert json.loads(request.content) == expect.json
        if expect.form is not None:
            assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
            assert dict(parse_qsl(request.content.decode())) == expect.form
        if expect.check is not None:
            expect.check(json.loads(request.content))
        if expect.json is NOTHING and expect.form is None and expect.check is None:
            assert request.content == b""
    # The operation followed the vendor's pagination to a second page where it has one.
    pager = expected[0].next_page
    if pager is not None:
        assert len(vendor.requests) >= 2
        second = vendor.requests[1]
        assert pager in str(second.url) or pager in second.content.decode()


def test_live_client_never_follows_redirects_and_has_timeouts() -> None:
    from neonhub_nb.connectors.registry import live_client

    with live_client() as client:
        assert client.follow_redirects is False
        assert client.timeout.connect == 5.0 and client.timeout.read == 20.0
        assert client.headers["User-Agent"].startswith("neonhub-nb/")


def test_stripe_writes_carry_a_deterministic_idempotency_key() -> None:
    connector, vendor, _ = live_connector("stripe")
    connector.create_payment_intent(2500, "usd")
    connector.create_payment_intent(2500, "usd")
    connector.create_payment_intent(2500, "usd", idempotency_key="order-42")
    keys = [r.headers["Idempotency-Key"] for r in vendor.requests]
    assert keys[0] == keys[1] and keys[0].startswith("nh-")
    assert keys[2] == "order-42"


def test_google_ads_login_customer_id_is_optional() -> None:
    env = {k: v for k, v in FAKE_ENV.items() if k != "GOOGLE_ADS_LOGIN_CUSTOMER_ID"}
    connector, vendor, _ = live_connector("google_ads", env)
    connector.search("SELECT campaign.id FROM campaign")
    assert "login-customer-id" not in vendor.requests[0].headers


def test_twilio_uses_a_messaging_service_when_the_sender_is_one() -> None:
    env = {**FAKE_ENV, "TWILIO_FROM_NUMBER": "MG0123456789abcdef0123456789abcdef"}
    connector, vendor, _ = live_connector("sms", env)
    connector.send_sms("+15551234567", "hi")
    form = dict(parse_qsl(vendor.requests[0].content.decode()))
    assert form["MessagingServiceSid"].startswith("MG") and "From" not in form


def test_reddit_link_posts_send_a_url() -> None:
    connector, vendor, _ = live_connector("reddit")
    connector.submit_post("marketing", "Our launch", url="https://example.com/launch")
    form = dict(parse_qsl(vendor.requests[0].content.decode()))
    assert form["kind"] == "link" and form["url"] == "https://example.com/launch"
    assert "text" not in form
