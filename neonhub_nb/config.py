"""Settings: the only place that reads the environment, and the mode table.

``load_settings()`` turns ``os.environ`` (or any mapping, in tests) into a frozen
:class:`Settings`. Everything else receives a ``Settings`` and never looks at the
environment itself.

The mode of a run is decided here, once: :data:`MODE_TABLE` maps each mode to the model
client, the connector transport and what is recorded, and :attr:`Settings.wiring` applies
``USE_MOCK_CONNECTORS`` to it. The orchestrator builds exactly what the wiring says; the
CLI, the widgets, papermill parameters and experiments take their choices from the table.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from .errors import ConfigError, InvalidInputError
from .redaction import safe_value

__all__ = [
    "MODES",
    "MODE_TABLE",
    "OMITTABLE_FIELDS",
    "InvalidSettingError",
    "Mode",
    "ModeRow",
    "Settings",
    "Transport",
    "Wiring",
    "find_project_root",
    "is_store_url",
    "load_settings",
    "mask_url",
    "parse_mode",
]

Mode = Literal["mock", "live", "replay"]
#: What answers a model call or a connector's HTTP request: the deterministic mock, the
#: real service, or the audit store's recording of an earlier live run.
Transport = Literal["mock", "live", "replay"]
MODES: tuple[Mode, ...] = ("mock", "live", "replay")


class InvalidSettingError(ConfigError, InvalidInputError):
    """A setting's value broke its rule: ``NAME: rule``, like every other bad input.

    Both a :class:`ConfigError` (the environment is wrong) and an
    :class:`InvalidInputError` (the one error type of bad input, with ``field`` and
    ``rule``), so callers catching either see it.
    """

    def __init__(self, field: str, rule: str, value: object = None) -> None:
        InvalidInputError.__init__(self, field, rule, value)


@dataclass(frozen=True)
class ModeRow:
    """One row of the mode table: what a run in this mode is wired to by default."""

    mode: Mode
    #: The model client: MockLLM, the openai SDK client, or answers from recorded runs.
    model: Transport
    #: Connector transport when ``USE_MOCK_CONNECTORS`` is not set.
    connectors: Transport
    #: Spending caps and circuit breakers guard the run (only real money is guarded).
    guarded: bool
    description: str


MODE_TABLE: Mapping[Mode, ModeRow] = {
    "mock": ModeRow("mock", "mock", "mock", False, "deterministic model and vendors, offline"),
    "live": ModeRow("live", "live", "live", True, "the real model endpoint and vendor APIs"),
    "replay": ModeRow(
        "replay", "replay", "replay", False, "answers served from recorded live runs"
    ),
}


@dataclass(frozen=True)
class Wiring:
    """The decision for one run: which transports it uses and what it records.

    ``USE_MOCK_CONNECTORS=true`` puts connectors on their mocks in every mode;
    ``USE_MOCK_CONNECTORS=false`` puts them on the vendors' real APIs in mock and live mode.
    Replay never calls a vendor: its connectors answer from the store unless mocks are
    asked for. Unset, connectors follow the run's mode.
    """

    mode: Mode
    model: Transport
    connectors: Transport
    guarded: bool

    @property
    def record_exchanges(self) -> bool:
        """Whether connectors keep every HTTP exchange (what replay later serves back)."""
        return self.connectors == "live"

    @property
    def live_calls(self) -> bool:
        """Whether anything in the run reaches a real service."""
        return "live" in (self.model, self.connectors)


# Chat request fields a compatible server may not know, and that the live client can do
# without: usage is then counted locally; the seed is then not sent (and recorded so).
OMITTABLE_FIELDS = ("stream_options", "seed")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Settings:
    """Resolved configuration. Secrets are kept out of ``repr``."""

    mode: Mode = "mock"
    #: ``USE_MOCK_CONNECTORS`` when set (True/False); None lets connectors follow the mode.
    mock_connectors: bool | None = None
    db_path: Path = Path("data/neonhub.duckdb")
    #: ``NEONHUB_DB`` when it is a ``postgresql://`` URL (a team's shared store; then
    #: ``db_path`` is unused). It may hold a password: never in ``repr`` (see
    #: :attr:`store_label`).
    store_url: str | None = field(default=None, repr=False)
    #: Where each machine spools runs for a team store before they reach the server:
    #: ``NEONHUB_SPOOL_DIR``, else ``$XDG_CACHE_HOME/neonhub-nb/spool`` (``~/.cache``).
    team_spool_root: Path = Path("~/.cache/neonhub-nb/spool")
    #: Minutes of silence after which a team store's writer counts as gone and its
    #: unfinished runs become ``abandoned`` (``NEONHUB_LEASE_MINUTES``; docs/team.md).
    lease_minutes: float = 10.0
    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str | None = None
    model: str = "gpt-4o-mini"
    max_cost_usd: float | None = None
    ingest_interval_s: float = 0.5
    # Live-mode resilience (docs/live-mode.md): per-attempt timeout, retries after the
    # first attempt, breaker threshold/reset, client-side requests per minute (None: off).
    max_experiment_cost_usd: float | None = None
    llm_timeout_s: float = 60.0
    llm_max_retries: int = 3
    breaker_threshold: int = 5
    breaker_reset_s: float = 30.0
    rate_limit_rpm: float | None = None
    # Optional chat request fields never sent (NEONHUB_LLM_OMIT_FIELDS, comma-separated, from
    # OMITTABLE_FIELDS): for gateways that answer 400 to them (docs/live-mode.md).
    llm_omit_fields: tuple[str, ...] = ()
    # NEONHUB_PRICES: extra model prices, USD per million tokens (input, output).
    prices: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    # Simulated network latency of mock connectors (0: instant, as tests want).
    mock_connector_delay_ms: float = 0.0
    # Every environment variable, kept so connectors can look up their own credentials
    # (their names are declared by each connector). Never shown in repr.
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def store_key(self) -> str:
        """What identifies the store: the DuckDB file's path or the team store's URL."""
        return self.store_url or str(self.db_path)

    @property
    def store_label(self) -> str:
        """The store for messages: the file's path, or the URL with its password masked."""
        return mask_url(self.store_url) if self.store_url else str(self.db_path)

    @property
    def spool_dir(self) -> Path:
        """Where writer processes append their durable run logs before ingestion."""
        return self.db_path.with_name(self.db_path.name + ".spool")

    @property
    def wiring(self) -> Wiring:
        """The one mode decision: the table's row for ``mode`` with connector mocks applied."""
        row = MODE_TABLE[self.mode]
        connectors: Transport = row.connectors
        if self.mock_connectors is True:
            connectors = "mock"
        elif self.mock_connectors is False and row.connectors != "replay":
            connectors = "live"
        return Wiring(self.mode, row.model, connectors, row.guarded)

    @property
    def use_mock_connectors(self) -> bool:
        """Whether this run's connectors answer from their mocks (see :attr:`wiring`)."""
        return self.wiring.connectors == "mock"

    def with_mode(self, mode: str) -> Settings:
        """A copy in another mode (``mock``, ``live`` or ``replay``); connectors follow it
        unless ``USE_MOCK_CONNECTORS`` was given."""
        return replace(self, mode=parse_mode(mode, "mode"))

    def live_available(self) -> tuple[bool, str]:
        """Whether live mode can run, and if not, why (for forms and error messages)."""
        if self.openai_api_key or self.openai_base_url:
            return True, "live mode is configured"
        return False, "set OPENAI_API_KEY (OpenAI) or OPENAI_BASE_URL (a compatible server)"


