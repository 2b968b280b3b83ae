"""``instagram``: Instagram Graph API (business accounts) — publish, list media, insights.

Live: publishing is two calls, as Meta documents it: ``POST /{ig-user-id}/media``
(``image_url``, ``caption``) creates a container, ``POST /{ig-user-id}/media_publish``
(``creation_id``) publishes it; both answer ``{"id"}``. ``GET /{ig-user-id}/media``
lists media with cursor paging (``paging.cursors.after``); ``GET /{media-id}/insights``
reads metrics. Publishing has no idempotency key and is not retried after a 5xx.
Docs: https://developers.facebook.com/docs/instagram-platform/content-publishing
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

__all__ = ["CONNECTOR", "InstagramConnector", "InstagramMock"]

_FIELDS = "id,caption,media_type,media_url,permalink,timestamp,like_count,comments_count"
_V = re.escape(GRAPH_API_VERSION)


class InstagramConnector(GraphConnector):
    spec = ServiceSpec(
        name="instagram",
        vendor="Meta Instagram",
        api=f"Instagram Graph API ({GRAPH_API_VERSION})",
        docs="https://developers.facebook.com/docs/instagram-platform/content-publishing",
        base_url=GRAPH_BASE_URL,
        env=(
            EnvVar(
                "INSTAGRAM_ACCESS_TOKEN",
                "Access token with instagram_content_publish, instagram_basic",
                mock_value="EAAmockInstagramToken000000000",
            ),
            EnvVar(
                "INSTAGRAM_USER_ID",
                "Instagram professional account (IG user) id",
                secret=False,
                mock_value="17841405822304914",
            ),
        ),
    )
    token_env = "INSTAGRAM_ACCESS_TOKEN"

    def publish_image(self, image_url: str, caption: str = "") -> dict[str, Any]:
        """Create a media container and publish it; returns ``{"id", "container_id"}``."""
        user = self.cred("INSTAGRAM_USER_ID")
        summary = {"image_url": image_url, "caption_chars": len(caption)}
        with self._operation("publish_image", summary) as op:
            container = op.json(
                "POST",
                self.graph_path(f"{user}/media"),
                json={"image_url": image_url, "caption": caption},
            )
            published = op.json(
                "POST",
                self.graph_path(f"{user}/media_publish"),
                json={"creation_id": container["id"]},
            )
            op.response = {"id": published["id"], "container_id": container["id"]}
            return {"id": published["id"], "container_id": container["id"]}

    def list_media(self, *, page_size: int = 25, max_pages: int = 4) -> list[dict[str, Any]]:
        """The account's media, newest first, with like and comment counts."""
        path = self.graph_path(f"{self.cred('INSTAGRAM_USER_ID')}/media")
        with self._operation("list_media", {"page_size": page_size}) as op:

            def fetch(after: str | None) -> tuple[list[Any], str | None]:
                params = {"fields": _FIELDS, "limit": page_size}
                if after:
                    params["after"] = after
                page = op.json("GET", path, params=params)
                paging = page.get("paging") or {}
                more = paging.get("next") and (paging.get("cursors") or {}).get("after")
                return list(page["data"]), more or None

            return op.paginate(fetch, max_pages)

    def media_insights(
        self, media_id: str, metrics: Sequence[str] = ("reach", "likes", "comments", "saved")
    ) -> dict[str, int]:
        """Lifetime metrics of one media object, ``{metric: value}``."""
        summary = {"media_id": media_id, "metrics": list(metrics)}
        with self._operation("media_insights", summary) as op:
            page = op.json(
                "GET", self.graph_path(f"{media_id}/insights"), params={"metric": ",".join(metrics)}
            )
            values = {row["name"]: row["values"][0]["value"] for row in page["data"]}
            op.response = {"metrics": len(values)}
            return values


class InstagramMock(GraphMock):
    service = "instagram"
    _TOTAL = 31

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.containers: dict[str, str] = {}  # container id -> status

    @route("POST", rf"/{_V}/(?P<user>\d+)/media")
    def create_container(self, request: httpx.Request, user: str) -> httpx.Response:
        payload = self.body_json(request) or {}
        if not payload.get("image_url") and not payload.get("video_url"):
            return self.error(400, "(#100) The parameter image_url is required")
        container = str(number("ig-container", user, payload, digits=17))
        self.containers[container] = "FINISHED"
        return self.ok({"id": container})

    @route("POST", rf"/{_V}/(?P<user>\d+)/media_publish")
    def publish(self, request: httpx.Request, user: str) -> httpx.Response:
        creation_id = str((self.body_json(request) or {}).get("creation_id", ""))
        if self.containers.get(creation_id) != "FINISHED":
            return self.error(400, "(#9007) Media ID is not available")
        self.containers[creation_id] = "PUBLISHED"
        return self.ok({"id": str(number("ig-media", creation_id, digits=17))})

    @route("GET", rf"/{_V}/(?P<user>\d+)/media")
    def list_media(self, request: httpx.Request, user: str) -> httpx.Response:
        limit = min(100, self.query_int(request, "limit", 25))
        after = request.url.params.get("after")
        offset = int(base64.b64decode(after).decode()) if after else 0
        window, next_offset = page_window(self._TOTAL, offset, limit)
        data = [
            {
                "id": str(number("ig-list", user, i, digits=17)),
                "caption": pick(("New drop today", "Behind the scenes", "Customer story"), i),
                "media_type": pick(("IMAGE", "CAROUSEL_ALBUM", "VIDEO"), "t", i),
                "permalink": f"https://www.instagram.com/p/{number(i, digits=11)}/",
                "timestamp": mock_time(i, 24 * 60, "%Y-%m-%dT%H:%M:%S+0000"),
                "like_count": number("ig-likes", i, digits=3),
                "comments_count": number("ig-comments", i, digits=2),
            }
            for i in window
        ]
        cursors = {
            "before": base64.b64encode(str(offset).encode()).decode(),
            "after": base64.b64encode(str(next_offset or self._TOTAL).encode()).decode(),
        }
        paging: dict[str, Any] = {"cursors": cursors}
        if next_offset is not None:
            paging["next"] = (
                f"https://graph.facebook.com/{GRAPH_API_VERSION}/{user}/media"
                f"?limit={limit}&after={cursors['after']}"
            )
        return self.ok({"data": data, "paging": paging})

    @route("GET", rf"/{_V}/(?P<media>\d+)/insights")
    def insights(self, request: httpx.Request, media: str) -> httpx.Response:
        names = [m for m in request.url.params.get("metric", "").split(",") if m]
        if not names:
            return self.error(400, "(#100) The parameter metric is required")
        data = [
            {
                "name": name,
                "period": "lifetime",
                "title": name.title(),
                "values": [{"value": number("ig-insight", media, name, digits=4)}],
                "id": f"{media}/insights/{name}/lifetime",
            }
            for name in names
        ]
        return self.ok({"data": data})


#: This service's live connector and its mock vendor (collected by the connector catalog).
CONNECTOR = (InstagramConnector, InstagramMock)
