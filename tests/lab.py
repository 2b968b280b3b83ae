"""JupyterLab as analysts start it (``scripts/lab.sh``), on a free port, for browser tests.

The server is the real one, started by the real script; the test reads the URL the script
prints (as a user would) and drives Debian's Chromium through playwright.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .browser import ROOT, free_port

__all__ = ["LAB_URL", "jupyter_lab", "open_notebook", "run_all_cells", "wait_kernel_idle"]

LAB_URL = re.compile(r"http://127\.0\.0\.1:\d+/lab/\S*\?token=\w+")


@contextmanager
def jupyter_lab(env: dict[str, str], workdir: Path) -> Iterator[str]:
    """Run ``scripts/lab.sh`` with ``env``; yield the first URL it prints; stop it after.

    JupyterLab's settings and workspaces go to ``workdir`` so no earlier session's
    layout (or this test's) leaks into another.
    """
    log = workdir / "lab.log"
    # What a shell and lab.sh's installer need (package index, certificates, proxies);
    # no developer key or endpoint reaches the server.
    base = {
        k: v
        for k, v in os.environ.items()
        if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE"}
        or k.startswith(("PIP_", "UV_", "SSL_CERT_"))
        or k.lower() in {"http_proxy", "https_proxy", "no_proxy"}
    }
    merged = {
        **base,
        "JUPYTER_PORT": str(free_port()),
        "JUPYTERLAB_SETTINGS_DIR": str(workdir / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(workdir / "lab-workspaces"),
        "JUPYTER_RUNTIME_DIR": str(workdir / "runtime"),
        **env,
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(ROOT / "scripts" / "lab.sh")],
            env=merged,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                found = LAB_URL.search(log.read_text(errors="replace"))
                if found:
                    yield found.group(0)
                    break
                if proc.poll() is not None:
                    raise RuntimeError(f"lab.sh exited with {proc.returncode}:\n{log.read_text()}")
                time.sleep(0.3)
            else:
                raise TimeoutError(f"lab.sh printed no URL within 180 s:\n{log.read_text()}")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def open_notebook(page: Any, url: str) -> Any:
    """Go to ``url``; return the locator of the notebook panel it opens."""
    page.goto(url, timeout=120_000)
    panel = page.locator(".jp-NotebookPanel:visible")
    panel.first.wait_for(timeout=120_000)
    return panel.first


def wait_kernel_idle(page: Any, timeout_s: float = 120) -> None:
    """Until the notebook's kernel status says Idle (the kernel started and answered)."""
    page.locator(
        ".jp-NotebookPanel:visible .jp-Notebook-ExecutionIndicator[data-status='idle']"
    ).first.wait_for(timeout=timeout_s * 1000)


def run_all_cells(page: Any) -> None:
    """Run > Run All Cells, as a user does from the menu."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
