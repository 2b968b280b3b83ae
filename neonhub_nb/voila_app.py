"""How neonhub-nb starts Voila: offline template, no sources, culled kernels, 127.0.0.1.

The ``neonhub`` Voila template (``neonhub_nb/voila/templates/neonhub``) is Voila's lab
template minus its two CDN stylesheets, so pages render with no internet. Voila finds it
through ``JUPYTER_PATH``, which :func:`voila_environment` sets.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["TEMPLATE", "voila_command", "voila_environment"]

TEMPLATE = "neonhub"
_DATA_DIR = Path(__file__).resolve().parent  # holds voila/templates/neonhub


def voila_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with the template on JUPYTER_PATH."""
    env = dict(os.environ if base is None else base)
    paths = [str(_DATA_DIR), *filter(None, env.get("JUPYTER_PATH", "").split(os.pathsep))]
    env["JUPYTER_PATH"] = os.pathsep.join(paths)
    return env


def voila_command(
    notebook: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8866,
    token: str | None = None,
    cull_idle_seconds: int = 300,
    extra: Sequence[str] = (),
) -> list[str]:
    """The Voila command line: read-only rendering (no sources) with idle kernels culled."""
    voila = Path(sys.executable).with_name("voila")
    args = [
        str(voila) if voila.exists() else "voila",
        str(notebook),
        "--no-browser",
        f"--Voila.ip={host}",
        f"--port={port}",
        f"--template={TEMPLATE}",
        "--strip_sources=True",
        # A closed tab leaves a kernel behind; cull it so memory follows live viewers only.
        f"--MappingKernelManager.cull_idle_timeout={cull_idle_seconds}",
        "--MappingKernelManager.cull_interval=60",
        "--MappingKernelManager.cull_connected=True",
    ]
    if token is not None:
        args.append(f"--token={token}")
    return [*args, *extra]
