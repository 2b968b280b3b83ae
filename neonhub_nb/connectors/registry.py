"""The connector catalog and factory: which connector answers a service, over which transport.

Each connector module declares ``CONNECTOR = (ConnectorClass, MockVendorClass)`` and has
no import-time side effects; :meth:`ConnectorCatalog.builtin` collects the 17 services.
A runtime keeps one catalog per process (``neonhub_nb.runtime``); lookups here take a
``catalog`` and default to the built-in one. An unknown name raises an error listing the
known ones.

Mock or live is not decided here: the caller passes the run's transport, which
:attr:`neonhub_nb.config.Settings.wiring` decided. ``mock`` wires the live connector code
to its mock vendor through ``httpx.MockTransport``; ``live`` checks that every credential
is set (one error naming all the missing ones) before any client exists.
"""

from __future__ import annotations

import importlib
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import httpx

from ..clock import Clock
from ..config import Settings, Transport
from ..redaction import Redactor
from .base import (
    Connector,
    ConnectorRetryPolicy,
    Instrument,
    MissingCredentialsError,
    ServiceSpec,
    Sleep,
    UnknownConnectorError,
)
from .mock import MockVendor

__all__ = [
    "CONNECTOR_NAMES",
    "README_END",
    "README_START",
    "ConnectorCatalog",
    "ConnectorFactory",
    "build_connector",
    "connector_factory",
    "connector_status",
    "env_table_markdown",
    "get_connector_class",
    "get_mock_class",
    "list_connectors",
    "live_client",
    "update_readme",
]

#: The 17 services, in the order the design lists them (each a module of this package).
CONNECTOR_NAMES: tuple[str, ...] = (
    "email",
    "sms",
    "slack",
    "stripe",
    "whatsapp",
    "instagram",
    "facebook",
    "linkedin",
    "x",
    "google_ads",
    "ga4",
    "gsc",
    "shopify",
    "discord",
    "reddit",
    "tiktok",
    "youtube",
)

README_START = "<!-- connectors-env:start -->"
README_END = "<!-- connectors-env:end -->"

_USER_AGENT = "neonhub-nb/0.1 (+https://github.com/neonhub/neonhub-nb)"


class ConnectorCatalog:
    """Connector classes and their mock vendors by service name. Thread-safe.

    >>> ConnectorCatalog.builtin().connector_class("slack").__name__
    'SlackConnector'
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[type[Connector], type[MockVendor]]] = {}

    @classmethod
    def builtin(cls) -> ConnectorCatalog:
        """A new catalog holding the 17 built-in services."""
        catalog = cls()
        for name in CONNECTOR_NAMES:
            connector, mock = importlib.import_module(f"{__package__}.{name}").CONNECTOR
            catalog.register(connector, mock)
        return catalog

    def register(self, connector: type[Connector], mock: type[MockVendor]) -> None:
        """Add (or replace) the connector for ``connector.spec.name``."""
        with self._lock:
            self._entries[connector.spec.name] = (connector, mock)

    def lookup(self, name: str) -> tuple[type[Connector], type[MockVendor]]:
        with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                raise UnknownConnectorError(name, sorted(self._entries))
            return entry

    def connector_class(self, name: str) -> type[Connector]:
        return self.lookup(name)[0]

    def mock_class(self, name: str) -> type[MockVendor]:
        return self.lookup(name)[1]

    def specs(self) -> list[ServiceSpec]:
        """Every service's spec: the 17 built-ins first, in design order."""
        with self._lock:
            names = list(self._entries)
            extra = sorted(set(names) - set(CONNECTOR_NAMES))
            ordered = [n for n in CONNECTOR_NAMES if n in self._entries] + extra
            return [self._entries[name][0].spec for name in ordered]


class ConnectorFactory(Protocol):
    """What the orchestrator hands an agent's context: ``name -> connector``."""

    def __call__(self, name: str, instrument: Instrument | None = None) -> Connector: ...


def _catalog(catalog: ConnectorCatalog | None) -> ConnectorCatalog:
    return catalog if catalog is not None else ConnectorCatalog.builtin()


def get_connector_class(name: str, catalog: ConnectorCatalog | None = None) -> type[Connector]:
    return _catalog(catalog).connector_class(name)


def get_mock_class(name: str, catalog: ConnectorCatalog | None = None) -> type[MockVendor]:
    return _catalog(catalog).mock_class(name)


def list_connectors(catalog: ConnectorCatalog | None = None) -> list[ServiceSpec]:
    """Every service's spec (default: the built-in catalog), in design order."""
    return _catalog(catalog).specs()


def live_client() -> httpx.Client:
    """The HTTP client for real vendor APIs: bounded timeouts, no redirects followed."""
    return httpx.Client(
        timeout=httpx.Timeout(20.0, connect=5.0),
        headers={"User-Agent": _USER_AGENT},
        follow_redirects=False,
    )


