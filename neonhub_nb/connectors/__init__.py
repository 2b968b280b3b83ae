"""Connectors: how agents send, post and read through 17 vendor APIs.

One module per service holds the live calls (the vendor's documented URL, method, auth
and payload) and, next to them, the mock vendor: an ``httpx.MockTransport`` handler that
answers like the vendor. Mock connectors (the default unless the run is live, or
``USE_MOCK_CONNECTORS=true``) are the live code over the mock transport, so nothing
leaves the machine and results are deterministic.

>>> from neonhub_nb.connectors import build_connector, connector_status   # doctest: +SKIP
>>> slack = build_connector("slack", settings)                            # doctest: +SKIP
>>> slack.post_message("#launch", "We are live")                          # doctest: +SKIP
>>> connector_status(settings)   # name, vendor, transport, credentials_present, missing

See ``docs/connectors.md``.
"""

from .base import (
    Connector,
    ConnectorCall,
    ConnectorRetryPolicy,
    EnvVar,
    Instrument,
    MissingCredentialsError,
    ServiceSpec,
    UnknownConnectorError,
)
from .mock import MockVendor
from .registry import (
    CONNECTOR_NAMES,
    ConnectorCatalog,
    ConnectorFactory,
    build_connector,
    connector_factory,
    connector_status,
    env_table_markdown,
    get_connector_class,
    get_mock_class,
    list_connectors,
    update_readme,
)

__all__ = [
    "CONNECTOR_NAMES",
    "Connector",
    "ConnectorCall",
    "ConnectorCatalog",
    "ConnectorFactory",
    "ConnectorRetryPolicy",
    "EnvVar",
    "Instrument",
    "MissingCredentialsError",
    "MockVendor",
    "ServiceSpec",
    "UnknownConnectorError",
    "build_connector",
    "connector_factory",
    "connector_status",
    "env_table_markdown",
    "get_connector_class",
    "get_mock_class",
    "list_connectors",
    "update_readme",
]
