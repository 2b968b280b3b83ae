"""``tiktok``: TikTok Content Posting API and Display API v2 — publish, status, list videos.

Live: ``POST https://open.tiktokapis.com/v2/post/publish/video/init/`` with
``{"post_info": {"title", "privacy_level", ...}, "source_info": {"source":
"PULL_FROM_URL", "video_url"}}`` answers ``{"data": {"publish_id"}, "error": {"code":
"ok", "message", "log_id"}}``; publishing is asynchronous, so
``/v2/post/publish/status/fetch/`` reports progress. ``POST /v2/video/list/`` pages with
``cursor`` / ``has_more``. Every answer carries ``error.code``; anything but ``ok`` is a
ConnectorError. Each user token may init 6 posts a minute (429 ``rate_limit_exceeded``).
Docs: https://developers.tiktok.com/doc/content-posting-api-reference-direct-post
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from .base import Connector, EnvVar, ServiceSpec
from .mock import MockVendor, digest, number, pick, route

__all__ = ["CONNECTOR", "TikTokConnector", "TikTokMock"]

_JSON = "application/json; charset=UTF-8"
_PRIVACY = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")
_STATUS_OF = {
    "access_token_invalid": 401,
    "scope_not_authorized": 403,
    "rate_limit_exceeded": 429,
    "spam_risk_too_many_posts": 429,
    "invalid_params": 400,
}
_VIDEO_FIELDS = "id,title,create_time,share_url,view_count,like_count,comment_count,share_count"


class TikTokConnector(Connector):
    spec = ServiceSpec(
        name="tiktok",
        vendor="TikTok",
        api="TikTok Content Posting API v2",
        docs="https://developers.tiktok.com/doc/content-posting-api-reference-direct-post",
        base_url="https://open.tiktokapis.com",
        env=(
            EnvVar(
                "TIKTOK_ACCESS_TOKEN",
                "User access token (scopes video.publish, video.list)",
                mock_value="act.mockTikTokAccessToken0000000000",
            ),
        ),
    )
    token_env = "TIKTOK_ACCESS_TOKEN"

    def _check_body(self, operation: str, response: httpx.Response, body: Any) -> None:
        error = body.get("error") if isinstance(body, Mapping) else None
        code = error.get("code") if isinstance(error, Mapping) else None
        if code != "ok":
            message = error.get("message", "") if isinstance(error, Mapping) else "no error block"
            raise self._error(
                operation, f"TikTok error {code}: {message}", _STATUS_OF.get(str(code), 400)
            )

    def publish_video(
        self,
        video_url: str,
        title: str,
        *,
        privacy_level: str = "SELF_ONLY",
        disable_comment: bool = False,
    ) -> dict[str, Any]:
        """Start a direct post that TikTok pulls from ``video_url``; returns ``{"publish_id"}``.

        Unaudited apps may only post ``SELF_ONLY``.
        """
        payload = {
            "post_info": {
                "title": title,
                "privacy_level": privacy_level,
                "disable_duet": False,
                "disable_comment": disable_comment,
                "disable_stitch": False,
                "video_cover_timestamp_ms": 1000,
            },
            "source_info": {"source": "PULL_FROM_URL", "video_url": video_url},
        }
        summary = {
            "video_url": video_url,
            "title_chars": len(title),
            "privacy_level": privacy_level,
        }
        with self._operation("publish_video", summary) as op:
            answer = op.json(
                "POST",
                "/v2/post/publish/video/init/",
                json=payload,
                headers={"Content-Type": _JSON},
                idempotent=False,
            )
            publish_id = answer["data"]["publish_id"]
            op.response = {"publish_id": publish_id}
            return {"publish_id": publish_id}

    def publish_status(self, publish_id: str) -> dict[str, Any]:
        """Progress of a post: ``status`` (``PROCESSING_DOWNLOAD`` ... ``PUBLISH_COMPLETE``)."""
        with self._operation("publish_status", {"publish_id": publish_id}) as op:
            answer = op.json(
                "POST",
                "/v2/post/publish/status/fetch/",
                json={"publish_id": publish_id},
                headers={"Content-Type": _JSON},
                idempotent=True,
            )
            data = dict(answer["data"])
            op.response = {"status": data["status"]}
            return data

    def list_videos(self, *, page_size: int = 20, max_pages: int = 5) -> list[dict[str, Any]]:
        """The user's videos with view, like, comment and share counts."""
        size = max(1, min(20, page_size))
        with self._operation("list_videos", {"page_size": size}) as op:

            def fetch(cursor: int | None) -> tuple[list[Any], int | None]:
                body: dict[str, Any] = {"max_count": size}
                if cursor is not None:
                    body["cursor"] = cursor
                answer = op.json(
                    "POST",
                    "/v2/video/list/",
                    params={"fields": _VIDEO_FIELDS},
                    json=body,
                    headers={"Content-Type": _JSON},
                    idempotent=True,
                )["data"]
                more = answer.get("has_more") and answer.get("cursor") is not None
                return list(answer["videos"]), answer["cursor"] if more else None

            return op.paginate(fetch, max_pages)


