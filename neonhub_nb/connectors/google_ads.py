"""``google_ads``: Google Ads API (REST) — GAQL search, campaign metrics.

Live: ``POST https://googleads.googleapis.com/{version}/customers/{id}/googleAds:search``
with ``{"query": GAQL, "pageToken"}`` and headers ``Authorization: Bearer``,
``developer-token`` and (for manager accounts) ``login-customer-id``; answers
``{"results": [...], "nextPageToken", "fieldMask"}`` in proto3 JSON (camelCase, int64 as
strings). ``pageSize`` is not sent: since v17 the API rejects it. Searches are reads,
so 5xx answers are retried. Docs:
https://developers.google.com/google-ads/api/rest/common/search
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx

from .base import EnvVar, ServiceSpec
from .google import GoogleConnector, GoogleMock
from .mock import number, page_window, pick, route

__all__ = [
    "CAMPAIGN_METRICS_QUERY",
    "CONNECTOR",
    "GOOGLE_ADS_API_VERSION",
    "GoogleAdsConnector",
    "GoogleAdsMock",
]

#: Google sunsets each version about a year after release; bump with the release notes.
GOOGLE_ADS_API_VERSION = "v26"

CAMPAIGN_METRICS_QUERY = (
    "SELECT campaign.id, campaign.name, campaign.status, metrics.impressions, "
    "metrics.clicks, metrics.cost_micros, metrics.conversions FROM campaign "
    "WHERE segments.date DURING {during} ORDER BY metrics.impressions DESC"
)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class GoogleAdsConnector(GoogleConnector):
    spec = ServiceSpec(
        name="google_ads",
        vendor="Google Ads",
        api=f"Google Ads API {GOOGLE_ADS_API_VERSION} (REST)",
        docs="https://developers.google.com/google-ads/api/rest/common/search",
        base_url="https://googleads.googleapis.com",
        env=(
            EnvVar(
                "GOOGLE_ADS_ACCESS_TOKEN",
                "OAuth 2.0 access token (scope adwords)",
                mock_value="ya29.mock-google-ads-access-token-0000",
            ),
            EnvVar(
                "GOOGLE_ADS_DEVELOPER_TOKEN",
                "Developer token of the API project",
                mock_value="mock-ads-developer-token-000000",
            ),
            EnvVar(
                "GOOGLE_ADS_CUSTOMER_ID",
                "Customer (account) id, digits only or 123-456-7890",
                secret=False,
                mock_value="1234567890",
            ),
            EnvVar(
                "GOOGLE_ADS_LOGIN_CUSTOMER_ID",
                "Manager account id when access goes through one",
                secret=False,
                required=False,
            ),
        ),
    )
    token_env = "GOOGLE_ADS_ACCESS_TOKEN"

    def _headers(self) -> dict[str, str]:
        headers = {**super()._headers(), "developer-token": self.cred("GOOGLE_ADS_DEVELOPER_TOKEN")}
        login = self.optional_cred("GOOGLE_ADS_LOGIN_CUSTOMER_ID")
        if login:
            headers["login-customer-id"] = login.replace("-", "")
        return headers

    def _error_detail(self, body: Any) -> str | None:
        detail = super()._error_detail(body)
        try:
            failure = body["error"]["details"][0]["errors"][0]
        except (KeyError, IndexError, TypeError):
            return detail
        return f"{detail}: {failure.get('message')}" if detail else failure.get("message")

    def _search(self, operation: str, query: str, max_pages: int) -> list[dict[str, Any]]:
        customer = self.cred("GOOGLE_ADS_CUSTOMER_ID").replace("-", "")
        path = f"/{GOOGLE_ADS_API_VERSION}/customers/{customer}/googleAds:search"
        with self._operation(operation, {"query": query}) as op:

            def fetch(token: str | None) -> tuple[list[Any], str | None]:
                body = {"query": query, **({"pageToken": token} if token else {})}
                page = op.json("POST", path, json=body, idempotent=True)
                return list(page.get("results", [])), page.get("nextPageToken")

            return op.paginate(fetch, max_pages)

    def search(self, query: str, *, max_pages: int = 10) -> list[dict[str, Any]]:
        """Rows of a GAQL query, as the API returns them (nested, camelCase)."""
        return self._search("search", query, max_pages)

    def campaign_metrics(self, during: str = "LAST_30_DAYS") -> list[dict[str, Any]]:
        """Per-campaign impressions, clicks, cost (account currency) and conversions."""
        if not re.fullmatch(r"[A-Z_0-9]+", during):
            raise self._error("campaign_metrics", f"invalid DURING range {during!r}")
        rows = self._search("campaign_metrics", CAMPAIGN_METRICS_QUERY.format(during=during), 10)
        return [
            {
                "campaign_id": row["campaign"]["id"],
                "name": row["campaign"]["name"],
                "status": row["campaign"]["status"],
                "impressions": int(row["metrics"].get("impressions", 0)),
                "clicks": int(row["metrics"].get("clicks", 0)),
                "cost": int(row["metrics"].get("costMicros", 0)) / 1_000_000,
                "conversions": float(row["metrics"].get("conversions", 0.0)),
            }
            for row in rows
        ]


class GoogleAdsMock(GoogleMock):
    service = "google_ads"
    host = r"googleads\.googleapis\.com"
    #: Real pages hold 10,000 rows; small pages here exercise the pagination code.
    PAGE_SIZE = 5
    _CAMPAIGNS = 12
    _FIELDS = frozenset(
        {
            "campaign.id",
            "campaign.name",
            "campaign.status",
            "campaign.resource_name",
            "metrics.impressions",
            "metrics.clicks",
            "metrics.cost_micros",
            "metrics.conversions",
            "metrics.ctr",
            "segments.date",
        }
    )

    def check_auth(self, request: httpx.Request) -> httpx.Response | None:
        denied = super().check_auth(request)
        if denied is None and not request.headers.get("developer-token"):
            return self.error(
                401, "DEVELOPER_TOKEN_PARAMETER_MISSING: the developer-token header is missing"
            )
        return denied

    def _value(self, field: str, i: int, customer: str) -> Any:
        impressions = 1000 + number("ads-imp", customer, i, digits=5) % 90000
        values: dict[str, Any] = {
            "campaign.id": str(number("ads-campaign", customer, i, digits=11)),
            "campaign.name": f"{pick(('Brand', 'Search', 'PMax', 'Display'), i)} #{i + 1}",
            "campaign.status": pick(("ENABLED", "ENABLED", "PAUSED"), "status", i),
            "metrics.impressions": str(impressions),
            "metrics.clicks": str(impressions // (20 + i)),
            "metrics.cost_micros": str((impressions // (20 + i)) * 850_000),
            "metrics.conversions": round(impressions / (400.0 + i), 2),
            "metrics.ctr": round(1 / (20 + i), 4),
            "segments.date": "2025-12-31",
        }
        return values[field]

    @route(
        "POST",
        rf"/{GOOGLE_ADS_API_VERSION}/customers/(?P<customer>\d{{10}})"
        r"/googleAds:search",
    )
    def search(self, request: httpx.Request, customer: str) -> httpx.Response:
        payload = self.body_json(request)
        if not isinstance(payload, Mapping) or "pageSize" in payload:
            return self._failure(
                "requestError", "PAGE_SIZE_NOT_SUPPORTED", "Setting the page size is not supported."
            )
        match = re.match(r"\s*SELECT\s+(.+?)\s+FROM\s+(\w+)", str(payload.get("query", "")), re.I)
        if not match:
            return self._failure("queryError", "UNEXPECTED_END_OF_QUERY", "Invalid GAQL query.")
        fields = [f.strip() for f in match.group(1).split(",")]
        unknown = [f for f in fields if f not in self._FIELDS]
        if unknown:
            return self._failure(
                "queryError",
                "UNRECOGNIZED_FIELD",
                f"Unrecognized field in the query: '{unknown[0]}'.",
            )
        token = str(payload.get("pageToken") or "")
        offset = int(token, 16) if token else 0
        window, next_offset = page_window(self._CAMPAIGNS, offset, self.PAGE_SIZE)
        results = []
        for i in window:
            row: dict[str, Any] = {}
            for field in fields:
                resource, name = field.split(".", 1)
                row.setdefault(resource, {})[_camel(name)] = self._value(field, i, customer)
            if "campaign" in row:
                row["campaign"]["resourceName"] = (
                    f"customers/{customer}/campaigns/{self._value('campaign.id', i, customer)}"
                )
            results.append(row)
        body: dict[str, Any] = {
            "results": results,
            "fieldMask": ",".join(
                f"{f.split('.', 1)[0]}.{_camel(f.split('.', 1)[1])}" for f in fields
            ),
            "requestId": f"mock{number('ads-req', payload, digits=18)}",
        }
        if next_offset is not None:
            body["nextPageToken"] = f"{next_offset:08x}"
        return self.ok(body)

    def _failure(self, kind: str, code: str, message: str) -> httpx.Response:
        body = self.error_body(400, "Request contains an invalid argument.")
        body["error"]["details"] = [
            {
                "@type": f"type.googleapis.com/google.ads.googleads.{GOOGLE_ADS_API_VERSION}"
                ".errors.GoogleAdsFailure",
                "errors": [{"errorCode": {kind: code}, "message": message}],
                "requestId": "mock-request",
            }
        ]
        return httpx.Response(400, json=body)


#: This service's live connector and its mock vendor (collected by the connector catalog).
CONNECTOR = (GoogleAdsConnector, GoogleAdsMock)
