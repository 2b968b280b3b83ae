"""The runtime: the one owner of process state.

Orchestrators are cheap and built per call (``run_agent``); what must outlive a call lives
here: the audit stores (one per file), the live model clients (one per endpoint, keeping
their connection pools warm), the circuit breakers and rate limiters (per endpoint), the
spending so far, the price table, the catalogs of agents and connectors (built-ins
plus what a notebook registered), and the redactors (one per set of credentials the
settings hold), which every sink of a run is handed.

Like ``prometheus_client``'s default ``REGISTRY``, there is one process default
(:func:`default_runtime`) and every entry point takes another (``runtime=``). Tests call
:meth:`Runtime.reset` to start from a new process's state. Nothing else in the package
keeps state at module level.

>>> runtime = Runtime()                                           # doctest: +SKIP
>>> store = runtime.store(load_settings())                        # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import threading
from typing import TYPE_CHECKING

from .agents.catalog import AgentCatalog
from .config import Settings
from .connectors.registry import ConnectorCatalog
from .guard import BreakerRegistry, Budget, RunGuard, SpendTracker
from .llm.tokens import PriceTable
from .redaction import Redactor, known_secrets_from_environ

if TYPE_CHECKING:
    from .llm.live import OpenAILLM
    from .llm.ratelimit import RateLimiter
    from .store.base import Store

__all__ = ["Runtime", "default_runtime"]


class Runtime:
    """Stores, model clients, breakers, limiters, spend, prices and catalogs of a process."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._stores: dict[str, Store] = {}
        self._models: dict[tuple[object, ...], OpenAILLM] = {}
        self._breakers: dict[tuple[object, ...], BreakerRegistry] = {}
        self._limiters: dict[tuple[object, ...], RateLimiter] = {}
        self._redactors: dict[tuple[str, ...], Redactor] = {}
        self._agents: AgentCatalog | None = None
        self._connectors: ConnectorCatalog | None = None
        self.spend = SpendTracker()
        #: Prices of every model this process knows (``register_price`` adds to it).
        self.prices = PriceTable()

    def __repr__(self) -> str:
        with self._lock:
            return (
                f"Runtime(stores={len(self._stores)}, model_clients={len(self._models)}, "
                f"breakers={len(self._breakers)}, limiters={len(self._limiters)}, "
                f"spent_usd={self.spend.total_usd:.6f})"
            )

    # ---------------------------------------------------------------- catalogs
    @property
    def agents(self) -> AgentCatalog:
        """The agents, prompts and mock writers of this process (built-ins first)."""
        with self._lock:
            if self._agents is None:
                self._agents = AgentCatalog.builtin()
            return self._agents

    @property
    def connectors(self) -> ConnectorCatalog:
        """The connectors of this process (the 17 built-ins first)."""
        with self._lock:
            if self._connectors is None:
                self._connectors = ConnectorCatalog.builtin()
            return self._connectors

    def prices_for(self, settings: Settings) -> PriceTable:
        """This process's prices with ``NEONHUB_PRICES`` on top (never stored back)."""
        return self.prices.with_extra(settings.prices) if settings.prices else self.prices

    # --------------------------------------------------------------- redaction
    def secret_names(self) -> set[str]:
        """Variables that hold a credential whatever they are called: every connector's
        ``EnvVar(secret=True)`` (registered ones included) and ``OPENAI_API_KEY``."""
        names = {var.name for spec in self.connectors.specs() for var in spec.env if var.secret}
        return names | {"OPENAI_API_KEY"}

    def redactor(self, settings: Settings) -> Redactor:
        """The redactor of ``settings``: it knows the value of every credential they hold.

        Known are the values of the connectors' secret variables and ``OPENAI_API_KEY``,
        of every variable whose name looks secret (``*_TOKEN``, ``*_KEY``, ``*PASSWORD*``,
        ...) and the password of every URL-valued one (``NEONHUB_DB=postgresql://...``),
        on top of every format rule (``docs/redaction.md``). One object per set of known
        values, shared: hand it to every sink of a run (store, model client, connectors,
        streams, errors, logs).
        """
        environ = {
            **settings.environ,
            "NEONHUB_DB": settings.environ.get("NEONHUB_DB") or str(settings.db_path),
            "OPENAI_API_KEY": settings.openai_api_key or "",
        }
        known = tuple(sorted(set(known_secrets_from_environ(environ, self.secret_names()))))
        with self._lock:
            redactor = self._redactors.get(known)
            if redactor is None:
                redactor = self._redactors[known] = Redactor(known)
            return redactor

    def protect(self, store: Store, settings: Settings) -> Store:
        """Make ``store`` redact every credential ``settings`` hold (a store opened with
        other settings, or built by hand, learns them; it never forgets one)."""
        wanted = self.redactor(settings)
        with self._lock:
            if store.redactor is not wanted:
                store.redactor = store.redactor.including(wanted)
        return store

    # ------------------------------------------------------------------ stores
    def store(self, settings: Settings) -> Store:
        """This process's store for the settings (one per DuckDB file or team URL, shared):
        an :class:`~neonhub_nb.store.AuditStore`, or a
        :class:`~neonhub_nb.store.pg.PgStore` for ``NEONHUB_DB=postgresql://...``,
        redacting with :meth:`redactor` of ``settings``."""
        from .store.backend import open_store

        key = settings.store_key
        with self._lock:
            store = self._stores.get(key)
            if store is None or store.closed:
                store = open_store(settings, redactor=self.redactor(settings))
                self._stores[key] = store
        return self.protect(store, settings)

    # ----------------------------------------------------------- model clients
    def live_model(self, settings: Settings) -> OpenAILLM:
        """This process's client for the settings' endpoint, key and limits.

        Shared per endpoint: the connection pool (and TLS sessions) stays warm across
        runs instead of being opened again for every ``run_agent`` call.
        """
        from .llm.live import OpenAILLM, endpoint_label

        key_digest = hashlib.sha256((settings.openai_api_key or "").encode()).hexdigest()
        redactor = self.redactor(settings)
        key = (
            settings.openai_base_url,
            key_digest,
            settings.llm_timeout_s,
            settings.llm_max_retries,
            settings.rate_limit_rpm,
            id(redactor),  # its errors quote what these settings know to hide
        )
        with self._lock:
            client = self._models.get(key)
            if client is None:
                limiter = self.limiter(
                    endpoint_label(settings.openai_base_url), settings.rate_limit_rpm
                )
                client = self._models[key] = OpenAILLM.from_settings(
                    settings, limiter=limiter, redactor=redactor
                )
            return client

    def limiter(self, endpoint: str, per_minute: float | None) -> RateLimiter | None:
        """The shared token bucket of ``endpoint`` at ``per_minute`` (None: no limit)."""
        if not per_minute:
            return None
        from .llm.ratelimit import RateLimiter

        key = (endpoint, per_minute)
        with self._lock:
            limiter = self._limiters.get(key)
            if limiter is None:
                limiter = self._limiters[key] = RateLimiter(per_minute, name=endpoint)
            return limiter

    # ------------------------------------------------------------------- guard
    def breakers(self, settings: Settings) -> BreakerRegistry:
        """The breakers of the settings' endpoint (an agent failing against one server
        says nothing about another: pointing ``OPENAI_BASE_URL`` elsewhere starts closed)."""
        from .llm.live import endpoint_label

        key = (
            endpoint_label(settings.openai_base_url),
            settings.breaker_threshold,
            settings.breaker_reset_s,
        )
        with self._lock:
            registry = self._breakers.get(key)
            if registry is None:
                registry = self._breakers[key] = BreakerRegistry(
                    failure_threshold=settings.breaker_threshold,
                    reset_timeout_s=settings.breaker_reset_s,
                )
            return registry

    def guard(self, settings: Settings, store: Store | None = None) -> RunGuard:
        """Spending caps (charged to this runtime's spend) and the endpoint's breakers."""
        return RunGuard(self.breakers(settings), Budget.from_settings(settings, self.spend, store))

    # --------------------------------------------------------------- lifecycle
    def reset(self) -> None:
        """Back to a new process's state: clients and stores closed, everything forgotten."""
        with self._lock:
            models, stores = list(self._models.values()), list(self._stores.values())
            self._models.clear()
            self._stores.clear()
            self._breakers.clear()
            self._limiters.clear()
            self._redactors.clear()
            self._agents = None
            self._connectors = None
            self.spend.reset()
            self.prices = PriceTable()
        for model in models:
            model.close()
        for store in stores:
            store.close()


# The process default, like prometheus_client's REGISTRY: the one module-level object
# that holds state. Everything else takes a runtime or asks for this one.
_DEFAULT = Runtime()


def default_runtime() -> Runtime:
    """This process's runtime."""
    return _DEFAULT
