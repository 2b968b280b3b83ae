"""The exporter: a small threaded WSGI server for ``/metrics`` and ``/health``.

``start_exporter()`` binds 127.0.0.1:9464 by default and serves from a daemon thread, so
it works the same from the CLI and from a notebook. A taken port is an error that says
so (never a silent read of another kernel's exporter) unless ``find_free_port=True``.
"""

from __future__ import annotations

import errno
import html
import importlib.metadata
import json
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from socketserver import TCPServer, ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Histogram, Info
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from ..clock import Clock, SystemClock
from ..errors import NeonhubError, StoreError
from .collector import StoreCollector

if TYPE_CHECKING:
    from ..store.base import Store

__all__ = [
    "BUILD_INFO",
    "DEFAULT_PORT",
    "Exporter",
    "ExporterError",
    "MetricsApp",
    "build_labels",
    "build_registry",
    "start_exporter",
]

DEFAULT_PORT = 9464
BUILD_INFO = "neonhub_build_info"
log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
_ROUTES = ("/", "/metrics", "/health")
_METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}
_QUERY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ExporterError(NeonhubError):
    """The exporter could not start (most often: its port is taken)."""


def build_labels() -> dict[str, str]:
    """``{"version": <package version>, "python": "3.11"}`` for ``neonhub_build_info``."""
    try:
        version = importlib.metadata.version("neonhub-nb")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        version = "unknown"
    return {"version": version, "python": f"{sys.version_info[0]}.{sys.version_info[1]}"}


class MetricsApp:
    """The WSGI application behind the exporter, with its own registry.

    The registry holds the :class:`StoreCollector` plus the exporter's HTTP traffic
    (``neonhub_http_requests_total``, ``neonhub_http_request_duration_seconds``) and the
    store's query times (``neonhub_db_query_duration_seconds``). ``clock`` times requests
    and queries (tests freeze it). Call :meth:`close` to detach from the store.
    """

    def __init__(self, store: Store, *, clock: Clock | None = None) -> None:
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.registry = CollectorRegistry(auto_describe=True)
        self.db_query_duration = Histogram(
            "neonhub_db_query_duration_seconds",
            "Duration of audit store queries (the exporter's and the store's), by query.",
            ["query"],
            buckets=_QUERY_BUCKETS,
            registry=None,
        )
        self.collector = StoreCollector(store, timer=self.time_query)
        # Run metrics first; the query times then include the scrape that shows them.
        self.registry.register(self.collector)
        self.registry.register(self.db_query_duration)
        self.http_requests = Counter(
            "neonhub_http_requests_total",
            "HTTP requests served by the metrics exporter.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_request_duration = Histogram(
            "neonhub_http_request_duration_seconds",
            "Time the metrics exporter took to answer, in seconds.",
            ["method", "route"],
            registry=self.registry,
        )
        self.build_info = Info(
            BUILD_INFO.removesuffix("_info"),
            "The neonhub-nb version serving these metrics and its Python (major.minor); always 1.",
            registry=self.registry,
        )
        self.build_info.info(build_labels())
        store.query_observers.append(self.observe_query)

    def observe_query(self, name: str, seconds: float) -> None:
        self.db_query_duration.labels(query=name).observe(seconds)

    @contextmanager
    def time_query(self, name: str) -> Iterator[None]:
        start = self.clock.monotonic()
        try:
            yield
        finally:
            self.observe_query(name, self.clock.monotonic() - start)

    def close(self) -> None:
        """Stop timing the store's queries (the store outlives the app)."""
        if self.observe_query in self.store.query_observers:
            self.store.query_observers.remove(self.observe_query)

    def health(self) -> tuple[int, dict[str, Any]]:
        """``(http status, body)``: 200 ``ok`` with the store's state, or 503 ``degraded``.

        Either way ``store.spool`` counts the runs recorded here that the store does not
        hold yet (a team store's server may be away: they wait in the local spool)."""
        try:
            state = self.store.status()
        except Exception as exc:  # anything that stops a read is "store unreachable"
            return 503, {
                "status": "degraded",
                "store": {
                    "reachable": False,
                    "error": self.store.redactor.text(str(exc)),
                    "spool": self.store.backlog().as_dict(),
                },
            }
        return 200, {"status": "ok", "store": state}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start = self.clock.monotonic()
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = environ.get("PATH_INFO") or "/"
        # Labels stay bounded whatever clients send: unknown paths and verbs are "other".
        route = path if path in _ROUTES else "other"
        method_label = method if method in _METHODS else "other"
        headers: list[tuple[str, str]] = []
        if route == "other":
            code, body, ctype = 404, b"not found: try /metrics or /health\n", "text/plain"
        elif method not in ("GET", "HEAD"):
            code, body, ctype = 405, b"method not allowed: use GET\n", "text/plain"
            headers.append(("Allow", "GET, HEAD"))
        elif route == "/metrics":
            # The classic text format (0.0.4): every Prometheus 2.x and promtool read it,
            # and every neonhub name is a legacy name, so nothing needs escaping.
            code, body, ctype = 200, generate_latest(self.registry), CONTENT_TYPE_PLAIN_0_0_4
        elif route == "/health":
            code, payload = self.health()
            body, ctype = json.dumps(payload).encode() + b"\n", "application/json"
        else:
            code, body, ctype = 200, _INDEX, "text/html; charset=utf-8"
        headers += [("Content-Type", ctype), ("Content-Length", str(len(body)))]
        self.http_requests.labels(method=method_label, route=route, status=str(code)).inc()
        self.http_request_duration.labels(method=method_label, route=route).observe(
            self.clock.monotonic() - start
        )
        start_response(f"{code} {HTTPStatus(code).phrase}", headers)
        return [b""] if method == "HEAD" else [body]


