"""``gsc``: Google Search Console API v3 — search analytics query.

Live: ``POST https://www.googleapis.com/webmasters/v3/sites/{siteUrl}/searchAnalytics/query``
(``siteUrl`` percent-encoded as one path segment, e.g. ``https%3A%2F%2Fwww.example.com%2F``
or ``sc-domain%3Aexample.com``) with ``{"startDate", "endDate", "dimensions",
"rowLimit", "startRow", "type"}``; answers ``{"rows": [{"keys", "clicks",
"impressions", "ctr", "position"}], "responseAggregationType"}``. Pages are read with
``startRow`` until a short page. Docs:
https://developers.google.com/webmaster-tools/v1/searchanalytics/query
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, ClassVar
from urllib.parse import quote, unquote

import httpx

from .base import EnvVar, ServiceSpec
from .google import GoogleConnector, GoogleMock
from .mock import number, route

__all__ = ["CONNECTOR", "SearchConsoleConnector", "SearchConsoleMock"]


class SearchConsoleConnector(GoogleConnector):
    spec = ServiceSpec(
        name="gsc",
        vendor="Google Search Console",
        api="Search Console API v3",
        docs="https://developers.google.com/webmaster-tools/v1/searchanalytics/query",
        base_url="https://www.googleapis.com",
        env=(
            EnvVar(
                "GSC_ACCESS_TOKEN",
                "OAuth 2.0 access token (scope webmasters.readonly)",
                mock_value="ya29.mock-search-console-token-0000",
            ),
            EnvVar(
                "GSC_SITE_URL",
                "Property: https://www.example.com/ or sc-domain:example.com",
                secret=False,
                mock_value="https://www.example.com/",
            ),
        ),
    )
    token_env = "GSC_ACCESS_TOKEN"

    def search_analytics(
        self,
        start_date: str,
        end_date: str,
        *,
        dimensions: Sequence[str] = ("query",),
        search_type: str = "web",
        row_limit: int = 1000,
        max_pages: int = 5,
    ) -> list[dict[str, Any]]:
        """Rows as flat dicts: ``{"query": ..., "clicks", "impressions", "ctr", "position"}``."""
        site = quote(self.cred("GSC_SITE_URL"), safe="")
        path = f"/webmasters/v3/sites/{site}/searchAnalytics/query"
        summary = {
            "start_date": start_date,
            "end_date": end_date,
            "dimensions": list(dimensions),
            "type": search_type,
        }
        with self._operation("search_analytics", summary) as op:

            def fetch(start_row: int | None) -> tuple[list[Any], int | None]:
                start = start_row or 0
                body = {
                    "startDate": start_date,
                    "endDate": end_date,
                    "dimensions": list(dimensions),
                    "type": search_type,
                    "rowLimit": row_limit,
                    "startRow": start,
                }
                page = op.json("POST", path, json=body, idempotent=True)
                rows = [
                    {
                        **dict(zip(dimensions, row.get("keys", []), strict=False)),
                        "clicks": row["clicks"],
                        "impressions": row["impressions"],
                        "ctr": row["ctr"],
                        "position": row["position"],
                    }
                    for row in page.get("rows", [])
                ]
                return rows, start + len(rows) if len(rows) == row_limit else None

            return op.paginate(fetch, max_pages)


class SearchConsoleMock(GoogleMock):
    service = "gsc"
    host = r"www\.googleapis\.com"
    _VALUES: ClassVar[dict[str, tuple[str, ...]]] = {
        "query": tuple(
            f"{a} {b}"
            for a in ("newsletter", "email marketing", "seo", "crm", "content calendar")
            for b in ("tips", "tools", "growth", "examples", "template", "guide", "2026")
        ),
        "page": tuple(f"/blog/post-{i}" for i in range(15)),
        "country": ("usa", "deu", "gbr", "fra", "ind", "bra"),
        "device": ("DESKTOP", "MOBILE", "TABLET"),
        "searchAppearance": ("AMP_BLUE_LINK", "RICHCARD"),
    }

    @route("POST", r"/webmasters/v3/sites/(?P<site>[^/]+)/searchAnalytics/query")
    def query(self, request: httpx.Request, site: str) -> httpx.Response:
        site_url = unquote(site)
        if not site_url.startswith(("https://", "http://", "sc-domain:")):
            return self.error(
                403, f"User does not have sufficient permission for site '{site_url}'."
            )
        body = self.body_json(request) or {}
        try:
            first = date.fromisoformat(body.get("startDate", ""))
            last = date.fromisoformat(body.get("endDate", ""))
        except ValueError:
            return self.error(400, "Invalid value at 'start_date' or 'end_date'")
        axes: list[Sequence[str]] = []
        for name in body.get("dimensions", []):
            if name == "date":
                days = min(500, max(0, (last - first).days + 1))
                axes.append([(first + timedelta(days=d)).isoformat() for d in range(days)])
            elif name in self._VALUES:
                axes.append(self._VALUES[name])
            else:
                return self.error(400, f"Invalid value at 'dimensions' ({name})")
        total = 1
        for axis in axes:
            total *= len(axis)
        start, limit = int(body.get("startRow", 0)), min(25_000, int(body.get("rowLimit", 1000)))
        rows = []
        for i in range(start, min(total, start + limit)):
            keys, rest = [], i
            for axis in reversed(axes):
                keys.append(axis[rest % len(axis)])
                rest //= len(axis)
            keys.reverse()
            impressions = 50 + number("gsc", site_url, keys, digits=4) % 5000
            clicks = impressions // (5 + i % 40)
            rows.append(
                {
                    "keys": keys,
                    "clicks": clicks,
                    "impressions": impressions,
                    "ctr": round(clicks / impressions, 6),
                    "position": round(1 + number("pos", keys, digits=3) % 300 / 10, 1),
                }
            )
        answer: dict[str, Any] = {"responseAggregationType": "byProperty"}
        if rows:
            answer["rows"] = rows
        return self.ok(answer)


#: This service's live connector and its mock vendor (collected by the connector catalog).
CONNECTOR = (SearchConsoleConnector, SearchConsoleMock)
