"""``facebook``: Facebook Pages via the Graph API — publish a post, list posts, insights.

Live: ``POST https://graph.facebook.com/v25.0/{page-id}/feed`` (``message``, ``link``)
answers ``{"id": "{page-id}_{post-id}"}``; ``GET /{page-id}/posts`` pages with
``paging.cursors.after``; ``GET /{page-id}/insights?metric=...&period=day`` answers
``{"data": [{"name", "period", "values": [{"value", "end_time"}]}]}``. The Page access
token goes in ``Authorization: Bearer``. Docs: https://developers.facebook.com/docs/pages-api
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from typing import Any

import httpx

from .base import EnvVar, ServiceSpec
from .graph import GRAPH_API_VERSION, GRAPH_BASE_URL, GraphConnector, GraphMock
from .mock import mock_time, number, page_window, pick, route

__all__ = ["CONNECTOR", "FacebookConnector", "FacebookMock"]

_V = re.escape(GRAPH_API_VERSION)


class FacebookConnector(GraphConnector):
    spec = ServiceSpec(
        name="facebook",
        vendor="Meta Facebook",
        api=f"Facebook Graph API Pages ({GRAPH_API_VERSION})",
        docs="https://developers.facebook.com/docs/pages-api/posts",
        base_url=GRAPH_BASE_URL,
        env=(
            EnvVar(
                "FACEBOOK_PAGE_ACCESS_TOKEN",
                "Page access token with pages_manage_posts, read_insights",
                mock_value="EAAmockFacebookPageToken000000",
            ),
            EnvVar(
                "FACEBOOK_PAGE_ID",
                "Id of the Facebook Page",
                secret=False,
                mock_value="104938295824713",
            ),
        ),
    )
    token_env = "FACEBOOK_PAGE_ACCESS_TOKEN"

    def _page(self, edge: str) -> str:
        return self.graph_path(f"{self.cred('FACEBOOK_PAGE_ID')}/{edge}")

    def publish_post(self, message: str, *, link: str | None = None) -> dict[str, Any]:
        """Publish to the Page feed; returns ``{"id": "<page>_<post>"}``."""
        payload = {"message": message, **({"link": link} if link else {})}
        with self._operation("publish_post", {"message_chars": len(message), "link": link}) as op:
            posted = op.json("POST", self._page("feed"), json=payload, idempotent=False)
            op.response = {"id": posted["id"]}
            return dict(posted)

    def list_posts(self, *, page_size: int = 25, max_pages: int = 4) -> list[dict[str, Any]]:
        """The Page's posts, newest first."""
        with self._operation("list_posts", {"page_size": page_size}) as op:

            def fetch(after: str | None) -> tuple[list[Any], str | None]:
                params = {"fields": "id,message,created_time,permalink_url", "limit": page_size}
                if after:
                    params["after"] = after
                page = op.json("GET", self._page("posts"), params=params)
                paging = page.get("paging") or {}
                more = paging.get("next") and (paging.get("cursors") or {}).get("after")
                return list(page["data"]), more or None

            return op.paginate(fetch, max_pages)

    def page_insights(
        self,
        metrics: Sequence[str] = ("page_impressions_unique", "page_post_engagements"),
        *,
        period: str = "day",
    ) -> dict[str, list[dict[str, Any]]]:
        """``{metric: [{"value", "end_time"}, ...]}`` for the Page."""
        summary = {"metrics": list(metrics), "period": period}
        with self._operation("page_insights", summary) as op:
            page = op.json(
                "GET",
                self._page("insights"),
                params={"metric": ",".join(metrics), "period": period},
            )
            series = {row["name"]: list(row["values"]) for row in page["data"]}
            op.response = {"metrics": len(series)}
            return series


class FacebookMock(GraphMock):
    service = "facebook"
    _TOTAL = 40

    @route("POST", rf"/{_V}/(?P<page>\d+)/feed")
    def publish(self, request: httpx.Request, page: str) -> httpx.Response:
        payload = self.body_json(request) or {}
        if not payload.get("message") and not payload.get("link"):
            return self.error(400, "(#100) Missing message or attachment")
        return self.ok({"id": f"{page}_{number('fb-post', page, payload, digits=16)}"})

    @route("GET", rf"/{_V}/(?P<page>\d+)/posts")
    def list_posts(self, request: httpx.Request, page: str) -> httpx.Response:
        limit = min(100, self.query_int(request, "limit", 25))
        after = request.url.params.get("after")
        offset = int(base64.b64decode(after).decode()) if after else 0
        window, next_offset = page_window(self._TOTAL, offset, limit)
        data = [
            {
                "id": f"{page}_{number('fb-list', i, digits=16)}",
                "message": pick(
                    ("Join our webinar", "Spring collection is here", "Meet the team"), i
                ),
                "created_time": mock_time(i, 20 * 60, "%Y-%m-%dT%H:%M:%S+0000"),
                "permalink_url": f"https://www.facebook.com/{page}/posts/{i}",
            }
            for i in window
        ]
        after_cursor = base64.b64encode(str(next_offset or self._TOTAL).encode()).decode()
        paging: dict[str, Any] = {"cursors": {"before": "MA==", "after": after_cursor}}
        if next_offset is not None:
            paging["next"] = (
                f"https://graph.facebook.com/{GRAPH_API_VERSION}/{page}/posts"
                f"?limit={limit}&after={after_cursor}"
            )
        return self.ok({"data": data, "paging": paging})

    @route("GET", rf"/{_V}/(?P<page>\d+)/insights")
    def insights(self, request: httpx.Request, page: str) -> httpx.Response:
        names = [m for m in request.url.params.get("metric", "").split(",") if m]
        period = request.url.params.get("period", "day")
        if not names:
            return self.error(400, "(#100) The value must be a valid insights metric")
        data = [
            {
                "name": name,
                "period": period,
                "title": name.replace("_", " ").title(),
                "id": f"{page}/insights/{name}/{period}",
                "values": [
                    {
                        "value": number("fb-insight", name, day, digits=4),
                        "end_time": mock_time(day, 24 * 60, "%Y-%m-%dT08:00:00+0000"),
                    }
                    for day in (1, 0)
                ],
            }
            for name in names
        ]
        return self.ok({"data": data, "paging": {}})


#: This service's live connector and its mock vendor (collected by the connector catalog).
CONNECTOR = (FacebookConnector, FacebookMock)
