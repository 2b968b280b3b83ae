"""What the Google connectors share (Gmail, Google Ads, GA4, Search Console, YouTube).

All take an OAuth 2.0 access token as ``Authorization: Bearer``. Errors come as
``{"error": {"code", "message", "status", "errors": [{"reason"}]}}``; the older APIs
(Gmail, YouTube, Search Console) may signal a short-term rate limit as a 403 with reason
``rateLimitExceeded`` instead of a 429, which is retried like a 429. ``quotaExceeded``
(the daily quota) is not retried: waiting seconds would not help.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from .base import Connector
from .mock import MockVendor

__all__ = ["GoogleConnector", "GoogleMock", "google_reasons"]

_RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
_GRPC_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_REASONS = {
    400: "badRequest",
    401: "authError",
    403: "forbidden",
    404: "notFound",
    429: "rateLimitExceeded",
    503: "backendError",
}


def google_reasons(body: Any) -> set[str]:
    """The ``reason`` codes of a Google error body."""
    error = body.get("error") if isinstance(body, Mapping) else None
    errors = error.get("errors") if isinstance(error, Mapping) else None
    if not isinstance(errors, list):
        return set()
    return {str(e.get("reason")) for e in errors if isinstance(e, Mapping) and e.get("reason")}


class GoogleConnector(Connector):
    """Base of the Google connectors: bearer token, Google error shapes, 403 rate limits."""

    def _is_rate_limited(self, response: httpx.Response) -> bool:
        if response.status_code == 429:
            return True
        if response.status_code != 403:
            return False
        try:
            return bool(google_reasons(response.json()) & _RATE_REASONS)
        except ValueError:
            return False

    def _error_detail(self, body: Any) -> str | None:
        error = body.get("error") if isinstance(body, Mapping) else None
        if not isinstance(error, Mapping):
            return super()._error_detail(body)
        parts = [str(error.get("message") or error.get("status") or "error")]
        reasons = sorted(google_reasons(body))
        if reasons:
            parts.append(f"(reason: {', '.join(reasons)})")
        return " ".join(parts)


class GoogleMock(MockVendor):
    """Google's error shape for every Google mock."""

    def error_body(self, status: int, message: str) -> Any:
        return {
            "error": {
                "code": status,
                "message": message,
                "status": _GRPC_STATUS.get(status, "UNKNOWN"),
                "errors": [
                    {
                        "message": message,
                        "domain": "global",
                        "reason": _REASONS.get(status, "backendError"),
                    }
                ],
            }
        }