def build_connector(
    name: str,
    settings: Settings,
    *,
    transport: Transport | None = None,
    record_exchanges: bool | None = None,
    http_client: httpx.Client | None = None,
    sleep: Sleep = time.sleep,
    clock: Clock | None = None,
    instrument: Instrument | None = None,
    retry: ConnectorRetryPolicy | None = None,
    mock: MockVendor | None = None,
    catalog: ConnectorCatalog | None = None,
    redactor: Redactor | None = None,
) -> Connector:
    """The ``name`` connector over ``transport`` (default: ``settings.wiring.connectors``).

    ``mock``: the live code over ``httpx.MockTransport(mock vendor)``, with placeholder
    credentials, so nothing leaves the machine. ``live``: credentials from
    ``settings.environ``; if any is missing, :class:`MissingCredentialsError` names them
    all before any request. ``replay``: the live code with placeholder credentials over
    ``http_client`` (which must answer from recordings; see ``neonhub_nb.replay``).
    ``record_exchanges`` (default: only for ``live``) keeps every HTTP exchange for replay.
    ``redactor`` (the run's, ``Runtime.redactor``) cleans the connector's records and
    errors; it learns the connector's own credentials on top.
    """
    connector_cls, mock_cls = _catalog(catalog).lookup(name)
    spec = connector_cls.spec
    transport = transport or settings.wiring.connectors
    record = transport == "live" if record_exchanges is None else record_exchanges
    if transport == "mock":
        vendor = mock
        if http_client is not None:
            client = http_client
        else:
            if vendor is None:
                vendor = mock_cls(delay_ms=settings.mock_connector_delay_ms, sleep=sleep)
            client = httpx.Client(
                transport=httpx.MockTransport(vendor), headers={"User-Agent": _USER_AGENT}
            )
        return connector_cls(
            spec.mock_credentials(),
            http_client=client,
            sleep=sleep,
            clock=clock,
            instrument=instrument,
            retry=retry,
            # Seeded jitter: with a fake clock even retry timings repeat exactly.
            random=random.Random(name).random,
            transport="mock",
            record_exchanges=record,
            mock=vendor,
            owns_client=http_client is None,
            redactor=redactor,
        )
    if transport == "replay":
        if http_client is None:
            raise ValueError("a replay connector needs the http_client that serves recordings")
        return connector_cls(
            spec.mock_credentials(),
            http_client=http_client,
            sleep=sleep,
            clock=clock,
            instrument=instrument,
            retry=retry,
            random=random.Random(name).random,
            transport="replay",
            record_exchanges=record,
            redactor=redactor,
        )
    missing = spec.missing(settings.environ)
    if missing:
        raise MissingCredentialsError(name, missing)
    return connector_cls(
        spec.credentials_from(settings.environ),
        http_client=http_client or live_client(),
        sleep=sleep,
        clock=clock,
        instrument=instrument,
        retry=retry,
        transport="live",
        record_exchanges=record,
        owns_client=http_client is None,
        redactor=redactor,
    )


def connector_factory(
    settings: Settings,
    *,
    transport: Transport | None = None,
    sleep: Sleep | None = None,
    clock: Clock | None = None,
    retry: ConnectorRetryPolicy | None = None,
    client_for: Callable[[str], httpx.Client] | None = None,
    catalog: ConnectorCatalog | None = None,
    redactor: Redactor | None = None,
) -> ConnectorFactory:
    """A ``name -> connector`` factory over one transport (what agents' contexts hold).

    ``sleep`` defaults to ``clock.sleep`` when a clock is given (fake clocks never wait);
    ``client_for(name)`` supplies an ``httpx.Client`` per service (tests, proxies, replay);
    ``redactor`` is handed to every connector built (see :func:`build_connector`).
    """
    wait: Sleep = sleep or (clock.sleep if clock is not None else time.sleep)
    chosen = _catalog(catalog)

    def factory(name: str, instrument: Instrument | None = None) -> Connector:
        return build_connector(
            name,
            settings,
            transport=transport,
            http_client=client_for(name) if client_for else None,
            sleep=wait,
            clock=clock,
            instrument=instrument,
            retry=retry,
            catalog=chosen,
            redactor=redactor,
        )

    return factory


def connector_status(
    settings: Settings, catalog: ConnectorCatalog | None = None
) -> list[dict[str, Any]]:
    """One row per connector: name, vendor, the transport runs of these settings use,
    whether credentials are present, and the names (never the values) of missing
    variables. For a notebook cell or the CLI."""
    mode = settings.wiring.connectors
    rows = []
    for spec in list_connectors(catalog):
        missing = spec.missing(settings.environ)
        rows.append(
            {
                "name": spec.name,
                "vendor": spec.vendor,
                "transport": mode,
                "credentials_present": not missing,
                "missing": missing,
            }
        )
    return rows


def env_table_markdown() -> str:
    """The README block listing every connector's environment variables (generated)."""
    lines = [
        "### Connector credentials",
        "",
        "Read only when connectors run live: in live mode, or with",
        "`USE_MOCK_CONNECTORS=false` (unset, connectors follow the run's mode). A live",
        "connector with any required variable unset fails before its first request with",
        "one error naming every missing variable. In mock mode",
        "`NEONHUB_MOCK_CONNECTOR_DELAY_MS` (default `0`) adds simulated latency per request.",
        "`python -m neonhub_nb.connectors` shows each connector's mode and whether its",
        "credentials are present. This block is generated by",
        "`python -m neonhub_nb.connectors --write-readme README.md`; a test keeps it in step.",
        "",
        "| Service | Vendor API | Variable | Required | Secret | What it holds |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for spec in list_connectors():
        for var in spec.env:
            lines.append(
                f"| `{spec.name}` | {spec.api} | `{var.name}` | "
                f"{'yes' if var.required else 'no'} | {'yes' if var.secret else 'no'} | "
                f"{var.description} |"
            )
    return "\n".join(lines) + "\n"


def update_readme(path: Path | str) -> bool:
    """Rewrite the block between the connector markers in ``path`` (appending the markers
    if absent). Returns whether the file changed."""
    readme = Path(path)
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    block = f"{README_START}\n{env_table_markdown()}{README_END}"
    if README_START in text and README_END in text:
        head, rest = text.split(README_START, 1)
        _, tail = rest.split(README_END, 1)
        new = head + block + tail
    else:
        new = text.rstrip("\n") + ("\n\n" if text.strip() else "") + block + "\n"
    if new == text:
        return False
    readme.write_text(new, encoding="utf-8")
    return True