class TikTokMock(MockVendor):
    service = "tiktok"
    host = r"open\.tiktokapis\.com"
    _TOTAL = 47
    _CODES: ClassVar[dict[int, str]] = {
        400: "invalid_params",
        401: "access_token_invalid",
        403: "scope_not_authorized",
        404: "invalid_params",
        429: "rate_limit_exceeded",
    }

    def error_body(self, status: int, message: str) -> Any:
        return {
            "error": {
                "code": self._CODES.get(status, "internal_error"),
                "message": message,
                "log_id": "2026010112000" + digest(status, message, length=19),
            }
        }

    def _ok(self, data: dict[str, Any], request: httpx.Request) -> httpx.Response:
        log_id = "2026010112000" + digest(request.url.path, request.content.decode(), length=19)
        return self.ok({"data": data, "error": {"code": "ok", "message": "", "log_id": log_id}})

    @route("POST", r"/v2/post/publish/video/init/")
    def init(self, request: httpx.Request) -> httpx.Response:
        payload = self.body_json(request) or {}
        post, source = payload.get("post_info") or {}, payload.get("source_info") or {}
        if post.get("privacy_level") not in _PRIVACY:
            return self.error(400, "privacy_level is invalid")
        if len(str(post.get("title", ""))) > 2200:
            return self.error(400, "title is too long")
        if source.get("source") != "PULL_FROM_URL" or not str(
            source.get("video_url", "")
        ).startswith("https://"):
            return self.error(400, "video_url must be an https URL on a verified domain")
        return self._ok(
            {"publish_id": f"v_pub_url~v2.{number('tiktok', payload, digits=19)}"}, request
        )

    @route("POST", r"/v2/post/publish/status/fetch/")
    def status(self, request: httpx.Request) -> httpx.Response:
        publish_id = str((self.body_json(request) or {}).get("publish_id", ""))
        if not publish_id.startswith("v_pub_"):
            return self.error(400, "publish_id is invalid")
        return self._ok(
            {
                "status": "PUBLISH_COMPLETE",
                "fail_reason": "",
                "publicaly_available_post_id": [number("tt-post", publish_id)],
                "uploaded_bytes": 0,
                "downloaded_bytes": 10_485_760,
            },
            request,
        )

    @route("POST", r"/v2/video/list/")
    def list_videos(self, request: httpx.Request) -> httpx.Response:
        if "fields" not in request.url.params:
            return self.error(400, "fields is required")
        body = self.body_json(request) or {}
        size, cursor = min(20, int(body.get("max_count", 10))), int(body.get("cursor", 0))
        end = min(self._TOTAL, cursor + size)
        videos = [
            {
                "id": str(number("tt-video", i, digits=19)),
                "title": pick(("Day in the life", "Unboxing", "3 growth tips"), i),
                "create_time": 1767268800 - i * 43_200,
                "share_url": "https://www.tiktok.com/@neonhub/video/"
                f"{number('tt-video', i, digits=19)}",
                "view_count": number("tt-views", i, digits=5),
                "like_count": number("tt-likes", i, digits=4),
                "comment_count": number("tt-comments", i, digits=2),
                "share_count": number("tt-shares", i, digits=2),
            }
            for i in range(cursor, end)
        ]
        return self._ok({"videos": videos, "cursor": end, "has_more": end < self._TOTAL}, request)


#: This service's live connector and its mock vendor (collected by the connector catalog).
CONNECTOR = (TikTokConnector, TikTokMock)
