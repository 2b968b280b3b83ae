"""``stripe``: Stripe API v1 — create customers and PaymentIntents, list customers.

Live: form-encoded ``POST https://api.stripe.com/v1/customers`` and
``/v1/payment_intents`` (``amount`` in the smallest currency unit, ``currency``,
``metadata[key]``), ``GET /v1/customers`` (``limit``, ``starting_after``; answers
``{"object": "list", "data", "has_more"}``), secret key as ``Authorization: Bearer``.

Every write carries an ``Idempotency-Key`` header (derived from the operation and
payload unless the caller passes one), so a retry after a dropped connection or a 5xx
replays Stripe's first answer instead of charging twice. Docs: https://docs.stripe.com/api
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from .base import Connector, EnvVar, ServiceSpec
from .mock import MockVendor, digest, number, page_window, pick, route

__all__ = ["CONNECTOR", "StripeConnector", "StripeMock"]


def _form(fields: Mapping[str, Any], metadata: Mapping[str, str] | None) -> dict[str, str]:
    """Stripe's form encoding: ``None`` dropped, metadata as ``metadata[key]``."""
    form = {k: str(v) for k, v in fields.items() if v is not None}
    form.update({f"metadata[{k}]": str(v) for k, v in (metadata or {}).items()})
    return form


