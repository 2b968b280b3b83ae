"""What every connector shares: credentials, one HTTP client, retries, errors, one record per call.

A connector is the live code for one vendor's HTTP API. It never knows whether its
``httpx.Client`` talks to the vendor or to the vendor's mock (an ``httpx.MockTransport``
over the handler in the same module): mock mode is the live code over another transport.

Each public method of a connector is one *operation*. It runs inside
:meth:`Connector._operation`, which sends the HTTP requests (pages and retries included),
turns every failure into a :class:`~neonhub_nb.errors.ConnectorError` naming the service
and operation, and reports one :class:`ConnectorCall` to the ``instrument`` callback, with
secrets redacted.
"""

from __future__ import annotations

import hashlib
import json
import random as _random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import httpx
import tenacity

from ..backoff import jittered_backoff, retry_after_value
from ..clock import Clock, SystemClock
from ..errors import ConfigError, ConnectorError, InvalidInputError, NeonhubError
from ..redact import Redactor

if TYPE_CHECKING:
    from .mock import MockVendor

__all__ = [
    "RETRYABLE_STATUSES",
    "Connector",
    "ConnectorCall",
    "ConnectorRetryPolicy",
    "EnvVar",
    "Instrument",
    "MissingCredentialsError",
    "Operation",
    "ServiceSpec",
    "Sleep",
    "UnknownConnectorError",
    "exchange_record",
    "stable_key",
]

Instrument = Callable[["ConnectorCall"], None]
Sleep = Callable[[float], None]

# Gateway errors mean the request may not have reached the vendor's application.
RETRYABLE_STATUSES = frozenset({502, 503, 504})
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_STATUS_HINTS = {
    401: "credentials rejected",
    403: "permission denied",
    404: "not found",
    409: "conflict",
    429: "rate limited",
}


class MissingCredentialsError(ConnectorError, ConfigError):
    """Mocks are off and environment variables a connector needs are unset.

    Raised before any HTTP request; ``missing`` names every variable at once. It is both a
    :class:`ConnectorError` (operation ``credentials``) and a :class:`ConfigError`.
    """

    def __init__(self, service: str, missing: list[str]) -> None:
        self.missing = tuple(missing)
        super().__init__(
            service, "credentials", f"missing environment variables: {', '.join(missing)}"
        )


class UnknownConnectorError(ConnectorError, KeyError):
    """No connector is registered under the name asked for."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        super().__init__(name, "build", f"unknown connector; known connectors: {', '.join(known)}")

    def __str__(self) -> str:
        # KeyError would show the repr of its argument; keep the sentence.
        return f"{self.service}.{self.operation}: unknown connector; known connectors: " + (
            ", ".join(self.known)
        )


@dataclass(frozen=True)
class EnvVar:
    """One environment variable a connector reads from ``settings.environ``."""

    name: str
    description: str
    secret: bool = True
    required: bool = True
    # Placeholder used in mock mode so request-building runs with realistic values.
    mock_value: str = ""


@dataclass(frozen=True)
class ServiceSpec:
    """What a connector talks to and what it needs: the source of the README's env table."""

    name: str
    vendor: str
    api: str
    docs: str
    base_url: str
    env: tuple[EnvVar, ...]
    idempotency: str = "none: writes are retried only after a 429 (not processed)"

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.env if v.required)

    def missing(self, environ: Mapping[str, str]) -> list[str]:
        """Names of required variables that are unset or blank in ``environ``."""
        return [name for name in self.required if not (environ.get(name) or "").strip()]

    def credentials_from(self, environ: Mapping[str, str]) -> dict[str, str]:
        return {v.name: environ[v.name].strip() for v in self.env if (environ.get(v.name) or "")}

    def mock_credentials(self) -> dict[str, str]:
        values = {
            v.name: v.mock_value or f"mock-{v.name.lower().replace('_', '-')}-0000"
            for v in self.env
            if v.required
        }
        values.update({v.name: v.mock_value for v in self.env if not v.required and v.mock_value})
        return values


@dataclass(frozen=True)
class ConnectorCall:
    """One operation of a connector, as the audit store and metrics see it.

    ``attempts`` counts every HTTP request the operation sent (retries and pages
    included); ``rate_limited`` counts the 429-type answers among them.
    """

    service: str
    operation: str
    method: str
    url: str
    status: Literal["succeeded", "failed"]
    http_status: int | None
    duration_ms: float
    attempts: int
    rate_limited: int
    request: dict[str, Any] = field(default_factory=dict)
    response: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    started_at: datetime = field(default_factory=lambda: datetime(1970, 1, 1))
    #: Live mode only: every HTTP request and answer (secrets redacted), so replay mode can
    #: serve the same answers from the audit store. Empty in mock mode.
    exchanges: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class ConnectorRetryPolicy:
    """How hard a connector tries: attempts per request and the backoff between them."""

    max_attempts: int = 3
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    # A Retry-After longer than this fails the call instead of blocking a notebook.
    max_retry_after_s: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def backoff(self, attempt: int, rand: float) -> float:
        """Seconds before retry number ``attempt`` (see :func:`jittered_backoff`)."""
        return jittered_backoff(attempt, self.backoff_base_s, self.backoff_max_s, rand)