def parse_mode(value: object, name: str = "mode") -> Mode:
    """``value`` as a mode, or a :class:`ConfigError` naming ``name`` and the choices."""
    if not isinstance(value, str):
        raise InvalidSettingError(
            name, f"must be one of {', '.join(MODES)} (got {type(value).__name__})"
        )
    mode = value.strip().lower()
    if mode not in MODES:
        raise InvalidSettingError(
            name, f"must be one of {', '.join(MODES)} (got {safe_value(value)})"
        )
    return mode


def _parse_bool(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InvalidSettingError(name, f"must be true or false (got {safe_value(value)})")


def _parse_float(value: str, name: str, minimum: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise InvalidSettingError(name, f"must be a number (got {safe_value(value)})") from None
    if not math.isfinite(number):
        raise InvalidSettingError(name, f"must be a finite number (got {safe_value(value)})")
    if number < minimum:
        raise InvalidSettingError(name, f"must be at least {minimum} (got {safe_value(value)})")
    return number


def _parse_int(value: str, name: str, minimum: int) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise InvalidSettingError(
            name, f"must be a whole number (got {safe_value(value)})"
        ) from None
    if number < minimum:
        raise InvalidSettingError(name, f"must be at least {minimum} (got {safe_value(value)})")
    return number


def _parse_fields(value: str, name: str) -> tuple[str, ...]:
    fields = tuple(dict.fromkeys(f.strip() for f in value.split(",") if f.strip()))
    unknown = [f for f in fields if f not in OMITTABLE_FIELDS]
    if unknown:
        raise ConfigError(
            f"{name}: must be a comma-separated list of {', '.join(OMITTABLE_FIELDS)} "
            f"(got {safe_value(value)})"
        )
    return fields


def _optional_float(env: Mapping[str, str], name: str, minimum: float) -> float | None:
    raw = env.get(name)
    return _parse_float(raw, name, minimum) if raw else None


def _parse_prices(raw: str | None) -> dict[str, tuple[float, float]]:
    """``NEONHUB_PRICES``: JSON ``{"model": [input_per_million, output_per_million]}``."""
    if not raw:
        return {}
    rule = 'must be JSON like {"model": [input_per_million, output_per_million]}'
    try:
        data = json.loads(raw)
    except ValueError:
        raise InvalidSettingError("NEONHUB_PRICES", f"{rule}") from None
    if not isinstance(data, dict):
        raise InvalidSettingError("NEONHUB_PRICES", f"{rule}")
    prices: dict[str, tuple[float, float]] = {}
    for model, pair in data.items():
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise InvalidSettingError(
                "NEONHUB_PRICES", f"{rule} (the entry for {model!r} is not a pair)"
            )
        numbers = []
        for part in pair:
            if isinstance(part, bool) or not isinstance(part, int | float):
                raise InvalidSettingError("NEONHUB_PRICES", f"{model!r}: prices must be numbers")
            if not math.isfinite(part) or part < 0:
                raise InvalidSettingError(
                    "NEONHUB_PRICES", f"{model!r}: prices must be finite and not negative"
                )
            numbers.append(float(part))
        prices[str(model)] = (numbers[0], numbers[1])
    return prices


def is_store_url(value: str) -> bool:
    """Whether a ``NEONHUB_DB`` value is a ``postgresql://`` (or ``postgres://``) URL."""
    return value.strip().lower().startswith(("postgresql://", "postgres://"))


def mask_url(url: str) -> str:
    """``url`` with the password of its user part replaced by ``***`` (for messages).

    The store's own checks (``store/pg/url.py``) also mask secret query parameters; this
    is the settings' cheap version, for a URL that may not even parse.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, tail = rest.partition("/")
    user_part, at, host = authority.rpartition("@")
    if at and ":" in user_part:
        authority = f"{user_part.split(':', 1)[0]}:***@{host}"
    masked = f"{scheme}{sep}{authority}{slash}{tail}"
    if "password=" in masked.lower():  # a password given as a query parameter
        masked = _masked_password_params(masked)
    return masked


def _masked_password_params(url: str) -> str:
    head, _, query = url.partition("?")
    parts = []
    for pair in query.split("&"):
        name, eq, _value = pair.partition("=")
        secret = name.lower() in ("password", "sslpassword")
        parts.append(f"{name}{eq}***" if eq and secret else pair)
    return f"{head}?{'&'.join(parts)}"


def _team_spool_root(env: Mapping[str, str]) -> Path:
    # Per user and machine, whatever folder a kernel or the CLI runs in: every process
    # of one machine must find the others' spools (a dead one's runs are pushed by the
    # next), and flock needs a local disk. NEONHUB_SPOOL_DIR moves it (e.g. off NFS).
    given = env.get("NEONHUB_SPOOL_DIR")
    if given:
        return Path(given).expanduser().absolute()
    cache = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME") or "~") / ".cache")
    return (Path(cache).expanduser() / "neonhub-nb" / "spool").absolute()


def find_project_root(start: Path) -> Path | None:
    """The nearest folder above ``start`` holding neonhub-nb's ``pyproject.toml``."""
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file() and 'name = "neonhub-nb"' in candidate.read_text(errors="ignore"):
            return folder
    return None


def _default_db_path(cwd: Path) -> Path:
    # Notebooks run with notebooks/ as their working directory; the store still belongs in
    # the project's data/ folder, so resolve it from the project root when we are inside one.
    root = find_project_root(cwd)
    return (root or cwd) / "data" / "neonhub.duckdb"


def load_settings(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
    """Read settings from ``environ`` (default: the process environment)."""
    env = dict(os.environ if environ is None else environ)
    mode = parse_mode(env.get("NEONHUB_MODE", "mock"), "NEONHUB_MODE")
    mocks_raw = env.get("USE_MOCK_CONNECTORS")
    # Given explicitly it wins (as in the reference system); unset, connectors follow the
    # run's mode (Settings.wiring), so a mock run never reaches a vendor by accident.
    mock_connectors = (
        _parse_bool(mocks_raw, "USE_MOCK_CONNECTORS") if mocks_raw not in (None, "") else None
    )
    db_raw = env.get("NEONHUB_DB")
    # A postgresql:// URL is kept as given, apart from the path (never a folder named
    # "postgresql:", never a password inside a Path that repr would show).
    store_url = db_raw.strip() if db_raw and is_store_url(db_raw) else None
    db_path = (
        Path(db_raw).expanduser()
        if db_raw and store_url is None
        else _default_db_path(cwd or Path.cwd())
    )
    max_cost_raw = env.get("NEONHUB_MAX_COST_USD")
    return Settings(
        mode=mode,
        mock_connectors=mock_connectors,
        db_path=db_path.absolute(),
        store_url=store_url,
        team_spool_root=_team_spool_root(env),
        lease_minutes=_parse_float(
            env.get("NEONHUB_LEASE_MINUTES") or "10", "NEONHUB_LEASE_MINUTES", 0.1
        ),
        openai_api_key=env.get("OPENAI_API_KEY") or None,
        openai_base_url=env.get("OPENAI_BASE_URL") or None,
        model=env.get("NEONHUB_MODEL") or "gpt-4o-mini",
        max_cost_usd=(
            _parse_float(max_cost_raw, "NEONHUB_MAX_COST_USD", 0.0) if max_cost_raw else None
        ),
        ingest_interval_s=_parse_float(
            env.get("NEONHUB_INGEST_INTERVAL", "0.5"), "NEONHUB_INGEST_INTERVAL", 0.01
        ),
        max_experiment_cost_usd=_optional_float(env, "NEONHUB_EXPERIMENT_MAX_COST_USD", 0.0),
        llm_timeout_s=_parse_float(
            env.get("NEONHUB_LLM_TIMEOUT_S", "60"), "NEONHUB_LLM_TIMEOUT_S", 0.001
        ),
        llm_max_retries=_parse_int(
            env.get("NEONHUB_LLM_MAX_RETRIES", "3"), "NEONHUB_LLM_MAX_RETRIES", 0
        ),
        breaker_threshold=_parse_int(
            env.get("NEONHUB_BREAKER_THRESHOLD", "5"), "NEONHUB_BREAKER_THRESHOLD", 1
        ),
        breaker_reset_s=_parse_float(
            env.get("NEONHUB_BREAKER_RESET_S", "30"), "NEONHUB_BREAKER_RESET_S", 0.001
        ),
        rate_limit_rpm=_optional_float(env, "NEONHUB_RATE_LIMIT_RPM", 0.001),
        prices=_parse_prices(env.get("NEONHUB_PRICES")),
        llm_omit_fields=_parse_fields(
            env.get("NEONHUB_LLM_OMIT_FIELDS", ""), "NEONHUB_LLM_OMIT_FIELDS"
        ),
        mock_connector_delay_ms=_parse_float(
            env.get("NEONHUB_MOCK_CONNECTOR_DELAY_MS") or "0",
            "NEONHUB_MOCK_CONNECTOR_DELAY_MS",
            0.0,
        ),
        environ=env,
    )