_INDEX = (
    b"<!doctype html><title>neonhub-nb metrics</title>"
    b'<p>neonhub-nb exporter: <a href="/metrics">/metrics</a> (Prometheus) and '
    b'<a href="/health">/health</a></p>\n'
)


def build_registry(store: Store, *, clock: Clock | None = None) -> CollectorRegistry:
    """A fresh registry with every neonhub metric for ``store`` (see :class:`MetricsApp`).

    The registry times the store's queries from then on; use :class:`MetricsApp` and
    its ``close()`` to stop that.

    >>> print(generate_latest(build_registry(store)).decode())      # doctest: +SKIP
    """
    return MetricsApp(store, clock=clock).registry


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True

    def server_bind(self) -> None:
        # HTTPServer.server_bind asks DNS for the host's FQDN, which can hang offline.
        TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])
        self.setup_environ()


class _ThreadingServerV6(_ThreadingServer):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class Exporter:
    """A running exporter: ``url``, ``metrics_url``, ``health_url``, ``stop()``."""

    def __init__(self, app: MetricsApp, server: WSGIServer) -> None:
        self.app = app
        self.store = app.store
        self._server = server
        self.host = str(server.server_address[0])
        self.port = int(server.server_address[1])
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=server.serve_forever, name=f"neonhub-exporter-{self.port}", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def metrics_url(self) -> str:
        return f"{self.url}/metrics"

    @property
    def health_url(self) -> str:
        return f"{self.url}/health"

    @property
    def running(self) -> bool:
        return not self._stopped.is_set()

    def stop(self) -> None:
        """Stop serving and release the port (the store stays open)."""
        if self._stopped.is_set():
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self.app.close()
        self._stopped.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until :meth:`stop` (Ctrl-C interrupts); True once stopped."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.running:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            # Not Event.wait(): a Ctrl-C landing inside Condition.wait can leave its lock
            # released twice ("release unlocked lock"); sleep is always safe to interrupt.
            time.sleep(0.1)
        return True

    def __enter__(self) -> Exporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "listening on" if self.running else "stopped, was on"
        return f"<Exporter {state} {self.metrics_url} and {self.health_url} for {self.store!r}>"

    def _repr_html_(self) -> str:
        if not self.running:
            return html.escape(repr(self))
        return (
            f"neonhub exporter listening on <a href='{self.metrics_url}' target='_blank'>"
            f"{self.metrics_url}</a> and <a href='{self.health_url}' target='_blank'>"
            f"{self.health_url}</a> for <code>{html.escape(self.store.label)}</code>"
        )


def _bind(host: str, port: int, app: MetricsApp) -> WSGIServer:
    server_class = _ThreadingServerV6 if ":" in host else _ThreadingServer
    return make_server(host, port, app, server_class=server_class, handler_class=_QuietHandler)


def start_exporter(
    store: Store | None = None,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    find_free_port: bool = False,
    *,
    clock: Clock | None = None,
    warm: bool = True,
) -> Exporter:
    """Serve ``/metrics`` and ``/health`` for ``store`` (default: this process's store).

    If ``port`` is taken this raises :class:`ExporterError`, unless ``find_free_port``
    is true: then the system picks a free port, and the returned exporter says which.
    ``warm`` counts the store once before serving, so the first scrape of a large store
    is as quick as the next ones.

    >>> exporter = start_exporter(find_free_port=True)     # doctest: +SKIP
    >>> exporter
    <Exporter listening on http://127.0.0.1:9464/metrics and http://127.0.0.1:9464/health ...>
    >>> exporter.stop()                                     # doctest: +SKIP
    """
    if store is None:
        from ..config import load_settings
        from ..store.backend import open_store

        store = open_store(load_settings())
    app = MetricsApp(store, clock=clock)
    try:
        server = _listen(host, port, find_free_port, app)
    except BaseException:
        app.close()
        raise
    if warm:
        try:
            app.collector.refresh()
        except StoreError as exc:  # served anyway: /health and neonhub_store_up say why
            log.warning("exporter started, but the audit store cannot be read: %s", exc)
        except BaseException:
            server.server_close()
            app.close()
            raise
    return Exporter(app, server)


def _listen(host: str, port: int, find_free_port: bool, app: MetricsApp) -> WSGIServer:
    try:
        return _bind(host, port, app)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise ExporterError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        if not find_free_port:
            raise ExporterError(
                f"port {port} on {host} is already in use (another exporter? see "
                f"http://{host}:{port}/health); choose another port, or pass "
                "find_free_port=True (CLI: --find-free-port) to take a free one"
            ) from None
    return _bind(host, 0, app)
