"""The connector registry and factory: mock or live is decided here, once.

``register_connector(ConnectorClass, MockClass)`` / ``get_connector_class(name)`` follow
papermill's small named registries; an unknown name raises an error listing the known
ones. :func:`build_connector` honours ``USE_MOCK_CONNECTORS``: mock mode wires the live
connector to its mock vendor through ``httpx.MockTransport``; live mode checks that every
credential is set (one error naming all the missing ones) before any client exists.
"""

from __future__ import annotations

import importlib
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import httpx

from ..clock import Clock
from ..config import Settings
from .base import (
    Connector,
    Instrument,
    MissingCredentialsError,
    RetryPolicy,
    ServiceSpec,
    Sleep,
    UnknownConnectorError,
)
from .mock import MockVendor

__all__ = [
    "CONNECTOR_NAMES",
    "README_END",
    "README_START",
    "ConnectorFactory",
    "build_connector",
    "connector_factory",
    "connector_status",
    "env_table_markdown",
    "get_connector_class",
    "get_mock_class",
    "list_connectors",
    "live_client",
    "register_connector",
    "update_readme",
]

#: The 17 services, in the order the design lists them.
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
_REGISTRY: dict[str, tuple[type[Connector], type[MockVendor]]] = {}


class ConnectorFactory(Protocol):
    """What the orchestrator puts in ``AgentContext.tools["connectors"]``."""

    def __call__(self, name: str, instrument: Instrument | None = None) -> Connector: ...


def register_connector(connector: type[Connector], mock: type[MockVendor]) -> None:
    """Register a connector class and its mock vendor under ``connector.spec.name``."""
    _REGISTRY[connector.spec.name] = (connector, mock)


def _load_builtin() -> None:
    # Imported on first use so that importing the package stays cheap.
    for name in CONNECTOR_NAMES:
        if name not in _REGISTRY:
            importlib.import_module(f"{__package__}.{name}")


def _lookup(name: str) -> tuple[type[Connector], type[MockVendor]]:
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownConnectorError(name, sorted(_REGISTRY)) from None


def get_connector_class(name: str) -> type[Connector]:
    return _lookup(name)[0]


def get_mock_class(name: str) -> type[MockVendor]:
    return _lookup(name)[1]


def list_connectors() -> list[ServiceSpec]:
    """Every registered service's spec: the 17 built-ins first, in design order."""
    _load_builtin()
    extra = sorted(set(_REGISTRY) - set(CONNECTOR_NAMES))
    return [_REGISTRY[name][0].spec for name in (*CONNECTOR_NAMES, *extra)]


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
    http_client: httpx.Client | None = None,
    sleep: Sleep = time.sleep,
    clock: Clock | None = None,
    instrument: Instrument | None = None,
    retry: RetryPolicy | None = None,
    mock: MockVendor | None = None,
) -> Connector:
    """The ``name`` connector, mock or live as ``settings.use_mock_connectors`` says.

    Mock mode: the live code over ``httpx.MockTransport(mock vendor)``, with placeholder
    credentials, so nothing leaves the machine. Live mode: credentials from
    ``settings.environ``; if any is missing, :class:`MissingCredentialsError` names them
    all before any request. ``http_client`` replaces the default client in either mode.
    """
    connector_cls, mock_cls = _lookup(name)
    spec = connector_cls.spec
    if settings.use_mock_connectors:
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
            mode="mock",
            mock=vendor,
            owns_client=http_client is None,
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
        mode="live",
        owns_client=http_client is None,
    )


def connector_factory(
    settings: Settings,
    *,
    sleep: Sleep | None = None,
    clock: Clock | None = None,
    retry: RetryPolicy | None = None,
    client_for: Callable[[str], httpx.Client] | None = None,
) -> ConnectorFactory:
    """A ``name -> connector`` factory bound to ``settings`` (what agents' contexts hold).

    ``sleep`` defaults to ``clock.sleep`` when a clock is given (fake clocks never wait);
    ``client_for(name)`` supplies an ``httpx.Client`` per service (tests, proxies).
    """
    wait: Sleep = sleep or (clock.sleep if clock is not None else time.sleep)

    def factory(name: str, instrument: Instrument | None = None) -> Connector:
        return build_connector(
            name,
            settings,
            http_client=client_for(name) if client_for else None,
            sleep=wait,
            clock=clock,
            instrument=instrument,
            retry=retry,
        )

    return factory


def connector_status(settings: Settings) -> list[dict[str, Any]]:
    """One row per connector: name, vendor, mode, whether credentials are present, and
    the names (never the values) of missing variables. For a notebook cell or the CLI."""
    mode = "mock" if settings.use_mock_connectors else "live"
    rows = []
    for spec in list_connectors():
        missing = spec.missing(settings.environ)
        rows.append(
            {
                "name": spec.name,
                "vendor": spec.vendor,
                "mode": mode,
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
        "Read only when `USE_MOCK_CONNECTORS=false` (mocks are the default unless",
        "`NEONHUB_MODE=live`). A live connector with any required variable unset fails before",
        "its first request with one error naming every missing variable. In mock mode",
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
