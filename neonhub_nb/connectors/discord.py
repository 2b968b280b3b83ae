"""``discord``: Discord HTTP API v10 — send a channel message, read channel history.

Live: ``POST https://discord.com/api/v10/channels/{channel.id}/messages`` with
``Authorization: Bot <token>`` and ``{"content", "nonce", "enforce_nonce": true}``;
answers the Message object. With ``enforce_nonce`` Discord returns the earlier message
for a repeated nonce instead of posting twice, so sends carry a nonce derived from the
payload and are retried safely. ``GET .../messages?limit&before`` pages backwards.
429 answers carry ``retry_after`` (seconds, float) in the body and ``Retry-After``.
Docs: https://discord.com/developers/docs/resources/message#create-message
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from ..backoff import retry_after_value
from .base import Connector, EnvVar, ServiceSpec
from .mock import MockVendor, mock_time, number, pick, route

__all__ = ["CONNECTOR", "DiscordConnector", "DiscordMock"]

_API = "/api/v10"


class DiscordConnector(Connector):
    spec = ServiceSpec(
        name="discord",
        vendor="Discord",
        api="Discord HTTP API v10",
        docs="https://discord.com/developers/docs/resources/message#create-message",
        base_url="https://discord.com",
        env=(
            EnvVar(
                "DISCORD_BOT_TOKEN",
                "Bot token (sent as 'Authorization: Bot ...')",
                mock_value="MTmockDiscordBotToken.000000.mockmockmockmock",
            ),
            EnvVar(
                "DISCORD_CHANNEL_ID",
                "Default channel id (snowflake) to post in",
                secret=False,
                mock_value="1100000000000000001",
            ),
        ),
        idempotency="nonce + enforce_nonce on sends; sends are retried safely",
    )

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bot {self.cred('DISCORD_BOT_TOKEN')}"}

    def _retry_after(self, response: httpx.Response) -> float | None:
        # The header is whole seconds; the reset-after header and body are exact.
        exact = retry_after_value(
            response.headers.get("X-RateLimit-Reset-After"), self._clock.now()
        )
        if exact is not None:
            return exact
        try:
            body = response.json()
            return max(0.0, float(body["retry_after"]))
        except (ValueError, KeyError, TypeError):
            return super()._retry_after(response)

    def send_message(
        self,
        content: str,
        *,
        channel_id: str | None = None,
        embeds: list[dict[str, Any]] | None = None,
        nonce: str | None = None,
    ) -> dict[str, Any]:
        """Post to a channel (default ``DISCORD_CHANNEL_ID``); returns the Message object."""
        channel = channel_id or self.cred("DISCORD_CHANNEL_ID")
        payload: dict[str, Any] = {"content": content}
        if embeds:
            payload["embeds"] = embeds
        # Discord nonces are at most 25 characters.
        payload["nonce"] = nonce or self.idempotency_key("send_message", [channel, payload])[3:28]
        payload["enforce_nonce"] = True
        summary = {
            "channel_id": channel,
            "content_chars": len(content),
            "embeds": len(embeds or ()),
            "nonce": payload["nonce"],
        }
        with self._operation("send_message", summary) as op:
            message = op.json(
                "POST", f"{_API}/channels/{channel}/messages", json=payload, idempotent=True
            )
            op.response = {"id": message["id"], "channel_id": message["channel_id"]}
            return dict(message)

    def list_messages(
        self, *, channel_id: str | None = None, page_size: int = 50, max_pages: int = 5
    ) -> list[dict[str, Any]]:
        """The channel's messages, newest first."""
        channel = channel_id or self.cred("DISCORD_CHANNEL_ID")
        limit = max(1, min(100, page_size))
        with self._operation("list_messages", {"channel_id": channel, "page_size": limit}) as op:

            def fetch(before: str | None) -> tuple[list[Any], str | None]:
                params: dict[str, Any] = {"limit": limit}
                if before:
                    params["before"] = before
                batch = list(op.json("GET", f"{_API}/channels/{channel}/messages", params=params))
                return batch, batch[-1]["id"] if len(batch) == limit else None

            return op.paginate(fetch, max_pages)


