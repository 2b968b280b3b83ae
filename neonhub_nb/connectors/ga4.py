"""``ga4``: Google Analytics 4 Data API v1beta — run a report.

Live: ``POST https://analyticsdata.googleapis.com/v1beta/properties/{id}:runReport`` with
``{"dateRanges": [{"startDate", "endDate"}], "dimensions": [{"name"}], "metrics":
[{"name"}], "limit", "offset"}``; answers ``dimensionHeaders``, ``metricHeaders``,
``rows`` (``dimensionValues`` / ``metricValues``, values as strings) and ``rowCount``.
Pages are read with ``offset`` until ``rowCount`` rows are in. Reports are reads, so 5xx
answers are retried. Docs:
https://developers.google.com/analytics/devguides/reporting/data/v1/rest/v1beta/properties/runReport
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, ClassVar

import httpx

from .base import EnvVar, ServiceSpec
from .google import GoogleConnector, GoogleMock
from .mock import MOCK_EPOCH, number, route

__all__ = ["CONNECTOR", "GA4Connector", "GA4Mock"]

_NUMERIC = {"TYPE_INTEGER": int}


class GA4Connector(GoogleConnector):
    spec = ServiceSpec(
        name="ga4",
        vendor="Google Analytics 4",
        api="Google Analytics Data API v1beta",
        docs="https://developers.google.com/analytics/devguides/reporting/data/v1/rest/v1beta/"
        "properties/runReport",
        base_url="https://analyticsdata.googleapis.com",
        env=(
            EnvVar(
                "GA4_ACCESS_TOKEN",
                "OAuth 2.0 access token (scope analytics.readonly)",
                mock_value="ya29.mock-ga4-access-token-00000000",
            ),
            EnvVar(
                "GA4_PROPERTY_ID", "Numeric GA4 property id", secret=False, mock_value="314159265"
            ),
        ),
    )
    token_env = "GA4_ACCESS_TOKEN"

    def run_report(
        self,
        start_date: str,
        end_date: str,
        *,
        dimensions: Sequence[str] = ("date",),
        metrics: Sequence[str] = ("sessions", "activeUsers"),
        page_size: int = 10_000,
        max_pages: int = 10,
    ) -> list[dict[str, Any]]:
        """Report rows as flat dicts: ``{"date": "20251231", "sessions": 412, ...}``.

        Dates are ``YYYY-MM-DD``, ``today``, ``yesterday`` or ``NdaysAgo``.
        """
        path = f"/v1beta/properties/{self.cred('GA4_PROPERTY_ID')}:runReport"
        summary = {
            "start_date": start_date,
            "end_date": end_date,
            "dimensions": list(dimensions),
            "metrics": list(metrics),
        }
        with self._operation("run_report", summary) as op:

            def fetch(offset: int | None) -> tuple[list[Any], int | None]:
                start = offset or 0
                body = {
                    "dateRanges": [{"startDate": start_date, "endDate": end_date}],
                    "dimensions": [{"name": d} for d in dimensions],
                    "metrics": [{"name": m} for m in metrics],
                    "limit": str(page_size),
                    "offset": str(start),
                }
                page = op.json("POST", path, json=body, idempotent=True)
                rows = [_flatten(page, row) for row in page.get("rows", [])]
                total = int(page.get("rowCount", 0))
                following = start + len(rows)
                return rows, following if rows and following < total else None

            return op.paginate(fetch, max_pages)


def _flatten(page: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for header, value in zip(page["dimensionHeaders"], row["dimensionValues"], strict=True):
        flat[header["name"]] = value["value"]
    for header, value in zip(page["metricHeaders"], row["metricValues"], strict=True):
        convert = _NUMERIC.get(header.get("type", ""), float)
        flat[header["name"]] = convert(value["value"])
    return flat


class GA4Mock(GoogleMock):
    service = "ga4"
    host = r"analyticsdata\.googleapis\.com"
    _DIMENSIONS: ClassVar[dict[str, tuple[str, ...]]] = {
        "country": ("United States", "Germany", "United Kingdom", "France", "India", "Brazil"),
        "sessionDefaultChannelGroup": (
            "Organic Search",
            "Direct",
            "Email",
            "Paid Search",
            "Organic Social",
        ),
        "deviceCategory": ("desktop", "mobile", "tablet"),
        "pagePath": ("/", "/pricing", "/blog", "/blog/newsletter-growth", "/signup", "/about"),
    }
    _METRICS: ClassVar[dict[str, str]] = {
        "sessions": "TYPE_INTEGER",
        "activeUsers": "TYPE_INTEGER",
        "newUsers": "TYPE_INTEGER",
        "screenPageViews": "TYPE_INTEGER",
        "conversions": "TYPE_FLOAT",
        "engagementRate": "TYPE_FLOAT",
        "totalRevenue": "TYPE_CURRENCY",
    }

    @staticmethod
    def _day(value: str) -> date | None:
        today = MOCK_EPOCH.date()
        if value == "today":
            return today
        if value == "yesterday":
            return today - timedelta(days=1)
        ago = re.fullmatch(r"(\d+)daysAgo", value)
        if ago:
            return today - timedelta(days=int(ago.group(1)))
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None

    @route("POST", r"/v1beta/properties/(?P<prop>\d+):runReport")
    def run_report(self, request: httpx.Request, prop: str) -> httpx.Response:
        body = self.body_json(request) or {}
        ranges = body.get("dateRanges") or [{}]
        first, last = (
            self._day(ranges[0].get("startDate", "")),
            self._day(ranges[0].get("endDate", "")),
        )
        if first is None or last is None or first > last:
            return self.error(400, "Invalid date range: startDate must be on or before endDate")
        dims = [d.get("name") for d in body.get("dimensions", [])]
        mets = [m.get("name") for m in body.get("metrics", [])]
        for name in dims:
            if name != "date" and name not in self._DIMENSIONS:
                return self.error(400, f"Field {name} is not a valid dimension.")
        for name in mets:
            if name not in self._METRICS:
                return self.error(400, f"Field {name} is not a valid metric.")
        axes = [
            [
                (first + timedelta(days=d)).strftime("%Y%m%d")
                for d in range(min(400, (last - first).days + 1))
            ]
            if name == "date"
            else list(self._DIMENSIONS[name])
            for name in dims
        ]
        total = 1
        for axis in axes:
            total *= len(axis)
        offset, limit = int(body.get("offset", 0)), min(250_000, int(body.get("limit", 10_000)))
        rows = []
        for i in range(offset, min(total, offset + limit)):
            values, rest = [], i
            for axis in reversed(axes):
                values.append(axis[rest % len(axis)])
                rest //= len(axis)
            values.reverse()
            rows.append(
                {
                    "dimensionValues": [{"value": v} for v in values],
                    "metricValues": [{"value": self._metric(prop, m, values)} for m in mets],
                }
            )
        answer: dict[str, Any] = {
            "dimensionHeaders": [{"name": d} for d in dims],
            "metricHeaders": [{"name": m, "type": self._METRICS[m]} for m in mets],
            "rowCount": total,
            "metadata": {"currencyCode": "USD", "timeZone": "Etc/UTC"},
            "kind": "analyticsData#runReport",
        }
        if rows:
            answer["rows"] = rows
        return self.ok(answer)

    def _metric(self, prop: str, name: str, values: list[str]) -> str:
        base = 20 + number("ga4", prop, name, values, digits=4) % 900
        if self._METRICS[name] == "TYPE_INTEGER":
            return str(base)
        if name == "engagementRate":
            return f"{0.3 + (base % 60) / 100:.4f}"
        return f"{base * 1.37:.2f}"


#: This service's live connector and its mock vendor (collected by the connector catalog).
CONNECTOR = (GA4Connector, GA4Mock)
