"""Repository-wide pytest setup: each notebook nbval runs records into its own store.

nbval starts one kernel per notebook, outside of any fixture; the kernel inherits this
process's environment. Before the first cell of each notebook, point NEONHUB_DB at a fresh
temp file so a notebook's outputs never depend on what another notebook recorded.
"""

from __future__ import annotations

import os
import tempfile

import pytest

_current_notebook: list[str] = [""]


def pytest_configure(config: pytest.Config) -> None:
    if getattr(config.option, "nbval", False):
        os.environ["NEONHUB_MODE"] = "mock"
        for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
            os.environ.pop(name, None)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    path = str(item.path)
    if not path.endswith(".ipynb") or path == _current_notebook[0]:
        return
    _current_notebook[0] = path
    folder = tempfile.mkdtemp(prefix="neonhub-nbval-")
    os.environ["NEONHUB_DB"] = os.path.join(folder, "notebook.duckdb")
