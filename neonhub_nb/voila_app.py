"""Where Voila finds neonhub-nb's offline template (the command line is in dashboard.server).

The ``neonhub`` Voila template (``neonhub_nb/voila/templates/neonhub``) is Voila's lab
template minus its two CDN stylesheets, so pages render with no internet. Voila finds it
through ``JUPYTER_PATH``, which :func:`voila_environment` sets.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["TEMPLATE", "voila_environment"]

TEMPLATE = "neonhub"
_DATA_DIR = Path(__file__).resolve().parent  # holds voila/templates/neonhub


def voila_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with the template on JUPYTER_PATH."""
    env = dict(os.environ if base is None else base)
    paths = [str(_DATA_DIR), *filter(None, env.get("JUPYTER_PATH", "").split(os.pathsep))]
    env["JUPYTER_PATH"] = os.pathsep.join(paths)
    return env
