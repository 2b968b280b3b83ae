"""Real servers and a real browser for the browser tests: Voila on a free port, Chromium.

Chromium is Debian's (/usr/bin/chromium) driven by the playwright package; nothing is ever
downloaded. In CI (CI=true) a missing browser is a failure, elsewhere a skip.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
# Read at import: the autouse clean_environment fixture removes CI before each test.
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    message = f"{CHROMIUM} is missing: install Debian's chromium (scripts/test.sh does)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_port(port: int, timeout: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout} s")


@contextmanager
def voila(
    notebook: Path,
    env: dict[str, str],
    log: Path,
    *,
    pool_size: int = 0,
    token: str | None = None,
    base_env: dict[str, str] | None = None,
) -> Iterator[str]:
    """Serve ``notebook`` as neonhub-nb does (``pool_size`` preheated kernels, ``token``
    required when given); yield its URL; stop it afterwards.

    The kernels see the allow-listed environment plus the names in ``env`` (which the
    test chose for its notebook); ``base_env`` (default: this process's environment)
    is what the server is started from, as a user's shell would be.
    """
    from neonhub_nb.dashboard.server import VoilaOptions, voila_command, voila_environment

    port = free_port()
    merged = {**(os.environ if base_env is None else base_env), **env}
    # Coverage of the server and its kernels (pytest-cov's variables), test-side only.
    measured = [k for k in os.environ if k.startswith(("COV_CORE_", "COVERAGE_PROCESS"))]
    options = VoilaOptions(
        port=port,
        pool_size=pool_size,
        token=token is not None,
        kernel_env_extra=(*env, *measured),
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            voila_command(notebook, options),
            env=voila_environment(
                Path(merged["NEONHUB_DB"]), merged, token, extra=(*env, *measured)
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=notebook.parent,
        )
        try:
            # Not a GET of the page itself: each one starts a kernel and runs the notebook.
            wait_port(port, 60, proc)
            yield f"http://127.0.0.1:{port}/"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextmanager
def chromium_page(height: int = 1400) -> Iterator[tuple[Any, list[str]]]:
    """A headless Chromium page and the list of every URL it requested."""
    from playwright.sync_api import sync_playwright

    require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": height})
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        try:
            yield page, requested
        finally:
            browser.close()
