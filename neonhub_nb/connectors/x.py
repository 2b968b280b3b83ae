"""``x``: X (Twitter) API v2 — post, list a user's posts.

Live: ``POST https://api.x.com/2/tweets`` with ``{"text"}`` (and ``reply``) answers
``201 {"data": {"id", "text", "edit_history_tweet_ids"}}``; ``GET
/2/users/{id}/tweets`` pages with ``pagination_token`` / ``meta.next_token``. OAuth 2.0
user-context token as ``Authorization: Bearer``. Rate limits are 429 with
``x-rate-limit-reset`` (epoch seconds), honoured like ``Retry-After``. X rejects
duplicate text with a 403, so a post is never retried after a 5xx.
Docs: https://docs.x.com/x-api/posts/creation-of-a-post
"""

from __future__ import annotations

from datetime import UTC
from typing import Any, ClassVar

import httpx

from .base import Connector, EnvVar, ServiceSpec
from .mock import MockVendor, mock_time, number, page_window, pick, route

__all__ = ["CONNECTOR", "XConnector", "XMock"]

_PROBLEM = "https://api.twitter.com/2/problems/"


class XConnector(Connector):
    spec = ServiceSpec(
        name="x",
        vendor="X (Twitter)",
        api="X API v2",
        docs="https://docs.x.com/x-api/posts/creation-of-a-post",
        base_url="https://api.x.com",
        env=(
            EnvVar(
                "X_ACCESS_TOKEN",
                "OAuth 2.0 user-context access token (tweet.write, tweet.read, users.read)",
                mock_value="mock-x-user-access-token-0000000",
            ),
            EnvVar(
                "X_USER_ID",
                "Numeric id of the posting account",
                secret=False,
                mock_value="2244994945",
            ),
        ),
    )
    token_env = "X_ACCESS_TOKEN"

    def _retry_after(self, response: httpx.Response) -> float | None:
        wait = super()._retry_after(response)
        reset = response.headers.get("x-rate-limit-reset")
        if wait is None and reset and reset.isdigit():
            # The clock is naive UTC; the header is a Unix time.
            now = self._clock.now().replace(tzinfo=UTC).timestamp()
            return max(0.0, int(reset) - now)
        return wait

    def post(self, text: str, *, reply_to: str | None = None) -> dict[str, Any]:
        """Publish a post; returns ``{"id", "text", "edit_history_tweet_ids"}``."""
        payload: dict[str, Any] = {"text": text}
        if reply_to:
            payload["reply"] = {"in_reply_to_tweet_id": reply_to}
        with self._operation("post", {"text_chars": len(text), "reply_to": reply_to}) as op:
            created = op.json("POST", "/2/tweets", json=payload, idempotent=False)
            op.response = {"id": created["data"]["id"]}
            return dict(created["data"])

    def list_posts(self, *, page_size: int = 100, max_pages: int = 5) -> list[dict[str, Any]]:
        """The account's recent posts with ``public_metrics`` (likes, reposts ...)."""
        path = f"/2/users/{self.cred('X_USER_ID')}/tweets"
        with self._operation("list_posts", {"page_size": page_size}) as op:

            def fetch(token: str | None) -> tuple[list[Any], str | None]:
                params = {
                    "max_results": max(5, min(100, page_size)),
                    "tweet.fields": "created_at,public_metrics",
                }
                if token:
                    params["pagination_token"] = token
                page = op.json("GET", path, params=params)
                return list(page.get("data", [])), page.get("meta", {}).get("next_token")

            return op.paginate(fetch, max_pages)


class XMock(MockVendor):
    service = "x"
    host = r"api\.x\.com"
    _TOTAL = 64
    _TITLES: ClassVar[dict[int, str]] = {
        400: "Invalid Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found Error",
        429: "Too Many Requests",
        500: "Internal Error",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._posted: set[str] = set()

    def error_body(self, status: int, message: str) -> Any:
        title = self._TITLES.get(status, "Service Unavailable")
        kind = {400: "invalid-request", 404: "resource-not-found"}.get(status)
        return {
            "title": title,
            "detail": message,
            "status": status,
            "type": _PROBLEM + kind if kind else "about:blank",
        }

    def rate_limited(self, retry_after: str | None) -> httpx.Response:
        response = super().rate_limited(retry_after)
        response.headers.update({"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0"})
        return response

    @route("POST", r"/2/tweets")
    def create(self, request: httpx.Request) -> httpx.Response:
        payload = self.body_json(request)
        text = payload.get("text") if isinstance(payload, dict) else None
        if not isinstance(text, str) or not text.strip():
            return self.error(400, "One or more parameters to your request was invalid.")
        if len(text) > 280:
            return self.error(400, "Your Tweet text is too long.")
        if text in self._posted:
            return self.error(403, "You are not allowed to create a Tweet with duplicate content.")
        self._posted.add(text)
        post_id = str(number("x-post", payload, digits=19))
        return self.ok(
            {"data": {"id": post_id, "text": text, "edit_history_tweet_ids": [post_id]}}, 201
        )

    @route("GET", r"/2/users/(?P<user>\d+)/tweets")
    def timeline(self, request: httpx.Request, user: str) -> httpx.Response:
        size = self.query_int(request, "max_results", 10)
        if not 5 <= size <= 100:
            return self.error(
                400, "The `max_results` query parameter value is not between 5 and 100"
            )
        token = request.url.params.get("pagination_token", "")
        offset = int(token[1:], 16) if token.startswith("p") else 0
        window, next_offset = page_window(self._TOTAL, offset, size)
        data = [
            {
                "id": str(number("x-list", user, i, digits=19)),
                "edit_history_tweet_ids": [],
                "text": pick(("Shipping day", "Thread: what we learned", "New post up"), i),
                "created_at": mock_time(i, 7 * 60, "%Y-%m-%dT%H:%M:%S.000Z"),
                "public_metrics": {
                    "retweet_count": number("rt", i, digits=2),
                    "reply_count": number("re", i, digits=1),
                    "like_count": number("lk", i, digits=3),
                    "quote_count": 0,
                    "impression_count": number("im", i, digits=4),
                },
            }
            for i in window
        ]
        meta: dict[str, Any] = {"result_count": len(data)}
        if data:
            meta.update(newest_id=data[0]["id"], oldest_id=data[-1]["id"])
        if next_offset is not None:
            meta["next_token"] = f"p{next_offset:012x}"
        return self.ok({"data": data, "meta": meta})


#: This service's live connector and its mock vendor (collected by the connector catalog).
CONNECTOR = (XConnector, XMock)