class _TransportFailedError(Exception):
    """An attempt that got no HTTP answer; ``unsent`` when it never reached the vendor."""

    def __init__(self, error: httpx.TransportError) -> None:
        super().__init__(str(error))
        self.error = error
        self.unsent = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)


# Response headers the connectors read (pagination, ids, retry hints); others are noise.
_REPLAYED_HEADERS = (
    "content-type",
    "link",
    "location",
    "retry-after",
    "x-restli-id",
    "x-rate-limit-reset",
    "x-ratelimit-reset",
)


def exchange_record(request: httpx.Request, response: httpx.Response) -> dict[str, Any]:
    """One HTTP request and its answer as the audit store keeps it (for replay)."""
    return {
        "method": request.method,
        "url": str(request.url),
        "body": request.content.decode("utf-8", "replace"),
        "status": response.status_code,
        "headers": {k: response.headers[k] for k in _REPLAYED_HEADERS if k in response.headers},
        "response": response.content.decode("utf-8", "replace"),
    }


def stable_key(*parts: Any) -> str:
    """A deterministic idempotency key: the same operation and payload give the same key."""
    blob = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return "nh-" + hashlib.sha256(blob.encode()).hexdigest()[:32]


class Connector:
    """Base of the 17 connectors. Subclasses set ``spec`` and write one method per operation.

    >>> conn = build_connector("slack", settings)                      # doctest: +SKIP
    >>> conn.post_message("#launch", "We are live")                    # doctest: +SKIP
    """

    spec: ClassVar[ServiceSpec]
    #: The variable holding the OAuth bearer token, for vendors that use one.
    token_env: ClassVar[str] = ""

    def __init__(
        self,
        credentials: Mapping[str, str],
        *,
        http_client: httpx.Client,
        sleep: Sleep = time.sleep,
        clock: Clock | None = None,
        instrument: Instrument | None = None,
        retry: ConnectorRetryPolicy | None = None,
        random: Callable[[], float] = _random.random,
        transport: Literal["mock", "live", "replay"] = "live",
        record_exchanges: bool = False,
        mock: MockVendor | None = None,
        owns_client: bool = False,
        redactor: Redactor | None = None,
    ) -> None:
        missing = self.spec.missing(credentials)
        if missing:
            raise MissingCredentialsError(self.spec.name, missing)
        self._credentials = {k: v for k, v in credentials.items() if v}
        secrets = [
            self._credentials[v.name]
            for v in self.spec.env
            if v.secret and v.name in self._credentials
        ]
        # The run's shared redactor (every credential of the settings, every format rule)
        # plus this connector's own credentials.
        self._redactor = (redactor or Redactor()).with_secrets(secrets)
        self._client = http_client
        self._owns_client = owns_client
        self._sleep = sleep
        self._clock: Clock = clock or SystemClock()
        self.instrument = instrument
        self.retry = retry or ConnectorRetryPolicy()
        self._random = random
        #: What answers this connector's requests: its mock vendor, the vendor, or replay.
        self.transport = transport
        #: Whether every HTTP exchange is kept in the call's record (for replay).
        self.record_exchanges = record_exchanges
        #: The mock vendor answering this connector (mock mode), for demos of 429s and faults.
        self.mock = mock
        #: The record of the last operation, for notebooks and tests.
        self.last_call: ConnectorCall | None = None

    # ------------------------------------------------------------------ plumbing
    @property
    def service(self) -> str:
        return self.spec.name

    @property
    def base_url(self) -> str:
        return self.spec.base_url

    def __repr__(self) -> str:
        # Never the credentials, only whether they are there.
        return f"<{type(self).__name__} service={self.service!r} transport={self.transport!r}>"

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Connector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def cred(self, name: str) -> str:
        """The value of credential ``name`` (``KeyError`` for an optional one left unset)."""
        return self._credentials[name]

    def optional_cred(self, name: str, default: str | None = None) -> str | None:
        return self._credentials.get(name, default)

    def idempotency_key(self, operation: str, payload: Any) -> str:
        return stable_key(self.service, operation, payload)

    def _operation(self, name: str, request: Mapping[str, Any]) -> Operation:
        """Run one operation: ``with self._operation("send", summary) as op: ...``."""
        return Operation(self, name, request)

    def _error(self, operation: str, message: str, status: int | None = None) -> ConnectorError:
        return ConnectorError(self.service, operation, self._redactor.text(message), status)

    # ------------------------------------------------- hooks a vendor may override
    def _headers(self) -> dict[str, str]:
        """Auth and fixed headers for every request (default: an OAuth bearer token)."""
        return {"Authorization": f"Bearer {self.cred(self.token_env)}"}

    def _retry_after(self, response: httpx.Response) -> float | None:
        return retry_after_value(response.headers.get("Retry-After"), self._clock.now())

    def _is_rate_limited(self, response: httpx.Response) -> bool:
        return response.status_code == 429

    def _error_detail(self, body: Any) -> str | None:
        """The vendor's own words from an error body (shapes vary; these cover most)."""
        if isinstance(body, Mapping):
            error = body.get("error")
            if isinstance(error, Mapping):
                return _first_str(error, ("message", "error_user_msg", "code", "status"))
            if isinstance(error, str):
                described = body.get("error_description") or body.get("message")
                return f"{error}: {described}" if described else error
            errors = body.get("errors")
            if isinstance(errors, str):
                return errors
            if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
                return _first_str(errors[0], ("message", "detail", "code"))
            if isinstance(errors, Mapping):
                return "; ".join(f"{k}: {v}" for k, v in errors.items())
            return _first_str(body, ("message", "detail", "title"))
        return None

    def _check_body(self, operation: str, response: httpx.Response, body: Any) -> None:
        """Raise for vendors that report errors inside a 200 answer (Slack, Reddit ...)."""

    def _credential_hint(self) -> str:
        names = [v.name for v in self.spec.env if v.secret]
        return f" (check {', '.join(names)})" if names else ""

    def _http_error(self, operation: str, response: httpx.Response) -> ConnectorError:
        status = response.status_code
        try:
            detail = self._error_detail(response.json())
        except ValueError:
            detail = None
        reason = response.reason_phrase or "error"
        hint = _STATUS_HINTS.get(status, "vendor server error" if status >= 500 else "rejected")
        message = f"HTTP {status} {reason}: {hint}"
        if detail:
            message += f": {detail}"
        if status == 401:
            message += self._credential_hint()
        return self._error(operation, message, status)


