"""``linkedin``: LinkedIn Posts API (versioned REST) — create a post, list an author's posts.

Live: ``POST https://api.linkedin.com/rest/posts`` with headers ``LinkedIn-Version:
YYYYMM`` and ``X-Restli-Protocol-Version: 2.0.0`` and JSON ``{"author": urn,
"commentary", "visibility", "distribution": {...}, "lifecycleState": "PUBLISHED"}``;
LinkedIn answers ``201`` with an empty body and the new post's URN in ``x-restli-id``.
``GET /rest/posts?q=author&author={urn}&count&start`` (``X-RestLi-Method: FINDER``)
pages with ``paging.start/count/total``. No idempotency key: posts are not retried after
a 5xx. Docs: https://learn.microsoft.com/linkedin/marketing/community-management/shares/posts-api
"""

from __future__ import annotations

import re
from typing import Any, ClassVar
from urllib.parse import unquote

import httpx

from .base import Connector, EnvVar, ServiceSpec
from .mock import MockVendor, number, page_window, pick, route

__all__ = ["CONNECTOR", "LINKEDIN_VERSION", "LinkedInConnector", "LinkedInMock"]

#: Monthly API version; each is supported for at least a year after release.
LINKEDIN_VERSION = "202607"
_URN = re.compile(r"urn:li:(person|organization):[A-Za-z0-9_-]+")


class LinkedInConnector(Connector):
    spec = ServiceSpec(
        name="linkedin",
        vendor="LinkedIn",
        api=f"LinkedIn Posts API (LinkedIn-Version {LINKEDIN_VERSION})",
        docs="https://learn.microsoft.com/linkedin/marketing/community-management/shares/posts-api",
        base_url="https://api.linkedin.com",
        env=(
            EnvVar(
                "LINKEDIN_ACCESS_TOKEN",
                "3-legged OAuth token with w_member_social or w_organization_social",
                mock_value="AQVmockLinkedInToken0000000000",
            ),
            EnvVar(
                "LINKEDIN_AUTHOR_URN",
                "Author of posts: urn:li:person:... or urn:li:organization:...",
                secret=False,
                mock_value="urn:li:organization:5515715",
            ),
        ),
    )
    token_env = "LINKEDIN_ACCESS_TOKEN"

    def _headers(self) -> dict[str, str]:
        return {
            **super()._headers(),
            "LinkedIn-Version": LINKEDIN_VERSION,
            "X-Restli-Protocol-Version": "2.0.0",
        }

    def create_post(self, text: str, *, visibility: str = "PUBLIC") -> dict[str, Any]:
        """Publish a text post; returns ``{"id": "urn:li:share:..."}``."""
        payload = {
            "author": self.cred("LINKEDIN_AUTHOR_URN"),
            "commentary": text,
            "visibility": visibility,
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        with self._operation(
            "create_post", {"text_chars": len(text), "visibility": visibility}
        ) as op:
            response = op.send("POST", "/rest/posts", json=payload, idempotent=False)
            post_id = response.headers["x-restli-id"]
            op.response = {"id": post_id}
            return {"id": post_id}

    def list_posts(self, *, page_size: int = 10, max_pages: int = 5) -> list[dict[str, Any]]:
        """The author's posts, most recently modified first."""
        author = self.cred("LINKEDIN_AUTHOR_URN")
        with self._operation("list_posts", {"page_size": page_size}) as op:

            def fetch(start: int | None) -> tuple[list[Any], int | None]:
                offset = start or 0
                page = op.json(
                    "GET",
                    "/rest/posts",
                    headers={"X-RestLi-Method": "FINDER"},
                    params={
                        "q": "author",
                        "author": author,
                        "count": page_size,
                        "start": offset,
                        "sortBy": "LAST_MODIFIED",
                    },
                )
                elements = list(page["elements"])
                total = page.get("paging", {}).get("total")
                done = not elements or (total is not None and offset + len(elements) >= total)
                return elements, None if done else offset + len(elements)

            return op.paginate(fetch, max_pages)


class LinkedInMock(MockVendor):
    service = "linkedin"
    host = r"api\.linkedin\.com"
    _TOTAL = 23
    _CODES: ClassVar[dict[int, str]] = {
        401: "INVALID_ACCESS_TOKEN",
        403: "ACCESS_DENIED",
        404: "NOT_FOUND",
        429: "TOO_MANY_REQUESTS",
        400: "INVALID_REQUEST",
        500: "INTERNAL_SERVER_ERROR",
    }

    def error_body(self, status: int, message: str) -> Any:
        return {
            "status": status,
            "serviceErrorCode": 65600 if status == 401 else 100,
            "code": self._CODES.get(status, "SERVER_ERROR"),
            "message": message,
        }

    def check_auth(self, request: httpx.Request) -> httpx.Response | None:
        denied = super().check_auth(request)
        if denied is not None:
            return denied
        if not re.fullmatch(r"\d{6}(\.\d{2})?", request.headers.get("LinkedIn-Version", "")):
            return self.error(
                400,
                "A version must be present. Please specify a version by "
                "adding the LinkedIn-Version header.",
            )
        if request.headers.get("X-Restli-Protocol-Version") != "2.0.0":
            return self.error(400, "Rest.li protocol version 2.0.0 is required")
        return None

    @route("POST", r"/rest/posts")
    def create_post(self, request: httpx.Request) -> httpx.Response:
        payload = self.body_json(request) or {}
        if not _URN.fullmatch(str(payload.get("author", ""))):
            return self.error(422, "/author :: invalid URN syntax")
        for field in ("visibility", "distribution", "lifecycleState"):
            if field not in payload:
                return self.error(422, f"/{field} :: field is required but not found")
        urn = f"urn:li:share:{number('li-post', payload, digits=19)}"
        return httpx.Response(201, headers={"x-restli-id": urn, "x-linkedin-id": urn})

    @route("GET", r"/rest/posts")
    def find_posts(self, request: httpx.Request) -> httpx.Response:
        if request.url.params.get("q") != "author":
            return self.error(400, "Finder q is required")
        author = unquote(request.url.params.get("author", ""))
        start, count = self.query_int(request, "start", 0), self.query_int(request, "count", 10)
        window, _ = page_window(self._TOTAL, start, min(100, count))
        elements = [
            {
                "id": f"urn:li:share:{number('li-list', i, digits=19)}",
                "author": author,
                "commentary": pick(
                    ("We are hiring", "Our Q3 report is out", "Lessons from our launch"), i
                ),
                "visibility": "PUBLIC",
                "lifecycleState": "PUBLISHED",
                "publishedAt": 1767268800000 - i * 86_400_000,
                "lastModifiedAt": 1767268800000 - i * 86_400_000,
            }
            for i in window
        ]
        return self.ok(
            {
                "elements": elements,
                "paging": {"start": start, "count": count, "total": self._TOTAL, "links": []},
            }
        )


#: This service's live connector and its mock vendor (collected by the connector catalog).
CONNECTOR = (LinkedInConnector, LinkedInMock)