class DiscordMock(MockVendor):
    service = "discord"
    host = r"discord\.com"
    auth_prefix = "Bot "
    _TOTAL = 140
    _CODES: ClassVar[dict[int, int]] = {401: 0, 403: 50013, 404: 10003, 429: 0, 400: 50035}
    _MESSAGES: ClassVar[dict[int, str]] = {
        401: "401: Unauthorized",
        403: "Missing Permissions",
        404: "Unknown Channel",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.created: dict[str, dict[str, Any]] = {}
        self._by_nonce: dict[str, dict[str, Any]] = {}

    def error_body(self, status: int, message: str) -> Any:
        return {"message": self._MESSAGES.get(status, message), "code": self._CODES.get(status, 0)}

    def rate_limited(self, retry_after: str | None) -> httpx.Response:
        body: dict[str, Any] = {"message": "You are being rate limited.", "global": False}
        headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Scope": "user"}
        if retry_after is not None:
            body["retry_after"] = float(retry_after)
            headers["Retry-After"] = retry_after
        return httpx.Response(429, json=body, headers=headers)

    def _message(self, channel: str, message_id: str, content: str, i: int) -> dict[str, Any]:
        return {
            "id": message_id,
            "type": 0,
            "channel_id": channel,
            "content": content,
            "author": {
                "id": "1100000000000000099",
                "username": "NeonHub",
                "bot": True,
                "discriminator": "0000",
                "global_name": None,
            },
            "attachments": [],
            "embeds": [],
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "mention_everyone": False,
            "tts": False,
            "flags": 0,
            "components": [],
            "edited_timestamp": None,
            "timestamp": mock_time(i, 11, "%Y-%m-%dT%H:%M:%S.000000+00:00"),
        }

    @route("POST", rf"{_API}/channels/(?P<channel>\d+)/messages")
    def create_message(self, request: httpx.Request, channel: str) -> httpx.Response:
        payload = self.body_json(request) or {}
        content = str(payload.get("content") or "")
        if not content and not payload.get("embeds"):
            return httpx.Response(
                400, json={"message": "Cannot send an empty message", "code": 50006}
            )
        if len(content) > 2000:
            return httpx.Response(400, json={"message": "Invalid Form Body", "code": 50035})
        nonce = payload.get("nonce")
        if payload.get("enforce_nonce") and nonce in self._by_nonce:
            return self.ok(self._by_nonce[str(nonce)])
        message_id = str(number("discord", channel, payload, len(self.created), digits=19))
        message = self._message(channel, message_id, content, 0)
        message.update(embeds=payload.get("embeds", []), nonce=nonce)
        self.created[message_id] = message
        if nonce is not None:
            self._by_nonce[str(nonce)] = message
        return self.ok(message)

    @route("GET", rf"{_API}/channels/(?P<channel>\d+)/messages")
    def list_messages(self, request: httpx.Request, channel: str) -> httpx.Response:
        limit = self.query_int(request, "limit", 50)
        if not 1 <= limit <= 100:
            return httpx.Response(400, json={"message": "Invalid Form Body", "code": 50035})
        # Snowflakes grow with time, so newer messages have larger ids.
        ids = [str(1_200_000_000_000_000_000 - i * 4_194_304_000) for i in range(self._TOTAL)]
        before = request.url.params.get("before")
        start = (
            next((i for i, m in enumerate(ids) if int(m) < int(before)), len(ids)) if before else 0
        )
        batch = [
            self._message(
                channel,
                ids[i],
                pick(("gm", "New blog post is live", "Who is joining the AMA?"), channel, i),
                i,
            )
            for i in range(start, min(len(ids), start + limit))
        ]
        return self.ok(batch)


#: This service's live connector and its mock vendor (collected by the connector catalog).
CONNECTOR = (DiscordConnector, DiscordMock)