def _first_str(data: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str | int) and str(value):
            return str(value)
    return None


class Operation:
    """One operation in flight: sends requests, counts attempts, records the outcome.

    Set ``response`` (a small summary: ids, counts) before leaving the ``with`` block.
    Parsing mistakes on the vendor's answer (``KeyError``, ``TypeError`` ...) inside the
    block become a ``ConnectorError`` saying the response was malformed.
    """

    def __init__(self, connector: Connector, name: str, request: Mapping[str, Any]) -> None:
        self.connector = connector
        self.name = name
        self.request = dict(request)
        self.response: dict[str, Any] = {}
        self.method = ""
        self.url = ""
        self.http_status: int | None = None
        self.attempts = 0
        self.rate_limited = 0
        self.exchanges: list[dict[str, Any]] = []
        self._started_at = datetime(1970, 1, 1)
        self._start = 0.0

    def __enter__(self) -> Operation:
        clock = self.connector._clock
        self._started_at = clock.now()
        self._start = clock.monotonic()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self._emit(None)
            return
        if isinstance(exc, NeonhubError):  # ConnectorError, or a bad argument we raised
            self._emit(exc)
            return
        if isinstance(exc, KeyError | IndexError | TypeError | ValueError | AttributeError):
            what = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            error = self.connector._error(
                self.name, f"malformed response: {what}", self.http_status
            )
            self._emit(error)
            raise error from None
        self._emit(exc)  # not ours (e.g. KeyboardInterrupt): recorded, then left to propagate

    def _emit(self, error: BaseException | None) -> None:
        c = self.connector
        redact = c._redactor
        call = ConnectorCall(
            service=c.service,
            operation=self.name,
            method=self.method,
            url=redact.text(self.url),
            status="failed" if error is not None else "succeeded",
            http_status=self.http_status,
            duration_ms=round((c._clock.monotonic() - self._start) * 1000, 3),
            attempts=self.attempts,
            rate_limited=self.rate_limited,
            request=redact.redact(self.request)[0],
            response=redact.redact(self.response)[0] if error is None else {},
            error=redact.text(f"{type(error).__name__}: {error}") if error is not None else None,
            started_at=self._started_at,
            exchanges=tuple(redact.redact(self.exchanges)[0]),
        )
        c.last_call = call
        if c.instrument is not None:
            c.instrument(call)

    # ------------------------------------------------------------------ sending
    def send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send one request with retries; raise a ``ConnectorError`` for any failure.

        Retries: 429 always (the vendor did not process it) after ``Retry-After`` or a
        jittered backoff; 502/503/504 and dropped connections only when ``idempotent``
        (reads, or writes carrying an idempotency key the vendor honours), since those may
        have been processed.
        """
        c = self.connector
        policy = c.retry
        safe_to_repeat = method.upper() in _IDEMPOTENT_METHODS if idempotent is None else idempotent
        full_url = self._resolve(url)

        def attempt() -> httpx.Response:
            request = c._client.build_request(
                method,
                full_url,
                params=params,
                json=json,
                data=data,
                content=content,
                headers={**c._headers(), **(headers or {})},
            )
            self.method, self.url = request.method, str(request.url)
            self.attempts += 1
            try:
                response = c._client.send(request)
            except httpx.TransportError as exc:
                raise _TransportFailedError(exc) from exc
            self.http_status = response.status_code
            if c.record_exchanges:
                self.exchanges.append(exchange_record(request, response))
            if c._is_rate_limited(response):
                self.rate_limited += 1
            return response

        def worth_retrying(state: tenacity.RetryCallState) -> bool:
            outcome = state.outcome
            assert outcome is not None
            if outcome.failed:
                # A refused connection never reached the vendor: always safe to try again.
                failure = outcome.exception()
                unsent = isinstance(failure, _TransportFailedError) and failure.unsent
                return isinstance(failure, _TransportFailedError) and (safe_to_repeat or unsent)
            response: httpx.Response = outcome.result()
            if c._is_rate_limited(response):  # the vendor did not process it
                wait = c._retry_after(response)
                return wait is None or wait <= policy.max_retry_after_s
            return response.status_code in RETRYABLE_STATUSES and safe_to_repeat

        def pause(state: tenacity.RetryCallState) -> float:
            outcome = state.outcome
            if outcome is not None and not outcome.failed:
                hinted = c._retry_after(outcome.result())
                if hinted is not None and hinted <= policy.max_retry_after_s:
                    return hinted
            return policy.backoff(state.attempt_number, c._random())

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(policy.max_attempts),
            retry=worth_retrying,
            wait=pause,
            sleep=c._sleep,
            # Out of attempts: the last answer (or the last transport error) speaks.
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        )
        try:
            response: httpx.Response = retrying(attempt)
        except _TransportFailedError as failure:
            exc = failure.error
            kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "network error"
            raise c._error(
                self.name,
                f"{kind} after {self.attempts} attempt(s): {type(exc).__name__}: {exc}",
            ) from exc
        if c._is_rate_limited(response):
            wait = c._retry_after(response)
            after = f"; retry after {wait:g} s" if wait is not None else ""
            raise c._error(
                self.name,
                f"rate limited (HTTP {response.status_code}) after {self.attempts} attempt(s)"
                f"{after}",
                429,
            )
        if response.status_code >= 400:
            raise c._http_error(self.name, response)
        return response

    def json(self, method: str, url: str, **kwargs: Any) -> Any:
        """``send`` and parse the JSON answer (a malformed body is a ``ConnectorError``)."""
        response = self.send(method, url, **kwargs)
        body = self.parse(response)
        self.connector._check_body(self.name, response, body)
        return body

    def paginate(self, fetch: Callable[[Any], tuple[list[Any], Any]], max_pages: int) -> list[Any]:
        """Follow a vendor's cursor: ``fetch(cursor) -> (items, next_cursor or None)``.

        Bounded by ``max_pages`` so a huge account cannot hang a notebook; the summary
        says how many pages were read and whether more were left.
        """
        if max_pages < 1:
            raise InvalidInputError("max_pages", "must be at least 1", max_pages)
        items: list[Any] = []
        cursor: Any = None
        pages = 0
        while pages < max_pages:
            batch, cursor = fetch(cursor)
            items.extend(batch)
            pages += 1
            if cursor is None or cursor == "":
                cursor = None
                break
        self.response.update({"count": len(items), "pages": pages, "truncated": cursor is not None})
        return items

    def parse(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("content-type", "no content type")
            raise self.connector._error(
                self.name,
                f"malformed response: HTTP {response.status_code} body is not JSON "
                f"({kind}, {len(response.content)} bytes)",
                response.status_code,
            ) from None

    def _resolve(self, url: str) -> str:
        base = self.connector.base_url
        if url.startswith("/"):
            return base.rstrip("/") + url
        # Pagination links come from the vendor: never send credentials to another host.
        if httpx.URL(url).host != httpx.URL(base).host:
            raise self.connector._error(
                self.name, f"refusing to follow a link to another host ({httpx.URL(url).host})"
            )
        return url
