"""``whatsapp``: WhatsApp Business Cloud API — send text and template messages.

Live: ``POST https://graph.facebook.com/v25.0/{phone-number-id}/messages`` with JSON
``{"messaging_product": "whatsapp", "recipient_type": "individual", "to", "type":
"text", "text": {"body", "preview_url"}}`` (or ``"type": "template"``); answers
``{"messaging_product", "contacts": [{"input", "wa_id"}], "messages": [{"id":
"wamid..."}]}``. No idempotency key: sends are retried only after throttling.
Docs: https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages
"""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx

from .base import EnvVar, ServiceSpec
from .graph import GRAPH_API_VERSION, GRAPH_BASE_URL, GraphConnector, GraphMock
from .mock import digest, route

__all__ = ["CONNECTOR", "WhatsAppConnector", "WhatsAppMock"]


class WhatsAppConnector(GraphConnector):
    spec = ServiceSpec(
        name="whatsapp",
        vendor="Meta WhatsApp",
        api=f"WhatsApp Cloud API (Graph {GRAPH_API_VERSION})",
        docs="https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages",
        base_url=GRAPH_BASE_URL,
        env=(
            EnvVar(
                "WHATSAPP_ACCESS_TOKEN",
                "System-user access token with whatsapp_business_messaging",
                mock_value="EAAmockWhatsAppToken0000000000",
            ),
            EnvVar(
                "WHATSAPP_PHONE_NUMBER_ID",
                "Id of the business phone number that sends",
                secret=False,
                mock_value="106540352242922",
            ),
        ),
    )
    token_env = "WHATSAPP_ACCESS_TOKEN"

    def _send(self, operation: str, payload: dict[str, Any], summary: dict[str, Any]) -> Any:
        path = self.graph_path(f"{self.cred('WHATSAPP_PHONE_NUMBER_ID')}/messages")
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", **payload}
        with self._operation(operation, summary) as op:
            sent = op.json("POST", path, json=body, idempotent=False)
            op.response = {
                "message_id": sent["messages"][0]["id"],
                "wa_id": sent["contacts"][0]["wa_id"],
            }
            return sent

    def send_text(self, to: str, body: str, *, preview_url: bool = False) -> dict[str, Any]:
        """Send a text message (inside the 24-hour customer service window)."""
        payload = {"to": to, "type": "text", "text": {"preview_url": preview_url, "body": body}}
        return dict(self._send("send_text", payload, {"to": to, "body_chars": len(body)}))

    def send_template(
        self,
        to: str,
        template: str,
        *,
        language: str = "en_US",
        components: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Send an approved template (the only way to open a conversation)."""
        spec: dict[str, Any] = {"name": template, "language": {"code": language}}
        if components:
            spec["components"] = components
        payload = {"to": to, "type": "template", "template": spec}
        summary = {"to": to, "template": template, "language": language}
        return dict(self._send("send_template", payload, summary))


class WhatsAppMock(GraphMock):
    service = "whatsapp"

    @route("POST", rf"/{re.escape(GRAPH_API_VERSION)}/(?P<phone_id>\d+)/messages")
    def send_message(self, request: httpx.Request, phone_id: str) -> httpx.Response:
        payload = self.body_json(request)
        if not isinstance(payload, dict) or payload.get("messaging_product") != "whatsapp":
            return self.error(400, "(#100) The parameter messaging_product is required.")
        to = re.sub(r"\D", "", str(payload.get("to", "")))
        if len(to) < 7:
            return self.error(400, "(#131009) Parameter value is not valid")
        kind = payload.get("type")
        if kind == "text" and not (payload.get("text") or {}).get("body"):
            return self.error(400, "(#100) The parameter text['body'] is required.")
        if kind == "template" and not (payload.get("template") or {}).get("name"):
            return self.error(400, "(#132001) Template name does not exist in the translation")
        if kind not in {"text", "template", "image", "document", "interactive"}:
            return self.error(400, f"(#100) Param type must be one of ... (got {kind})")
        blob = base64.b64encode(digest("wa", phone_id, payload, length=40).encode()).decode()
        message: dict[str, str] = {"id": f"wamid.{blob}"}
        if kind == "template":
            message["message_status"] = "accepted"
        return self.ok(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": payload["to"], "wa_id": to}],
                "messages": [message],
            }
        )


#: This service's live connector and its mock vendor (collected by the connector catalog).
CONNECTOR = (WhatsAppConnector, WhatsAppMock)
