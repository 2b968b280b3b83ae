"""``youtube``: YouTube Data API v3 — list a channel's videos, video and channel statistics.

Live: ``GET https://www.googleapis.com/youtube/v3/search?part=snippet&channelId&type=video
&order=date`` (paged with ``pageToken`` / ``nextPageToken``), ``GET /youtube/v3/videos?
part=snippet,statistics&id=a,b`` (at most 50 ids a call) and ``GET /youtube/v3/channels?
part=statistics&id``. Counts come as strings and are returned as ints. A 403
``quotaExceeded`` (the daily quota) is not retried; ``rateLimitExceeded`` is.
Docs: https://developers.google.com/youtube/v3/docs
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import httpx

from .base import EnvVar, ServiceSpec
from .google import GoogleConnector, GoogleMock
from .mock import digest, mock_time, number, pick, route

__all__ = ["CONNECTOR", "YouTubeConnector", "YouTubeMock"]

_MAX_IDS = 50


class YouTubeConnector(GoogleConnector):
    spec = ServiceSpec(
        name="youtube",
        vendor="Google YouTube",
        api="YouTube Data API v3",
        docs="https://developers.google.com/youtube/v3/docs",
        base_url="https://www.googleapis.com",
        env=(
            EnvVar(
                "YOUTUBE_ACCESS_TOKEN",
                "OAuth 2.0 access token (scope youtube.readonly)",
                mock_value="ya29.mock-youtube-access-token-000000",
            ),
            EnvVar(
                "YOUTUBE_CHANNEL_ID",
                "Channel id (UC...)",
                secret=False,
                mock_value="UCmockNeonHubChannel00000",
            ),
        ),
    )
    token_env = "YOUTUBE_ACCESS_TOKEN"

    def list_channel_videos(
        self, *, page_size: int = 50, max_pages: int = 4
    ) -> list[dict[str, Any]]:
        """The channel's videos, newest first: ``{"video_id", "title", "published_at"}``."""
        channel = self.cred("YOUTUBE_CHANNEL_ID")
        with self._operation("list_channel_videos", {"page_size": page_size}) as op:

            def fetch(token: str | None) -> tuple[list[Any], str | None]:
                params = {
                    "part": "snippet",
                    "channelId": channel,
                    "type": "video",
                    "order": "date",
                    "maxResults": max(1, min(50, page_size)),
                }
                if token:
                    params["pageToken"] = token
                page = op.json("GET", "/youtube/v3/search", params=params)
                videos = [
                    {
                        "video_id": item["id"]["videoId"],
                        "title": item["snippet"]["title"],
                        "published_at": item["snippet"]["publishedAt"],
                    }
                    for item in page.get("items", [])
                ]
                return videos, page.get("nextPageToken")

            return op.paginate(fetch, max_pages)

    def video_statistics(self, video_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """``{video_id: {"title", "views", "likes", "comments"}}`` (50 ids per request)."""
        ids = list(dict.fromkeys(video_ids))
        stats: dict[str, dict[str, Any]] = {}
        with self._operation("video_statistics", {"videos": len(ids)}) as op:
            for start in range(0, len(ids), _MAX_IDS):
                page = op.json(
                    "GET",
                    "/youtube/v3/videos",
                    params={
                        "part": "snippet,statistics",
                        "id": ",".join(ids[start : start + _MAX_IDS]),
                    },
                )
                for item in page.get("items", []):
                    counts = item.get("statistics", {})
                    stats[item["id"]] = {
                        "title": item["snippet"]["title"],
                        "views": int(counts.get("viewCount", 0)),
                        "likes": int(counts.get("likeCount", 0)),
                        "comments": int(counts.get("commentCount", 0)),
                    }
            op.response = {"videos": len(stats), "missing": len(ids) - len(stats)}
            return stats

    def channel_statistics(self) -> dict[str, int]:
        """Subscribers, views and videos of the channel."""
        with self._operation("channel_statistics", {}) as op:
            page = op.json(
                "GET",
                "/youtube/v3/channels",
                params={"part": "statistics", "id": self.cred("YOUTUBE_CHANNEL_ID")},
            )
            if not page.get("items"):
                raise self._error(
                    "channel_statistics", "channel not found (check YOUTUBE_CHANNEL_ID)", 404
                )
            counts = page["items"][0]["statistics"]
            result = {
                "subscribers": int(counts.get("subscriberCount", 0)),
                "views": int(counts["viewCount"]),
                "videos": int(counts["videoCount"]),
            }
            op.response = dict(result)
            return result


def _video_id(i: int) -> str:
    return base64.urlsafe_b64encode(bytes.fromhex(digest("yt", i, length=16))).decode()[:11]


class YouTubeMock(GoogleMock):
    service = "youtube"
    host = r"www\.googleapis\.com"
    _TOTAL = 88

    def _etag(self, *parts: Any) -> str:
        return digest("etag", *parts, length=27)

    def _snippet(self, channel: str, i: int) -> dict[str, Any]:
        published = mock_time(i, 3 * 24 * 60)
        return {
            "publishedAt": published,
            "channelId": channel,
            "title": pick(("Product tour", "Customer story", "Live Q&A", "Tutorial"), i)
            + f" #{self._TOTAL - i}",
            "description": "Made with NeonHub",
            "channelTitle": "NeonHub",
            "liveBroadcastContent": "none",
            "publishTime": published,
        }

    @route("GET", r"/youtube/v3/search")
    def search(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        channel = params.get("channelId", "")
        if "snippet" not in params.get("part", ""):
            return self.error(400, "No filter selected. Expected one of: ...")
        size = self.query_int(request, "maxResults", 5)
        if not 0 <= size <= 50:
            return self.error(400, "Invalid value for parameter maxResults")
        token = params.get("pageToken", "")
        offset = int(base64.urlsafe_b64decode(token).decode()[4:]) if token else 0
        end = min(self._TOTAL, offset + size)
        items = [
            {
                "kind": "youtube#searchResult",
                "etag": self._etag(channel, i),
                "id": {"kind": "youtube#video", "videoId": _video_id(i)},
                "snippet": self._snippet(channel, i),
            }
            for i in range(offset, end)
        ]
        body: dict[str, Any] = {
            "kind": "youtube#searchListResponse",
            "etag": self._etag(channel, offset),
            "regionCode": "US",
            "items": items,
            "pageInfo": {"totalResults": self._TOTAL, "resultsPerPage": size},
        }
        if end < self._TOTAL:
            body["nextPageToken"] = base64.urlsafe_b64encode(f"page{end}".encode()).decode()
        return self.ok(body)

    @route("GET", r"/youtube/v3/videos")
    def videos(self, request: httpx.Request) -> httpx.Response:
        ids = [v for v in request.url.params.get("id", "").split(",") if v]
        if len(ids) > _MAX_IDS:
            return self.error(400, "The request specifies an invalid filter parameter.")
        known = {_video_id(i): i for i in range(self._TOTAL)}
        items = [
            {
                "kind": "youtube#video",
                "etag": self._etag(v),
                "id": v,
                "snippet": self._snippet("UCmockNeonHubChannel00000", known[v]),
                "statistics": {
                    "viewCount": str(number("yt-views", v, digits=5)),
                    "likeCount": str(number("yt-likes", v, digits=3)),
                    "favoriteCount": "0",
                    "commentCount": str(number("yt-comments", v, digits=2)),
                },
            }
            for v in ids
            if v in known
        ]
        return self.ok(
            {
                "kind": "youtube#videoListResponse",
                "etag": self._etag(ids),
                "items": items,
                "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
            }
        )

    @route("GET", r"/youtube/v3/channels")
    def channels(self, request: httpx.Request) -> httpx.Response:
        channel = request.url.params.get("id", "")
        if not channel.startswith("UC"):
            return self.ok(
                {
                    "kind": "youtube#channelListResponse",
                    "etag": self._etag(channel),
                    "pageInfo": {"totalResults": 0, "resultsPerPage": 5},
                }
            )
        item = {
            "kind": "youtube#channel",
            "etag": self._etag(channel),
            "id": channel,
            "statistics": {
                "viewCount": str(number("yt-ch-views", channel, digits=7)),
                "subscriberCount": str(number("yt-subs", channel, digits=5)),
                "hiddenSubscriberCount": False,
                "videoCount": str(self._TOTAL),
            },
        }
        return self.ok(
            {
                "kind": "youtube#channelListResponse",
                "etag": self._etag(channel),
                "pageInfo": {"totalResults": 1, "resultsPerPage": 5},
                "items": [item],
            }
        )


#: This service's live connector and its mock vendor (collected by the connector catalog).
CONNECTOR = (YouTubeConnector, YouTubeMock)