class StripeConnector(Connector):
    spec = ServiceSpec(
        name="stripe",
        vendor="Stripe",
        api="Stripe API v1",
        docs="https://docs.stripe.com/api",
        base_url="https://api.stripe.com",
        env=(
            EnvVar(
                "STRIPE_SECRET_KEY",
                "Secret or restricted API key (sk_live_..., sk_test_..., rk_...)",
                mock_value="sk_test_mockMOCKmock0000000000",
            ),
        ),
        idempotency="Idempotency-Key header on every write; writes are retried safely",
    )
    token_env = "STRIPE_SECRET_KEY"

    def _write(
        self,
        operation: str,
        path: str,
        form: dict[str, str],
        summary: dict[str, Any],
        idempotency_key: str | None,
    ) -> dict[str, Any]:
        key = idempotency_key or self.idempotency_key(operation, form)
        with self._operation(operation, {**summary, "idempotency_key": key}) as op:
            created = op.json(
                "POST", path, data=form, headers={"Idempotency-Key": key}, idempotent=True
            )
            op.response = {"id": created["id"], "object": created["object"]}
            if "status" in created:
                op.response["status"] = created["status"]
            return dict(created)

    def create_customer(
        self,
        email: str,
        *,
        name: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Create a Customer; returns Stripe's customer object (``cus_...``)."""
        form = _form({"email": email, "name": name, "description": description}, metadata)
        return self._write(
            "create_customer",
            "/v1/customers",
            form,
            {"email": email, "name": name},
            idempotency_key,
        )

    def create_payment_intent(
        self,
        amount: int,
        currency: str,
        *,
        customer: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Create a PaymentIntent for ``amount`` minor units (cents); returns ``pi_...``.

        The same call twice sends the same idempotency key, so Stripe creates one
        PaymentIntent; pass a fresh ``idempotency_key`` to charge the same amount again.
        """
        form = _form(
            {
                "amount": amount,
                "currency": currency.lower(),
                "customer": customer,
                "description": description,
                "automatic_payment_methods[enabled]": "true",
            },
            metadata,
        )
        summary = {"amount": amount, "currency": currency.lower(), "customer": customer}
        return self._write(
            "create_payment_intent", "/v1/payment_intents", form, summary, idempotency_key
        )

    def list_customers(
        self, *, email: str | None = None, page_size: int = 100, max_pages: int = 5
    ) -> list[dict[str, Any]]:
        """Customers, newest first (optionally only those with ``email``)."""
        with self._operation("list_customers", {"email": email, "page_size": page_size}) as op:

            def fetch(after: str | None) -> tuple[list[Any], str | None]:
                params: dict[str, Any] = {"limit": page_size}
                if email:
                    params["email"] = email
                if after:
                    params["starting_after"] = after
                page = op.json("GET", "/v1/customers", params=params)
                data = list(page["data"])
                return data, (data[-1]["id"] if page["has_more"] and data else None)

            return op.paginate(fetch, max_pages)


class StripeMock(MockVendor):
    service = "stripe"
    host = r"api\.stripe\.com"
    _TOTAL = 57

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: Objects created, by id: a retried write must not add a second one.
        self.created: dict[str, dict[str, Any]] = {}
        self._idempotent: dict[str, tuple[dict[str, str], httpx.Response]] = {}

    def error_body(self, status: int, message: str) -> Any:
        kind = {402: "card_error", 500: "api_error", 503: "api_error"}.get(
            status, "invalid_request_error"
        )
        error = {
            "type": kind,
            "message": message,
            "request_log_url": "https://dashboard.stripe.com/test/logs/req_"
            + digest(status, message, length=14),
        }
        if status == 429:
            error["code"] = "rate_limit"
        return {"error": error}

    def check_auth(self, request: httpx.Request) -> httpx.Response | None:
        value = request.headers.get("Authorization", "")
        key = value[7:] if value.startswith("Bearer ") else ""
        if not key:
            return self.error(401, "You did not provide an API key.")
        if not key.startswith(("sk_", "rk_")):
            masked = key[:8] + "*" * 12 + key[-4:] if len(key) > 12 else "***"
            return self.error(401, f"Invalid API Key provided: {masked}")
        return None

    def _create(self, request: httpx.Request, prefix: str, build: Any) -> httpx.Response:
        form = self.body_form(request)
        key = request.headers.get("Idempotency-Key")
        if key and key in self._idempotent:
            first_form, first = self._idempotent[key]
            if first_form != form:
                return self.error(
                    400,
                    "Keys for idempotent requests can only be used with the "
                    f"same parameters they were first used with. Try using "
                    f"a key other than '{key}' if you meant to execute a "
                    "different request.",
                )
            return httpx.Response(
                first.status_code,
                content=first.content,
                headers={**first.headers, "Idempotent-Replayed": "true"},
            )
        # Without a key every request is a new object: that is how double charges happen.
        seed = key or [sorted(form.items()), len(self.created)]
        obj_id = f"{prefix}_{digest('stripe', prefix, seed, length=24)}"
        result = build(obj_id, form)
        if isinstance(result, httpx.Response):
            return result
        self.created[obj_id] = result
        response = self.ok(result, headers={"Request-Id": "req_" + digest(obj_id, length=14)})
        if key:
            self._idempotent[key] = (form, response)
        return response

    @route("POST", r"/v1/customers")
    def create_customer(self, request: httpx.Request) -> httpx.Response:
        def build(obj_id: str, form: dict[str, str]) -> dict[str, Any]:
            return {
                "id": obj_id,
                "object": "customer",
                "created": 1767268800,
                "email": form.get("email"),
                "name": form.get("name"),
                "description": form.get("description"),
                "balance": 0,
                "currency": None,
                "delinquent": False,
                "livemode": False,
                "metadata": _metadata(form),
            }

        return self._create(request, "cus", build)

    @route("POST", r"/v1/payment_intents")
    def create_payment_intent(self, request: httpx.Request) -> httpx.Response:
        def build(obj_id: str, form: dict[str, str]) -> dict[str, Any] | httpx.Response:
            if "amount" not in form:
                return self.error(400, "Missing required param: amount.")
            if not form["amount"].isdigit() or int(form["amount"]) < 1:
                return self.error(400, f"Invalid integer: {form['amount']}")
            if len(form.get("currency", "")) != 3:
                return self.error(400, "Missing required param: currency.")
            return {
                "id": obj_id,
                "object": "payment_intent",
                "amount": int(form["amount"]),
                "amount_received": 0,
                "currency": form["currency"],
                "customer": form.get("customer"),
                "description": form.get("description"),
                "status": "requires_payment_method",
                "capture_method": "automatic",
                "automatic_payment_methods": {"enabled": True},
                "client_secret": f"{obj_id}_secret_{digest(obj_id, length=24)}",
                "created": 1767268800,
                "livemode": False,
                "metadata": _metadata(form),
            }

        return self._create(request, "pi", build)

    @route("GET", r"/v1/customers")
    def list_customers(self, request: httpx.Request) -> httpx.Response:
        limit = min(100, max(1, self.query_int(request, "limit", 10)))
        email = request.url.params.get("email")
        ids = [f"cus_{digest('stripe-list', i, length=14)}" for i in range(self._TOTAL)]
        if email:
            ids = ids[: 1 + number(email, digits=2) % 2]
        after = request.url.params.get("starting_after")
        if after and after not in ids:
            return self.error(400, f"No such customer: '{after}'")
        offset = ids.index(after) + 1 if after else 0
        window, next_offset = page_window(len(ids), offset, limit)
        data: list[dict[str, Any]] = [
            {
                "id": ids[i],
                "object": "customer",
                "created": 1767268800 - i * 3600,
                "email": email or f"customer{i}@example.com",
                "name": pick(("Ada Lovelace", "Grace Hopper", "Alan Turing"), i),
                "livemode": False,
                "metadata": {},
            }
            for i in window
        ]
        return self.ok(
            {
                "object": "list",
                "url": "/v1/customers",
                "data": data,
                "has_more": next_offset is not None,
            }
        )


def _metadata(form: Mapping[str, str]) -> dict[str, str]:
    return {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")}


#: This service's live connector and its mock vendor (collected by the connector catalog).
CONNECTOR = (StripeConnector, StripeMock)
