"""``slack``: Slack Web API — post a message, list channels.

Live: ``POST https://slack.com/api/chat.postMessage`` (JSON ``channel``, ``text``,
optional ``blocks`` / ``thread_ts``) and ``GET /api/conversations.list`` (``limit``,
``cursor``; next page in ``response_metadata.next_cursor``), bot token as
``Authorization: Bearer xoxb-...``. Slack answers most errors as HTTP 200 with
``{"ok": false, "error": "channel_not_found"}``; those become ConnectorErrors with the
equivalent status (401, 403, 404 ...). Rate limits are 429 with ``Retry-After``.
Docs: https://api.slack.com/methods/chat.postMessage
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from .base import Connector, EnvVar, ServiceSpec
from .mock import MockVendor, digest, number, page_window, pick, route

__all__ = ["CONNECTOR", "SlackConnector", "SlackMock"]

_JSON = "application/json; charset=utf-8"
_STATUS_OF = {
    "not_authed": 401,
    "invalid_auth": 401,
    "token_revoked": 401,
    "token_expired": 401,
    "account_inactive": 401,
    "missing_scope": 403,
    "not_allowed_token_type": 403,
    "not_in_channel": 403,
    "is_archived": 403,
    "restricted_action": 403,
    "channel_not_found": 404,
    "user_not_found": 404,
    "ratelimited": 429,
}


class SlackConnector(Connector):
    spec = ServiceSpec(
        name="slack",
        vendor="Slack",
        api="Slack Web API",
        docs="https://api.slack.com/methods/chat.postMessage",
        base_url="https://slack.com",
        env=(
            EnvVar(
                "SLACK_BOT_TOKEN",
                "Bot user OAuth token (xoxb-...) with chat:write, channels:read",
                mock_value="xoxb-000000000000-mock-slack-bot",
            ),
        ),
    )
    token_env = "SLACK_BOT_TOKEN"

    def _check_body(self, operation: str, response: httpx.Response, body: Any) -> None:
        if isinstance(body, Mapping) and body.get("ok") is True:
            return
        code = str(body.get("error", "unknown_error")) if isinstance(body, Mapping) else "?"
        status = _STATUS_OF.get(code, 400)
        hint = self._credential_hint() if status == 401 else ""
        raise self._error(operation, f"Slack error {code}{hint}", status)

    def post_message(
        self,
        channel: str,
        text: str,
        *,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """Post to a channel (``#name`` or id); returns ``{"ok", "channel", "ts", "message"}``."""
        payload: dict[str, Any] = {"channel": channel, "text": text}
        if blocks:
            payload["blocks"] = blocks
        if thread_ts:
            payload["thread_ts"] = thread_ts
        summary = {
            "channel": channel,
            "text_chars": len(text),
            "blocks": len(blocks or ()),
            "thread_ts": thread_ts,
        }
        with self._operation("post_message", summary) as op:
            posted = op.json(
                "POST",
                "/api/chat.postMessage",
                json=payload,
                headers={"Content-Type": _JSON},
                idempotent=False,
            )
            op.response = {"channel": posted["channel"], "ts": posted["ts"]}
            return dict(posted)

    def list_channels(
        self, *, types: str = "public_channel", page_size: int = 200, max_pages: int = 5
    ) -> list[dict[str, Any]]:
        """Channels the bot can see (``id``, ``name``, ``num_members`` ...)."""
        with self._operation("list_channels", {"types": types, "page_size": page_size}) as op:

            def fetch(cursor: str | None) -> tuple[list[Any], str | None]:
                params = {"types": types, "limit": page_size, "exclude_archived": "true"}
                if cursor:
                    params["cursor"] = cursor
                page = op.json("GET", "/api/conversations.list", params=params)
                meta = page.get("response_metadata") or {}
                return list(page["channels"]), meta.get("next_cursor") or None

            return op.paginate(fetch, max_pages)


class SlackMock(MockVendor):
    service = "slack"
    host = r"slack\.com"
    _BY_STATUS: ClassVar[dict[int, str]] = {
        400: "invalid_arguments",
        401: "invalid_auth",
        403: "missing_scope",
        404: "channel_not_found",
        429: "ratelimited",
        500: "fatal_error",
        503: "service_unavailable",
    }
    _NAMES = (
        "general",
        "random",
        "marketing",
        "launches",
        "growth",
        "support",
        "design",
        "sales",
        "engineering",
        "announcements",
        "social",
        "seo",
        "ads",
    )

    def error_body(self, status: int, message: str) -> Any:
        code = message if re.fullmatch(r"[a-z_]+", message) else self._BY_STATUS.get(status)
        return {"ok": False, "error": code or "internal_error"}

    def error(self, status: int, message: str) -> httpx.Response:
        # Slack answers API-level errors with HTTP 200; only 429 and 5xx keep their status.
        http_status = status if status == 429 or status >= 500 else 200
        return httpx.Response(http_status, json=self.error_body(status, message))

    def check_auth(self, request: httpx.Request) -> httpx.Response | None:
        value = request.headers.get("Authorization", "")
        if not value.startswith("Bearer "):
            return self.error(401, "not_authed")
        if not value[7:].startswith("xox"):
            return self.error(401, "invalid_auth")
        return None

    @staticmethod
    def channel_id(channel: str) -> str:
        return (
            channel
            if re.fullmatch(r"[CGD][A-Z0-9]{8,}", channel)
            else ("C" + digest("slack-channel", channel.lstrip("#"), length=10).upper())
        )

    @route("POST", r"/api/chat\.postMessage")
    def post_message(self, request: httpx.Request) -> httpx.Response:
        payload = self.body_json(request)
        if not isinstance(payload, dict):
            payload = self.body_form(request)
        channel = str(payload.get("channel") or "")
        if not channel:
            return self.error(404, "channel_not_found")
        if not payload.get("text") and not payload.get("blocks"):
            return self.error(400, "no_text")
        ts = (
            f"{1767268800 + number('slack-ts', payload, digits=6) % 86400}."
            f"{number('slack-us', payload, digits=6)}"
        )
        body: dict[str, Any] = {
            "ok": True,
            "channel": self.channel_id(channel),
            "ts": ts,
            "message": {
                "type": "message",
                "subtype": "bot_message",
                "text": payload.get("text"),
                "bot_id": "B0MOCKBOT01",
                "user": "U0MOCKBOT01",
                "ts": ts,
                "thread_ts": payload.get("thread_ts"),
            },
        }
        if "charset" not in request.headers.get("Content-Type", ""):
            body["warning"] = "missing_charset"
            body["response_metadata"] = {"warnings": ["missing_charset"]}
        return self.ok(body)

    @route("GET", r"/api/conversations\.list")
    def list_channels(self, request: httpx.Request) -> httpx.Response:
        limit = min(1000, self.query_int(request, "limit", 100))
        cursor = request.url.params.get("cursor", "")
        offset = int(base64.b64decode(cursor).decode().split(":")[1]) if cursor else 0
        window, next_offset = page_window(len(self._NAMES) * 2, offset, limit)
        channels = []
        for i in window:
            name = self._NAMES[i % len(self._NAMES)] + ("" if i < len(self._NAMES) else f"-{i}")
            channels.append(
                {
                    "id": self.channel_id(name),
                    "name": name,
                    "is_channel": True,
                    "is_archived": False,
                    "is_private": False,
                    "created": 1700000000 + i * 86400,
                    "num_members": 3 + number("slack-members", name, digits=3) % 200,
                    "topic": {"value": pick(("Launch plans", "Daily standup", ""), name)},
                }
            )
        next_cursor = (
            base64.b64encode(f"offset:{next_offset}".encode()).decode()
            if next_offset is not None
            else ""
        )
        return self.ok(
            {"ok": True, "channels": channels, "response_metadata": {"next_cursor": next_cursor}}
        )


#: This service's live connector and its mock vendor (collected by the connector catalog).
CONNECTOR = (SlackConnector, SlackMock)
