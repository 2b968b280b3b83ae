"""What the Meta Graph API connectors share (WhatsApp Cloud API, Instagram, Facebook Pages).

Requests go to ``https://graph.facebook.com/{version}/...`` with the access token as
``Authorization: Bearer`` (never as the ``access_token`` query parameter, which would put
it in logged URLs). Errors come as ``{"error": {"message", "type", "code",
"fbtrace_id"}}``; Meta often signals throttling with codes (4, 17, 32, 613, 80001 ...,
130429) on a 400/403 rather than a 429, and those are retried with backoff.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx

from .base import Connector
from .mock import MockVendor, digest

__all__ = ["GRAPH_API_VERSION", "GRAPH_BASE_URL", "GraphConnector", "GraphMock", "graph_code"]

#: Pinned so that a Graph release cannot change answers under us; v25.0 is supported to 2028.
GRAPH_API_VERSION = "v25.0"
GRAPH_BASE_URL = "https://graph.facebook.com"

_THROTTLE_CODES = frozenset(
    {4, 17, 32, 613, 80001, 80002, 80004, 80005, 80006, 80008, 130429, 131048, 131056}
)
_CODES = {400: 100, 401: 190, 403: 10, 404: 803, 429: 4, 500: 1, 503: 2}


def graph_code(body: Any) -> int | None:
    error = body.get("error") if isinstance(body, Mapping) else None
    code = error.get("code") if isinstance(error, Mapping) else None
    return code if isinstance(code, int) else None


class GraphConnector(Connector):
    """Base of the Graph connectors."""

    def graph_path(self, path: str) -> str:
        return f"/{GRAPH_API_VERSION}/{path.lstrip('/')}"

    def _is_rate_limited(self, response: httpx.Response) -> bool:
        if response.status_code == 429:
            return True
        if response.status_code not in (400, 403):
            return False
        try:
            return graph_code(response.json()) in _THROTTLE_CODES
        except ValueError:
            return False

    def _error_detail(self, body: Any) -> str | None:
        error = body.get("error") if isinstance(body, Mapping) else None
        if not isinstance(error, Mapping):
            return super()._error_detail(body)
        message = str(error.get("message") or "error")
        code = error.get("code")
        return f"{message} (code {code})" if code is not None else message


class GraphMock(MockVendor):
    """Graph's host and error shape for every Meta mock."""

    host = r"graph\.facebook\.com"

    def error_body(self, status: int, message: str) -> Any:
        # Graph messages start with their code, e.g. "(#100) ...": keep the two in step.
        numbered = re.match(r"\(#(\d+)\)", message)
        return {
            "error": {
                "message": message,
                "type": "OAuthException" if status in (401, 403) else "GraphMethodException",
                "code": int(numbered.group(1)) if numbered else _CODES.get(status, 1),
                "fbtrace_id": "A" + digest(status, message, length=22),
            }
        }
