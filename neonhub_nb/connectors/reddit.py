"""``reddit``: Reddit OAuth API — submit a post, list a subreddit's new posts.

Live: ``POST https://oauth.reddit.com/api/submit`` (form ``api_type=json``, ``sr``,
``kind=self|link``, ``title``, ``text`` or ``url``) answers ``{"json": {"errors": [],
"data": {"id", "name", "url"}}}`` — errors such as ``SUBREDDIT_NOEXIST`` arrive inside a
200 and become ConnectorErrors. ``GET /r/{sr}/new`` returns a Listing paged with
``after``. Every request needs a bearer token and a descriptive ``User-Agent``; rate
limits are announced in ``X-Ratelimit-Remaining`` / ``X-Ratelimit-Reset`` (seconds).
Docs: https://www.reddit.com/dev/api#POST_api_submit
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from ..backoff import retry_after_value
from .base import Connector, EnvVar, ServiceSpec
from .mock import MockVendor, number, pick, route

__all__ = ["CONNECTOR", "RedditConnector", "RedditMock"]

_DEFAULT_AGENT = "python:neonhub-nb:0.1 (by /u/neonhub-nb)"
_STATUS_OF = {
    "USER_REQUIRED": 401,
    "SUBREDDIT_NOEXIST": 404,
    "SUBREDDIT_NOTALLOWED": 403,
    "RATELIMIT": 429,
}
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(value: int) -> str:
    out = ""
    while value:
        value, digit = divmod(value, 36)
        out = _BASE36[digit] + out
    return out or "0"


class RedditConnector(Connector):
    spec = ServiceSpec(
        name="reddit",
        vendor="Reddit",
        api="Reddit OAuth API",
        docs="https://www.reddit.com/dev/api#POST_api_submit",
        base_url="https://oauth.reddit.com",
        env=(
            EnvVar(
                "REDDIT_ACCESS_TOKEN",
                "OAuth access token (scopes submit, read)",
                mock_value="mock-reddit-access-token-000000000",
            ),
            EnvVar(
                "REDDIT_USER_AGENT",
                "Descriptive User-Agent, e.g. 'python:neonhub-nb:0.1 (by /u/you)'",
                secret=False,
                required=False,
            ),
        ),
    )
    token_env = "REDDIT_ACCESS_TOKEN"

    def _headers(self) -> dict[str, str]:
        agent = self.optional_cred("REDDIT_USER_AGENT") or _DEFAULT_AGENT
        return {**super()._headers(), "User-Agent": agent}

    def _retry_after(self, response: httpx.Response) -> float | None:
        wait = super()._retry_after(response)
        if wait is None:
            wait = retry_after_value(response.headers.get("X-Ratelimit-Reset"), self._clock.now())
        return wait

    def _check_body(self, operation: str, response: httpx.Response, body: Any) -> None:
        errors = body.get("json", {}).get("errors") if isinstance(body, Mapping) else None
        if errors:
            code, message = str(errors[0][0]), str(errors[0][1])
            raise self._error(
                operation, f"Reddit error {code}: {message}", _STATUS_OF.get(code, 400)
            )

    def submit_post(
        self, subreddit: str, title: str, *, text: str | None = None, url: str | None = None
    ) -> dict[str, Any]:
        """Submit a self post (``text``) or a link post (``url``); returns ``{"id", "name",
        "url"}``."""
        form = {
            "api_type": "json",
            "sr": subreddit,
            "title": title,
            "kind": "link" if url else "self",
        }
        form.update({"url": url} if url else {"text": text or ""})
        summary = {"subreddit": subreddit, "title": title, "kind": form["kind"], "url": url}
        with self._operation("submit_post", summary) as op:
            answer = op.json("POST", "/api/submit", data=form, idempotent=False)
            data = answer["json"]["data"]
            op.response = {"id": data["id"], "name": data["name"]}
            return {"id": data["id"], "name": data["name"], "url": data["url"]}

    def list_new(
        self, subreddit: str, *, page_size: int = 100, max_pages: int = 5
    ) -> list[dict[str, Any]]:
        """Newest posts of a subreddit (each the ``data`` of a ``t3`` thing)."""
        summary = {"subreddit": subreddit, "page_size": page_size}
        with self._operation("list_new", summary) as op:

            def fetch(after: str | None) -> tuple[list[Any], str | None]:
                params: dict[str, Any] = {"limit": page_size, "raw_json": 1}
                if after:
                    params["after"] = after
                listing = op.json("GET", f"/r/{subreddit}/new", params=params)["data"]
                return [child["data"] for child in listing["children"]], listing.get("after")

            return op.paginate(fetch, max_pages)


class RedditMock(MockVendor):
    service = "reddit"
    host = r"oauth\.reddit\.com"
    _TOTAL = 180
    _REASONS: ClassVar[dict[int, str]] = {
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        429: "Too Many Requests",
        500: "Internal Server Error",
    }

    def error_body(self, status: int, message: str) -> Any:
        return {"message": self._REASONS.get(status, message), "error": status}

    def rate_limited(self, retry_after: str | None) -> httpx.Response:
        response = super().rate_limited(retry_after)
        response.headers.update(
            {
                "X-Ratelimit-Remaining": "0",
                "X-Ratelimit-Used": "100",
                "X-Ratelimit-Reset": retry_after or "60",
            }
        )
        return response

    def _thing(self, subreddit: str, i: int) -> dict[str, Any]:
        post_id = _base36(number("reddit", subreddit, i, digits=10))
        return {
            "kind": "t3",
            "data": {
                "id": post_id,
                "name": f"t3_{post_id}",
                "subreddit": subreddit,
                "title": pick(
                    (
                        "How do you grow a newsletter?",
                        "Show: our launch metrics",
                        "Weekly discussion thread",
                    ),
                    subreddit,
                    i,
                ),
                "author": f"user{i % 17}",
                "score": number("score", i, digits=3),
                "num_comments": number("comments", i, digits=2),
                "created_utc": 1767268800.0 - i * 900,
                "permalink": f"/r/{subreddit}/comments/{post_id}/",
                "is_self": True,
            },
        }

    @route("POST", r"/api/submit")
    def submit(self, request: httpx.Request) -> httpx.Response:
        form = self.body_form(request)
        subreddit = form.get("sr", "")
        errors: list[list[str]] = []
        if not re.fullmatch(r"[A-Za-z0-9_]{2,21}", subreddit) or subreddit.startswith("no"):
            errors.append(["SUBREDDIT_NOEXIST", "that subreddit doesn't exist", "sr"])
        elif not form.get("title"):
            errors.append(["NO_TEXT", "we need something here", "title"])
        elif len(form["title"]) > 300:
            errors.append(["TOO_LONG", "this is too long (max: 300)", "title"])
        elif form.get("kind") == "link" and not form.get("url"):
            errors.append(["NO_URL", "a url is required", "url"])
        if errors:
            return self.ok({"json": {"errors": errors}})
        post_id = _base36(number("reddit-submit", sorted(form.items()), digits=10))
        slug = re.sub(r"[^a-z0-9]+", "_", form["title"].lower()).strip("_")[:50]
        return self.ok(
            {
                "json": {
                    "errors": [],
                    "data": {
                        "url": f"https://www.reddit.com/r/{subreddit}/comments/{post_id}/{slug}/",
                        "drafts_count": 0,
                        "id": post_id,
                        "name": f"t3_{post_id}",
                    },
                }
            }
        )

    @route("GET", r"/r/(?P<subreddit>\w+)/new")
    def new(self, request: httpx.Request, subreddit: str) -> httpx.Response:
        limit = max(1, min(100, self.query_int(request, "limit", 25)))
        after = request.url.params.get("after")
        names = [
            f"t3_{_base36(number('reddit', subreddit, i, digits=10))}" for i in range(self._TOTAL)
        ]
        start = names.index(after) + 1 if after in names else 0
        end = min(self._TOTAL, start + limit)
        children = [self._thing(subreddit, i) for i in range(start, end)]
        return self.ok(
            {
                "kind": "Listing",
                "data": {
                    "after": names[end - 1] if end < self._TOTAL else None,
                    "dist": len(children),
                    "modhash": "",
                    "geo_filter": "",
                    "children": children,
                    "before": None,
                },
            },
            headers={
                "X-Ratelimit-Remaining": "99.0",
                "X-Ratelimit-Used": "1",
                "X-Ratelimit-Reset": "540",
            },
        )


#: This service's live connector and its mock vendor (collected by the connector catalog).
CONNECTOR = (RedditConnector, RedditMock)
