"""``sms``: Twilio Programmable Messaging (API 2010-04-01) — send an SMS, list messages.

Live: ``POST https://api.twilio.com/2010-04-01/Accounts/{AccountSid}/Messages.json``
(form ``To``, ``From`` or ``MessagingServiceSid``, ``Body``) with HTTP Basic auth
``AccountSid:AuthToken``; answers ``201`` with the Message resource (``sid`` ``SM...``,
``status`` ``queued``). Lists page with ``PageSize`` and follow ``next_page_uri``.
Twilio has no idempotency key for sends: a send is retried only after a 429 (error 20429,
which means it was not processed). Docs: https://www.twilio.com/docs/messaging/api/message-resource
"""

from __future__ import annotations

import base64
import math
import re
from typing import Any, ClassVar

import httpx

from .base import Connector, EnvVar, ServiceSpec
from .mock import MockVendor, digest, mock_time, page_window, pick, route

__all__ = ["CONNECTOR", "TwilioConnector", "TwilioMock"]

_API = "/2010-04-01/Accounts"


class TwilioConnector(Connector):
    spec = ServiceSpec(
        name="sms",
        vendor="Twilio",
        api="Twilio Messaging API 2010-04-01",
        docs="https://www.twilio.com/docs/messaging/api/message-resource",
        base_url="https://api.twilio.com",
        env=(
            EnvVar(
                "TWILIO_ACCOUNT_SID",
                "Account SID (AC...)",
                secret=False,
                mock_value="AC" + "0" * 30 + "01",
            ),
            EnvVar(
                "TWILIO_AUTH_TOKEN",
                "Auth token of the account (or of an API key)",
                mock_value="mock-twilio-auth-token-0000000000",
            ),
            EnvVar(
                "TWILIO_FROM_NUMBER",
                "Sender: an E.164 number (+1555...) or a Messaging Service SID (MG...)",
                secret=False,
                mock_value="+15005550006",
            ),
        ),
    )

    def _headers(self) -> dict[str, str]:
        pair = f"{self.cred('TWILIO_ACCOUNT_SID')}:{self.cred('TWILIO_AUTH_TOKEN')}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii")}

    def _messages_path(self) -> str:
        return f"{_API}/{self.cred('TWILIO_ACCOUNT_SID')}/Messages.json"

    def send_sms(self, to: str, body: str, *, media_url: str | None = None) -> dict[str, Any]:
        """Queue one SMS/MMS; returns Twilio's Message resource."""
        sender = self.cred("TWILIO_FROM_NUMBER")
        form = {"To": to, "Body": body}
        form["MessagingServiceSid" if sender.startswith("MG") else "From"] = sender
        if media_url:
            form["MediaUrl"] = media_url
        summary = {"to": to, "body_chars": len(body), "media": bool(media_url)}
        with self._operation("send_sms", summary) as op:
            message = op.json("POST", self._messages_path(), data=form, idempotent=False)
            op.response = {
                "sid": message["sid"],
                "status": message["status"],
                "segments": message.get("num_segments"),
            }
            return dict(message)

    def list_messages(self, *, page_size: int = 50, max_pages: int = 5) -> list[dict[str, Any]]:
        """Recent messages of the account, newest first."""
        with self._operation("list_messages", {"page_size": page_size}) as op:

            def fetch(next_uri: str | None) -> tuple[list[Any], str | None]:
                if next_uri:
                    page = op.json("GET", next_uri)
                else:
                    page = op.json("GET", self._messages_path(), params={"PageSize": page_size})
                return list(page["messages"]), page.get("next_page_uri")

            return op.paginate(fetch, max_pages)


class TwilioMock(MockVendor):
    service = "sms"
    host = r"api\.twilio\.com"
    auth_prefix = "Basic "
    _E164 = re.compile(r"\+[1-9]\d{6,14}")
    _CODES: ClassVar[dict[int, int]] = {
        400: 21211,
        401: 20003,
        403: 20403,
        404: 20404,
        429: 20429,
        500: 20500,
        503: 20503,
    }
    _TOTAL = 75

    def error_body(self, status: int, message: str) -> Any:
        code = self._CODES.get(status, 20500)
        return {
            "code": code,
            "message": message,
            "status": status,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
        }

    def check_auth(self, request: httpx.Request) -> httpx.Response | None:
        denied = super().check_auth(request)
        if denied is not None:
            return denied
        try:
            sid = base64.b64decode(request.headers["Authorization"][6:]).decode().split(":")[0]
        except ValueError:
            sid = ""
        if not re.search(rf"/Accounts/{re.escape(sid)}/", request.url.path) or not sid:
            return self.error(401, "Authenticate")
        return None

    def _resource(self, account: str, sid: str, to: str, sender: str, body: str) -> dict[str, Any]:
        return {
            "account_sid": account,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": mock_time(0, fmt="%a, %d %b %Y %H:%M:%S +0000"),
            "date_sent": None,
            "date_updated": mock_time(0, fmt="%a, %d %b %Y %H:%M:%S +0000"),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": str(max(1, math.ceil(len(body) / 160))),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "to": to,
            "uri": f"{_API}/{account}/Messages/{sid}.json",
        }

    @route("POST", rf"{_API}/(?P<account>AC\w+)/Messages\.json")
    def create_message(self, request: httpx.Request, account: str) -> httpx.Response:
        form = self.body_form(request)
        to = form.get("To", "")
        if not self._E164.fullmatch(to):
            return self.error(400, f"The 'To' number {to} is not a valid phone number.")
        sender = form.get("From") or form.get("MessagingServiceSid")
        if not sender:
            return self.error(400, "A 'From' phone number is required.")
        if not form.get("Body") and not form.get("MediaUrl"):
            return self.error(400, "Message body is required.")
        sid = "SM" + digest("twilio", sorted(form.items()), length=32)
        return self.ok(self._resource(account, sid, to, sender, form.get("Body", "")), 201)

    @route("GET", rf"{_API}/(?P<account>AC\w+)/Messages\.json")
    def list_messages(self, request: httpx.Request, account: str) -> httpx.Response:
        size = min(1000, self.query_int(request, "PageSize", 50))
        page = self.query_int(request, "Page", 0)
        window, next_offset = page_window(self._TOTAL, page * size, size)
        uri = f"{_API}/{account}/Messages.json"
        messages = [
            self._resource(
                account,
                "SM" + digest("twilio-list", i, length=32),
                f"+1555{i:07d}",
                "+15005550006",
                pick(
                    ("Flash sale ends tonight", "Your code is ready", "Thanks for subscribing"), i
                ),
            )
            for i in window
        ]
        next_uri = (
            f"{uri}?PageSize={size}&Page={page + 1}&PageToken=PASM{digest(page, 'p')}"
            if next_offset is not None
            else None
        )
        return self.ok(
            {
                "messages": messages,
                "page": page,
                "page_size": size,
                "start": page * size,
                "end": page * size + len(messages) - 1,
                "uri": f"{uri}?PageSize={size}&Page={page}",
                "first_page_uri": f"{uri}?PageSize={size}&Page=0",
                "next_page_uri": next_uri,
                "previous_page_uri": None,
            }
        )


#: This service's live connector and its mock vendor (collected by the connector catalog).
CONNECTOR = (TwilioConnector, TwilioMock)
