"""The registry and factory: 17 names, mock vs live, credential checks, status, README block."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import httpx
import pytest

from neonhub_nb import register_connector
from neonhub_nb.clock import FakeClock
from neonhub_nb.config import load_settings
from neonhub_nb.connectors import (
    CONNECTOR_NAMES,
    Connector,
    EnvVar,
    MissingCredentialsError,
    MockVendor,
    ServiceSpec,
    UnknownConnectorError,
    build_connector,
    connector_factory,
    connector_status,
    env_table_markdown,
    get_connector_class,
    list_connectors,
    update_readme,
)
from neonhub_nb.connectors.__main__ import main
from neonhub_nb.connectors.mock import route
from neonhub_nb.connectors.registry import README_END, README_START
from neonhub_nb.errors import ConfigError, ConnectorError
from neonhub_nb.redact import is_secret_name
from neonhub_nb.runtime import Runtime

ROOT = Path(__file__).resolve().parents[1]
DESIGN_ORDER = [
    "email", "sms", "slack", "stripe", "whatsapp", "instagram", "facebook", "linkedin", "x",
    "google_ads", "ga4", "gsc", "shopify", "discord", "reddit", "tiktok", "youtube",
]  # fmt: skip


def fake_env() -> dict[str, str]:
    env = {"USE_MOCK_CONNECTORS": "false"}
    for spec in list_connectors():
        for var in spec.env:
            if var.mock_value:
                env[var.name] = var.mock_value.replace("mock", "FAKESECRET", 1)
    return env


class NoNetwork(httpx.BaseTransport):
    """Fails the test if anything tries to send."""

    def __init__(self) -> None:
        self.sent = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        raise AssertionError(f"unexpected request to {request.url}")


def test_the_seventeen_connectors_in_design_order() -> None:
    assert list(CONNECTOR_NAMES) == DESIGN_ORDER
    assert [spec.name for spec in list_connectors()] == DESIGN_ORDER
    for spec in list_connectors():
        assert spec.docs.startswith("https://") and spec.env and spec.vendor and spec.api


def test_unknown_connector_lists_the_known_ones() -> None:
    with pytest.raises(UnknownConnectorError) as caught:
        build_connector("myspace", load_settings({}))
    message = str(caught.value)
    assert message.startswith("myspace.build: unknown connector")
    assert all(name in message for name in CONNECTOR_NAMES)
    assert isinstance(caught.value, ConnectorError) and isinstance(caught.value, KeyError)


@pytest.mark.parametrize("name", CONNECTOR_NAMES)
def test_mock_mode_needs_no_credentials(name: str) -> None:
    settings = load_settings({})  # mock mode by default: USE_MOCK_CONNECTORS defaults on
    assert settings.use_mock_connectors
    with build_connector(name, settings) as connector:
        assert connector.transport == "mock" and isinstance(connector.mock, MockVendor)
        assert connector.service == name


@pytest.mark.parametrize("name", CONNECTOR_NAMES)
def test_live_mode_names_every_missing_variable_before_any_request(name: str) -> None:
    transport = NoNetwork()
    spec = get_connector_class(name).spec
    with pytest.raises(MissingCredentialsError) as caught:
        build_connector(
            name,
            load_settings({"USE_MOCK_CONNECTORS": "false"}),
            http_client=httpx.Client(transport=transport),
        )
    err = caught.value
    assert err.missing == spec.required
    assert str(err) == f"{name}.credentials: missing environment variables: " + ", ".join(
        spec.required
    )
    assert isinstance(err, ConfigError) and isinstance(err, ConnectorError)
    assert transport.sent == 0


def test_live_mode_is_the_default_for_connectors_when_the_agent_is_live() -> None:
    settings = load_settings({"NEONHUB_MODE": "live"})
    assert not settings.use_mock_connectors
    with pytest.raises(MissingCredentialsError, match="SLACK_BOT_TOKEN"):
        build_connector("slack", settings)


def test_only_the_missing_and_blank_variables_are_named() -> None:
    env = {
        "USE_MOCK_CONNECTORS": "false",
        "TWILIO_ACCOUNT_SID": "AC123",
        "TWILIO_AUTH_TOKEN": "   ",
    }
    with pytest.raises(MissingCredentialsError) as caught:
        build_connector("sms", load_settings(env))
    assert caught.value.missing == ("TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER")


def test_optional_variables_are_never_required() -> None:
    env = fake_env()
    env.pop("GOOGLE_ADS_LOGIN_CUSTOMER_ID", None)
    env.pop("REDDIT_USER_AGENT", None)
    for name in ("google_ads", "reddit"):
        assert build_connector(name, load_settings(env)).transport == "live"


def test_status_lists_transport_and_credentials_without_values() -> None:
    rows = connector_status(load_settings({}))
    assert [row["name"] for row in rows] == DESIGN_ORDER
    assert {tuple(row) for row in rows} == {
        ("name", "vendor", "transport", "credentials_present", "missing")
    }
    assert all(row["transport"] == "mock" and not row["credentials_present"] for row in rows)
    live = connector_status(load_settings(fake_env()))
    assert all(row["transport"] == "live" and row["credentials_present"] for row in live)
    assert all(row["missing"] == [] for row in live)
    assert "FAKESECRET" not in repr(live)


def test_connector_repr_shows_no_credentials() -> None:
    connector = build_connector(
        "stripe", load_settings(fake_env()), http_client=httpx.Client(transport=NoNetwork())
    )
    assert repr(connector) == "<StripeConnector service='stripe' transport='live'>"
    assert str(connector) == repr(connector)


def test_every_secret_variable_looks_secret_to_the_redactor() -> None:
    # The store's redactor learns secret values from variables with secret-looking names.
    for spec in list_connectors():
        for var in spec.env:
            if var.secret:
                assert is_secret_name(var.name), var.name


def test_readme_block_is_generated_from_the_code() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = README_START, README_END
    assert start in readme and end in readme, "README.md lacks the connector markers"
    block = readme.split(start, 1)[1].split(end, 1)[0]
    assert block == "\n" + env_table_markdown(), (
        "README connector table is stale: run "
        "`python -m neonhub_nb.connectors --write-readme README.md`"
    )
    for spec in list_connectors():
        assert all(f"`{var.name}`" in block for var in spec.env)


def test_update_readme_appends_then_replaces_the_block(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Project\n\nIntro.\n", encoding="utf-8")
    assert update_readme(readme) is True
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# Project\n\nIntro.\n\n<!-- connectors-env:start -->\n")
    assert update_readme(readme) is False
    readme.write_text(text.replace("GMAIL_SENDER", "OLD_NAME") + "\nFooter\n", encoding="utf-8")
    assert update_readme(readme) is True
    refreshed = readme.read_text(encoding="utf-8")
    assert "OLD_NAME" not in refreshed and refreshed.endswith(
        "<!-- connectors-env:end -->\n\nFooter\n"
    )


def test_cli_prints_status_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 17 and "slack       mock   credentials: no" in out
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        main(["--env-table"])
    assert buffer.getvalue() == env_table_markdown()


def test_mock_delay_comes_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings({"NEONHUB_MOCK_CONNECTOR_DELAY_MS": "25"})
    assert settings.mock_connector_delay_ms == 25.0
    assert load_settings({}).mock_connector_delay_ms == 0.0
    with pytest.raises(ConfigError, match="NEONHUB_MOCK_CONNECTOR_DELAY_MS"):
        load_settings({"NEONHUB_MOCK_CONNECTOR_DELAY_MS": "-1"})
    clock = FakeClock()
    calls: list[Any] = []
    connector = build_connector(
        "slack", settings, sleep=clock.sleep, clock=clock, instrument=calls.append
    )
    connector.post_message("#x", "hi")  # type: ignore[attr-defined]
    assert calls[0].duration_ms == pytest.approx(25.0)


def test_factory_uses_the_fake_clock_for_backoff() -> None:
    clock = FakeClock()
    factory = connector_factory(load_settings({}), clock=clock)
    calls: list[Any] = []
    connector = factory("discord", calls.append)
    assert connector.mock is not None
    connector.mock.rate_limit(1, retry_after=3)
    connector.send_message("hi")  # type: ignore[attr-defined]
    assert clock.monotonic() == 3.0 and calls[0].duration_ms == pytest.approx(3000.0)


def test_third_party_connectors_can_register() -> None:
    class EchoConnector(Connector):
        spec = ServiceSpec(
            "echo",
            "Echo",
            "Echo API",
            "https://echo.example.com/docs",
            "https://echo.example.com",
            (EnvVar("ECHO_TOKEN", "token"),),
        )
        token_env = "ECHO_TOKEN"

        def ping(self) -> Any:
            with self._operation("ping", {}) as op:
                return op.json("GET", "/ping")

    class EchoMock(MockVendor):
        @route("GET", r"/ping")
        def ping(self, request: httpx.Request) -> httpx.Response:
            return self.ok({"pong": True})

    runtime = Runtime()
    register_connector(EchoConnector, EchoMock, runtime=runtime)
    catalog = runtime.connectors
    echo = build_connector("echo", load_settings({}), catalog=catalog)
    assert echo.ping() == {"pong": True}  # type: ignore[attr-defined]
    assert list_connectors(catalog)[-1].name == "echo"
    # Other runtimes (and the built-in catalog) do not see it.
    with pytest.raises(UnknownConnectorError):
        build_connector("echo", load_settings({}))


def test_every_connectors_module_declares_its_public_names() -> None:
    import importlib
    import inspect
    import pkgutil

    import neonhub_nb.connectors as package

    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        exported = set(getattr(module, "__all__", ()))
        assert exported, f"{module.__name__} has no __all__"
        assert all(hasattr(module, name) for name in exported), module.__name__
        defined = {
            name
            for name, obj in vars(module).items()
            if (inspect.isclass(obj) or inspect.isfunction(obj))
            and obj.__module__ == module.__name__
            and not name.startswith("_")
        }
        assert defined <= exported, (module.__name__, defined - exported)
