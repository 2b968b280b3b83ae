"""``email``: Gmail API v1 — send a message, list messages.

Live: ``POST https://gmail.googleapis.com/gmail/v1/users/me/messages/send`` with
``{"raw": base64url(RFC 2822 message)}`` and ``GET .../users/me/messages`` (``q``,
``maxResults``, ``pageToken``; answers ``messages``, ``nextPageToken``,
``resultSizeEstimate``). Gmail has no idempotency key, so a send is retried only after a
429. Docs: https://developers.google.com/gmail/api/reference/rest/v1/users.messages
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import httpx

from .base import EnvVar, ServiceSpec
from .google import GoogleConnector, GoogleMock
from .mock import digest, number, page_window, route

__all__ = ["CONNECTOR", "GmailConnector", "GmailMock"]


class GmailConnector(GoogleConnector):
    spec = ServiceSpec(
        name="email",
        vendor="Google Gmail",
        api="Gmail API v1",
        docs="https://developers.google.com/gmail/api/reference/rest/v1/users.messages/send",
        base_url="https://gmail.googleapis.com",
        env=(
            EnvVar(
                "GMAIL_ACCESS_TOKEN",
                "OAuth 2.0 access token (scopes gmail.send, gmail.readonly)",
                mock_value="ya29.mock-gmail-access-token-000000",
            ),
            EnvVar(
                "GMAIL_SENDER",
                "From address of the authorised mailbox",
                secret=False,
                mock_value="growth@example.com",
            ),
        ),
    )
    token_env = "GMAIL_ACCESS_TOKEN"

    def send_email(
        self,
        to: str | Sequence[str],
        subject: str,
        body: str,
        *,
        html: bool = False,
        cc: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Send one message; returns Gmail's ``{"id", "threadId", "labelIds"}``."""
        recipients = [to] if isinstance(to, str) else list(to)
        message = EmailMessage()
        message["From"] = self.cred("GMAIL_SENDER")
        message["To"] = ", ".join(recipients)
        if cc:
            message["Cc"] = ", ".join(cc)
        message["Subject"] = subject
        message.set_content(body, subtype="html" if html else "plain")
        raw = base64.urlsafe_b64encode(message.as_bytes()).decode("ascii")
        summary = {
            "to": recipients,
            "cc": list(cc),
            "subject": subject,
            "body_chars": len(body),
            "html": html,
        }
        with self._operation("send_email", summary) as op:
            sent = op.json("POST", "/gmail/v1/users/me/messages/send", json={"raw": raw})
            op.response = {"id": sent["id"], "thread_id": sent["threadId"]}
            return dict(sent)

    def list_messages(
        self, query: str = "", *, page_size: int = 100, max_pages: int = 5
    ) -> list[dict[str, Any]]:
        """Message ids (``{"id", "threadId"}``) matching a Gmail search ``query``."""

        with self._operation("list_messages", {"query": query, "page_size": page_size}) as op:

            def fetch(token: str | None) -> tuple[list[Any], str | None]:
                params: dict[str, Any] = {"maxResults": page_size}
                if query:
                    params["q"] = query
                if token:
                    params["pageToken"] = token
                page = op.json("GET", "/gmail/v1/users/me/messages", params=params)
                return list(page.get("messages", [])), page.get("nextPageToken")

            return op.paginate(fetch, max_pages)


class GmailMock(GoogleMock):
    service = "email"
    host = r"gmail\.googleapis\.com"

    @route("POST", r"/gmail/v1/users/(?P<user>[^/]+)/messages/send")
    def send_message(self, request: httpx.Request, user: str) -> httpx.Response:
        payload = self.body_json(request)
        raw = payload.get("raw") if isinstance(payload, dict) else None
        if not isinstance(raw, str) or not raw:
            return self.error(
                400,
                "'raw' RFC822 payload message string or uploading message "
                "via /upload/* URL required",
            )
        try:
            decoded = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        except (binascii.Error, ValueError):
            return self.error(400, "Invalid value for ByteString")
        parsed = BytesParser(policy=policy.default).parsebytes(decoded)
        if not parsed.get("To"):
            return self.error(400, "Invalid To header")
        message_id = digest("gmail", raw)
        return self.ok({"id": message_id, "threadId": message_id, "labelIds": ["SENT"]})

    @route("GET", r"/gmail/v1/users/(?P<user>[^/]+)/messages")
    def list_messages(self, request: httpx.Request, user: str) -> httpx.Response:
        query = request.url.params.get("q", "")
        total = 42 if not query else 12 + number("gmail-q", query, digits=3) % 30
        limit = min(500, self.query_int(request, "maxResults", 100))
        offset = int(request.url.params.get("pageToken", "0") or 0)
        window, next_offset = page_window(total, offset, limit)
        messages = [
            {"id": digest("gmail-msg", query, i), "threadId": digest("gmail-thr", query, i)}
            for i in window
        ]
        body: dict[str, Any] = {"messages": messages, "resultSizeEstimate": total}
        if next_offset is not None:
            body["nextPageToken"] = f"{next_offset:020d}"
        return self.ok(body)


#: This service's live connector and its mock vendor (collected by the connector catalog).
CONNECTOR = (GmailConnector, GmailMock)
