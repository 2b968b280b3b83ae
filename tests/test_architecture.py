"""The package's shape: no import cycles, no module-level state, one owner of process state.

How "no module-level mutable state" is checked: every module of the package is imported,
a snapshot of every module-level container (dict, list, set, deque, ...) is taken, the
product is used in every mode (runs, replay, stores, prices, registrations, breakers,
limiters), and the snapshot must be unchanged. Only the runtime may change: it is the one
documented owner of process state. Statically, no module may hold a lock, a thread, a weak
collection or an open resource at module level, except the runtime module's default.
"""

from __future__ import annotations

import importlib
import itertools
import pkgutil
import threading
import weakref
from collections import deque
from pathlib import Path
from types import ModuleType
from typing import Any

import grimp
import pytest

import neonhub_nb
from neonhub_nb import register_price, register_prompt, replay_run, run_agent
from neonhub_nb.agents import PromptTemplate
from neonhub_nb.config import load_settings
from neonhub_nb.runtime import Runtime, default_runtime

from .faultserver import Fault, FaultServer

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(neonhub_nb.__path__, "neonhub_nb.")
    if not info.name.endswith("__main__")
)
_CONTAINERS = (dict, list, set, bytearray, deque)
_STATEFUL = (
    type(threading.Lock()),
    type(threading.RLock()),
    threading.Thread,
    threading.Event,
    weakref.WeakSet,
    weakref.WeakKeyDictionary,
    weakref.WeakValueDictionary,
)


def _modules() -> list[ModuleType]:
    return [importlib.import_module(name) for name in MODULES]


def _globals(module: ModuleType) -> dict[str, Any]:
    return {
        name: value
        for name, value in vars(module).items()
        if not name.startswith("__") and getattr(value, "__module__", module.__name__) is not None
    }


def _snapshot() -> dict[tuple[str, str], str]:
    state = {}
    for module in _modules():
        for name, value in _globals(module).items():
            if isinstance(value, _CONTAINERS) and not isinstance(value, ModuleType):
                state[(module.__name__, name)] = repr(value)
    return state


def test_no_import_cycle_between_any_two_parts_of_the_package() -> None:
    graph = grimp.build_graph("neonhub_nb", exclude_type_checking_imports=True)
    parts = sorted({".".join(m.split(".")[:2]) for m in graph.modules} - {"neonhub_nb"})
    cycles = [
        (a, b)
        for a, b in itertools.combinations(parts, 2)
        if graph.chain_exists(a, b, as_packages=True) and graph.chain_exists(b, a, as_packages=True)
    ]
    assert cycles == []


def test_no_module_holds_locks_threads_or_weak_collections() -> None:
    found = [
        f"{module.__name__}.{name}"
        for module in _modules()
        for name, value in _globals(module).items()
        if isinstance(value, _STATEFUL)
    ]
    assert found == []


def test_the_runtime_is_the_only_module_level_object_with_state() -> None:
    holders = [
        f"{module.__name__}.{name}"
        for module in _modules()
        for name, value in _globals(module).items()
        if isinstance(value, Runtime)
    ]
    assert holders == ["neonhub_nb.runtime._DEFAULT"]


def test_using_the_product_changes_no_module_level_state(
    server: FaultServer, tmp_path: Path
) -> None:
    before = _snapshot()
    mock = load_settings({"NEONHUB_DB": str(tmp_path / "s.duckdb")})
    live = load_settings(
        {
            "NEONHUB_MODE": "live",
            "OPENAI_BASE_URL": server.url,
            "NEONHUB_DB": str(tmp_path / "s.duckdb"),
            "NEONHUB_RATE_LIMIT_RPM": "6000",
            "NEONHUB_PRICES": '{"fault-model": [1, 2]}',
            "NEONHUB_MODEL": "fault-model",
            "NEONHUB_MAX_COST_USD": "5",
        }
    )
    article = {"topic": "Email", "primary_keyword": "newsletter", "word_count": 60}
    register_price("house-model", 1.0, 2.0)
    register_prompt(PromptTemplate("content.article", "v9", "system", "Write about {topic}.", {}))
    run_agent("content.generate_article", article, settings=mock)
    run_agent("email.compose_campaign", {"product": "Kit", "goal": "demo"}, settings=mock)
    run_agent("insights.summarize_performance", {"days": 7}, settings=mock)
    server.push(Fault.ok())
    recorded = run_agent("content.generate_article", article, settings=live)
    assert recorded.status == "succeeded", recorded.error
    replayed = replay_run(recorded.run_id, settings=live)
    assert replayed.status == "succeeded", replayed.error
    default_runtime().store(mock).runs()
    default_runtime().reset()
    after = _snapshot()
    changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
    assert changed == set()


@pytest.mark.parametrize("name", MODULES)
def test_no_module_defines_a_mutable_cache_of_its_own(name: str) -> None:
    """Module-level containers are constants: named in capitals or private and never
    assigned after import (the snapshot test proves they are not mutated)."""
    module = importlib.import_module(name)
    offenders = [
        attr
        for attr, value in _globals(module).items()
        if isinstance(value, _CONTAINERS)
        and attr != "__all__"
        and not (attr.isupper() or attr.lstrip("_").isupper() or attr.startswith("_"))
    ]
    assert offenders == []
