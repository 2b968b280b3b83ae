"""Every module declares ``__all__``, and every name it lists exists (also the lazy ones)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import neonhub_nb

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(neonhub_nb.__path__, "neonhub_nb.")
    if not info.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_module_declares_and_exports_its_public_names(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    missing = [item for item in exported if not hasattr(module, item)]
    assert missing == [], f"{name}.__all__ lists names it does not define: {missing}"


def test_the_top_level_api_is_complete_and_cheap_to_import() -> None:
    for item in neonhub_nb.__all__:
        assert getattr(neonhub_nb, item) is not None
    assert {"run_agent", "DraftParams", "RunResult", "AuditStore"} <= set(dir(neonhub_nb))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = neonhub_nb.nope  # type: ignore[attr-defined]
