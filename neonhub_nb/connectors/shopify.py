"""``shopify``: Shopify Admin REST API — list orders and products, create a product.

Live: ``https://{shop}.myshopify.com/admin/api/{version}/orders.json`` (``status``,
``limit``) and ``products.json`` with ``X-Shopify-Access-Token``; pages follow the
``Link: <...page_info=...>; rel="next"`` header (only to the same shop host). ``POST
products.json`` with ``{"product": {...}}`` answers ``201 {"product"}``. 429 answers
carry ``Retry-After`` (seconds, e.g. ``2.0``). The REST Admin API is Shopify's legacy
surface (GraphQL is preferred for new public apps) but remains available to custom apps.
Docs: https://shopify.dev/docs/api/admin-rest
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any, ClassVar

import httpx

from .base import Connector, EnvVar, ServiceSpec
from .mock import MockVendor, mock_time, number, page_window, pick, route

__all__ = ["CONNECTOR", "SHOPIFY_API_VERSION", "ShopifyConnector", "ShopifyMock"]

#: Quarterly stable version; each is supported for at least twelve months.
SHOPIFY_API_VERSION = "2026-10"
_ADMIN = f"/admin/api/{SHOPIFY_API_VERSION}"


class ShopifyConnector(Connector):
    spec = ServiceSpec(
        name="shopify",
        vendor="Shopify",
        api=f"Shopify Admin REST API {SHOPIFY_API_VERSION}",
        docs="https://shopify.dev/docs/api/admin-rest",
        base_url="https://{shop}.myshopify.com",
        env=(
            EnvVar(
                "SHOPIFY_ACCESS_TOKEN",
                "Admin API access token of a custom app (shpat_...)",
                mock_value="shpat_mock0000000000000000000000000000",
            ),
            EnvVar(
                "SHOPIFY_SHOP_DOMAIN",
                "Shop domain: my-store.myshopify.com (or my-store)",
                secret=False,
                mock_value="neonhub-demo.myshopify.com",
            ),
        ),
    )

    @property
    def base_url(self) -> str:
        shop = self.cred("SHOPIFY_SHOP_DOMAIN").removeprefix("https://").strip("/")
        return f"https://{shop if '.' in shop else shop + '.myshopify.com'}"

    def _headers(self) -> dict[str, str]:
        return {"X-Shopify-Access-Token": self.cred("SHOPIFY_ACCESS_TOKEN")}

    def _list(
        self, operation: str, resource: str, params: dict[str, Any], max_pages: int
    ) -> list[dict[str, Any]]:
        with self._operation(operation, params) as op:

            def fetch(next_url: str | None) -> tuple[list[Any], str | None]:
                if next_url:
                    response = op.send("GET", next_url)
                else:
                    response = op.send("GET", f"{_ADMIN}/{resource}.json", params=params)
                page = op.parse(response)
                return list(page[resource]), response.links.get("next", {}).get("url")

            return op.paginate(fetch, max_pages)

    def list_orders(
        self, *, status: str = "any", page_size: int = 50, max_pages: int = 5
    ) -> list[dict[str, Any]]:
        """Orders, newest first (``id``, ``name``, ``total_price``, ``financial_status`` ...)."""
        return self._list(
            "list_orders", "orders", {"status": status, "limit": page_size}, max_pages
        )

    def list_products(self, *, page_size: int = 50, max_pages: int = 5) -> list[dict[str, Any]]:
        return self._list("list_products", "products", {"limit": page_size}, max_pages)

    def create_product(
        self,
        title: str,
        *,
        body_html: str = "",
        vendor: str | None = None,
        product_type: str | None = None,
        tags: Sequence[str] = (),
        status: str = "draft",
    ) -> dict[str, Any]:
        """Create a product (a draft unless ``status="active"``); returns it."""
        product: dict[str, Any] = {
            "title": title,
            "body_html": body_html,
            "status": status,
            "tags": ", ".join(tags),
        }
        if vendor:
            product["vendor"] = vendor
        if product_type:
            product["product_type"] = product_type
        with self._operation("create_product", {"title": title, "status": status}) as op:
            created = op.json(
                "POST", f"{_ADMIN}/products.json", json={"product": product}, idempotent=False
            )
            op.response = {"id": created["product"]["id"]}
            return dict(created["product"])


class ShopifyMock(MockVendor):
    service = "shopify"
    host = r"[a-z0-9][a-z0-9-]*\.myshopify\.com"
    auth_header = "X-Shopify-Access-Token"
    auth_prefix = ""
    _TOTALS: ClassVar[dict[str, int]] = {"orders": 123, "products": 34}

    def error_body(self, status: int, message: str) -> Any:
        if status == 401:
            message = "[API] Invalid API key or access token (unrecognized login or wrong password)"
        return {"errors": {404: "Not Found"}.get(status, message)}

    def rate_limited(self, retry_after: str | None) -> httpx.Response:
        headers = {"X-Shopify-Shop-Api-Call-Limit": "40/40"}
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        return httpx.Response(
            429,
            json={
                "errors": "Exceeded 2 calls per second for api client. "
                "Reduce request rates to resume uninterrupted "
                "service."
            },
            headers=headers,
        )

    def _item(self, resource: str, shop: str, i: int) -> dict[str, Any]:
        item_id = number("shopify", resource, shop, i, digits=13)
        if resource == "orders":
            total = f"{10 + number('total', i, digits=4) % 400}.{i % 100:02d}"
            return {
                "id": item_id,
                "name": f"#{1000 + self._TOTALS['orders'] - i}",
                "email": f"buyer{i}@example.com",
                "currency": "USD",
                "total_price": total,
                "financial_status": pick(("paid", "paid", "pending", "refunded"), i),
                "fulfillment_status": ("fulfilled", None, "partial")[i % 3],
                "created_at": mock_time(i, 180, "%Y-%m-%dT%H:%M:%S-00:00"),
                "line_items": [
                    {"title": pick(("Tee", "Hoodie", "Mug"), "li", i), "quantity": 1 + i % 3}
                ],
            }
        return {
            "id": item_id,
            "title": pick(("Classic Tee", "Neon Hoodie", "Logo Mug", "Sticker Pack"), i) + f" {i}",
            "status": "active",
            "vendor": "NeonHub",
            "product_type": "Merch",
            "handle": f"product-{i}",
            "created_at": mock_time(i, 600, "%Y-%m-%dT%H:%M:%S-00:00"),
            "variants": [{"id": item_id + 1, "price": f"{5 + i % 40}.00"}],
        }

    def _page(self, request: httpx.Request, resource: str) -> httpx.Response:
        params = request.url.params
        page_info = params.get("page_info")
        if page_info and set(params) - {"page_info", "limit", "fields"}:
            return self.error(
                400,
                "page_info - When page_info is specified, no other query "
                "parameters except limit and fields may be included",
            )
        limit = self.query_int(request, "limit", 50)
        if not 1 <= limit <= 250:
            return self.error(400, "limit - Must be between 1 and 250")
        offset = int(base64.urlsafe_b64decode(page_info).decode()) if page_info else 0
        window, next_offset = page_window(self._TOTALS[resource], offset, limit)
        shop = request.url.host
        base = f"https://{shop}{_ADMIN}/{resource}.json?limit={limit}&page_info="
        links = []
        if offset:
            previous = base64.urlsafe_b64encode(str(max(0, offset - limit)).encode()).decode()
            links.append(f'<{base}{previous}>; rel="previous"')
        if next_offset is not None:
            links.append(
                f"<{base}{base64.urlsafe_b64encode(str(next_offset).encode()).decode()}>"
                '; rel="next"'
            )
        headers = {"X-Shopify-Shop-Api-Call-Limit": "1/40"}
        if links:
            headers["Link"] = ", ".join(links)
        return self.ok({resource: [self._item(resource, shop, i) for i in window]}, headers=headers)

    @route("GET", rf"{_ADMIN}/orders\.json")
    def list_orders(self, request: httpx.Request) -> httpx.Response:
        return self._page(request, "orders")

    @route("GET", rf"{_ADMIN}/products\.json")
    def list_products(self, request: httpx.Request) -> httpx.Response:
        return self._page(request, "products")

    @route("POST", rf"{_ADMIN}/products\.json")
    def create_product(self, request: httpx.Request) -> httpx.Response:
        product = (self.body_json(request) or {}).get("product")
        if not isinstance(product, dict) or not product.get("title"):
            return httpx.Response(422, json={"errors": {"title": ["can't be blank"]}})
        product_id = number("shopify-new", product, digits=13)
        created = {
            "id": product_id,
            "handle": str(product["title"]).lower().replace(" ", "-"),
            "created_at": mock_time(0, fmt="%Y-%m-%dT%H:%M:%S-00:00"),
            "variants": [{"id": product_id + 1, "price": "0.00"}],
            **product,
        }
        return self.ok({"product": created}, 201)


#: This service's live connector and its mock vendor (collected by the connector catalog).
CONNECTOR = (ShopifyConnector, ShopifyMock)
