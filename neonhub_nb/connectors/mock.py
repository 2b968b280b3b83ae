"""The mock side of a connector: the vendor's API as an ``httpx.MockTransport`` handler.

A :class:`MockVendor` subclass answers like one vendor: the same paths, auth check,
status codes, JSON shapes, ids and pagination. Ids are derived from a hash of the request,
timestamps from a fixed epoch, so the same calls give the same answers byte for byte.

Faults for tests and demos: ``rate_limit(n, retry_after)`` makes the next ``n`` requests
answer 429 (as the vendor does), ``fail_next(status)`` answers an error, a raw body or a
transport exception. ``delay_ms`` simulates network latency (0 in tests).

>>> vendor = SlackMock()                                                # doctest: +SKIP
>>> client = httpx.Client(transport=httpx.MockTransport(vendor))       # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qsl

import httpx

__all__ = [
    "MOCK_EPOCH",
    "Fault",
    "MockVendor",
    "digest",
    "mock_time",
    "number",
    "page_window",
    "pick",
    "route",
]

F = TypeVar("F", bound=Callable[..., httpx.Response])

#: Every mock timestamp is counted back from here, so answers never depend on the clock.
MOCK_EPOCH = datetime(2026, 1, 1, 12, 0, 0)


def digest(*parts: Any, length: int = 16) -> str:
    """Hex digest of ``parts``: the seed of every mock id."""
    blob = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


def number(*parts: Any, digits: int = 18) -> int:
    """A positive integer of ``digits`` digits derived from ``parts`` (snowflake-like ids)."""
    value = int(digest(*parts, length=32), 16)
    low = int(10 ** (digits - 1))
    return low + value % (9 * low)


def mock_time(index: int, step_minutes: int = 90, fmt: str = "%Y-%m-%dT%H:%M:%SZ") -> str:
    """The ``index``-th timestamp going back from :data:`MOCK_EPOCH`."""
    return (MOCK_EPOCH - timedelta(minutes=step_minutes * index)).strftime(fmt)


def page_window(total: int, offset: int, limit: int) -> tuple[range, int | None]:
    """Indices of one page and the next offset (``None`` on the last page)."""
    offset = max(0, offset)
    end = min(total, offset + max(1, limit))
    return range(offset, end), (end if end < total else None)


def route(method: str, pattern: str) -> Callable[[F], F]:
    """Mark a :class:`MockVendor` method as the handler of ``method`` + path regex.

    The regex matches the raw (still percent-encoded) path; named groups become keyword
    arguments of the handler.
    """

    def mark(handler: F) -> F:
        handler._mock_route = (method, pattern)  # type: ignore[attr-defined]
        return handler

    return mark


@dataclass(frozen=True)
class Fault:
    """One injected answer: an HTTP status (with optional body) or a transport exception."""

    status: int = 500
    retry_after: str | None = None
    body: bytes | None = None
    exception: type[httpx.TransportError] | None = None
    headers: tuple[tuple[str, str], ...] = ()


class MockVendor:
    """Base of the 17 mock vendors; a callable ``httpx.MockTransport`` handler."""

    service: ClassVar[str] = ""
    #: Regex of the host(s) the vendor answers on; a request elsewhere gets a 404.
    host: ClassVar[str] = ""
    auth_header: ClassVar[str] = "Authorization"
    auth_prefix: ClassVar[str] = "Bearer "
    _routes: ClassVar[list[tuple[str, re.Pattern[str], str]]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        routes: list[tuple[str, re.Pattern[str], str]] = []
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                spec = getattr(value, "_mock_route", None)
                if spec is not None:
                    routes.append((spec[0], re.compile(spec[1] + r"/?"), name))
        cls._routes = routes

    def __init__(self, *, delay_ms: float = 0.0, sleep: Callable[[float], None] = time.sleep):
        self.delay_ms = delay_ms
        self._sleep = sleep
        #: Every request received, in order: what contract tests inspect.
        self.requests: list[httpx.Request] = []
        self._faults: deque[Fault] = deque()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} requests={len(self.requests)} faults={len(self._faults)}>"

    # ---------------------------------------------------------------- faults
    def rate_limit(self, times: int = 1, retry_after: float | str | None = 1) -> MockVendor:
        """The next ``times`` requests answer 429 (``Retry-After`` unless ``None``)."""
        value = None if retry_after is None else _seconds(retry_after)
        return self.fail_next(429, times, retry_after=value)

    def fail_next(
        self,
        status: int = 500,
        times: int = 1,
        *,
        retry_after: float | str | None = None,
        body: bytes | None = None,
        exception: type[httpx.TransportError] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> MockVendor:
        """The next ``times`` requests get this fault instead of a normal answer."""
        after = None if retry_after is None else _seconds(retry_after)
        extra = tuple((headers or {}).items())
        for _ in range(times):
            self._faults.append(Fault(status, after, body, exception, extra))
        return self

    @property
    def pending_faults(self) -> int:
        return len(self._faults)

    # -------------------------------------------------------------- dispatch
    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if self.delay_ms > 0:
            self._sleep(self.delay_ms / 1000)
        if self._faults:
            return self.fault_response(self._faults.popleft(), request)
        if self.host and not re.fullmatch(self.host, request.url.host):
            return self.error(404, f"unknown host {request.url.host}")
        denied = self.check_auth(request)
        if denied is not None:
            return denied
        path = request.url.raw_path.decode("ascii").split("?", 1)[0]
        allowed = False
        for method, pattern, name in self._routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if method == request.method:
                handler = getattr(self, name)
                response: httpx.Response = handler(request, **match.groupdict())
                return response
            allowed = True
        if allowed:
            return self.error(405, f"method {request.method} not allowed on {path}")
        return self.error(404, f"no such endpoint: {request.method} {path}")

    def fault_response(self, fault: Fault, request: httpx.Request) -> httpx.Response:
        if fault.exception is not None:
            raise fault.exception("mock transport fault", request=request)
        headers = dict(fault.headers)
        if fault.retry_after is not None:
            headers["Retry-After"] = fault.retry_after
        if fault.body is not None:
            return httpx.Response(fault.status, content=fault.body, headers=headers)
        if fault.status == 429:
            response = self.rate_limited(fault.retry_after)
        else:
            response = self.error(fault.status, _DEFAULT_MESSAGES.get(fault.status, "mock fault"))
        response.headers.update(headers)
        return response

    # ------------------------------------------------- vendor-shaped answers
    def check_auth(self, request: httpx.Request) -> httpx.Response | None:
        """A vendor-shaped 401 unless the auth header has the vendor's shape."""
        value = request.headers.get(self.auth_header, "")
        if not value.startswith(self.auth_prefix) or not value[len(self.auth_prefix) :].strip():
            return self.error(401, "missing or malformed credentials")
        return None

    def error_body(self, status: int, message: str) -> Any:
        """The vendor's error JSON (override per vendor)."""
        return {"error": {"code": status, "message": message}}

    def error(self, status: int, message: str) -> httpx.Response:
        return httpx.Response(status, json=self.error_body(status, message))

    def rate_limited(self, retry_after: str | None) -> httpx.Response:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        return httpx.Response(
            429, json=self.error_body(429, "rate limit exceeded"), headers=headers
        )

    @staticmethod
    def ok(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.Response(status, json=data, headers=headers)

    @staticmethod
    def body_json(request: httpx.Request) -> Any:
        """The JSON body, or ``None`` when it is missing or not JSON."""
        try:
            return json.loads(request.content or b"null")
        except ValueError:
            return None

    @staticmethod
    def body_form(request: httpx.Request) -> dict[str, str]:
        return dict(parse_qsl(request.content.decode(), keep_blank_values=True))

    @staticmethod
    def query_int(request: httpx.Request, name: str, default: int) -> int:
        try:
            return int(request.url.params.get(name, default))
        except ValueError:
            return default


def _seconds(value: float | str) -> str:
    if isinstance(value, str):
        return value  # e.g. an HTTP-date
    return f"{value:g}"


_DEFAULT_MESSAGES = {
    400: "bad request",
    401: "invalid credentials",
    403: "permission denied",
    404: "not found",
    409: "conflict",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}


def pick(options: Sequence[str], *parts: Any) -> str:
    """A deterministic choice from ``options``."""
    return options[number(*parts, digits=6) % len(options)]
