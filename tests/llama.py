"""Find the cached llama-server build and run it on 127.0.0.1 for the live-model tests.

``scripts/build_llama_server.sh`` builds the server and assembles the Gemma 3 270M model
once per machine; this module only looks for them (building takes ~15 minutes, which a
test run must never start by surprise) and starts and stops the server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["MODEL_ALIAS", "LlamaServer", "find_build", "llama_server"]

ROOT = Path(__file__).resolve().parents[1]
BUILD_SCRIPT = ROOT / "scripts" / "build_llama_server.sh"
CHAT_TEMPLATE = ROOT / "scripts" / "gemma-chat-template.jinja"
MODEL_ALIAS = "gemma-3-270m"
# Read at import, before the autouse fixture clears the environment for each test.
CACHE_ROOT = Path(os.environ.get("NEONHUB_CACHE") or Path.home() / ".cache" / "neonhub-nb")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def find_build() -> tuple[Path, Path] | str:
    """``(binary, model)`` of the checked build for this machine, or why there is none.

    The build script is the one source of where a build lives (its cache key covers the
    source, the CMake options, the architecture and the toolchain): ask it.
    """
    located = subprocess.run(
        [str(BUILD_SCRIPT), "--locate"],
        capture_output=True,
        text=True,
        env={**os.environ, "NEONHUB_CACHE": str(CACHE_ROOT)},
        check=False,
    )
    paths = dict(
        line.split("=", 1) for line in located.stdout.splitlines() if line.startswith("LLAMA_")
    )
    if located.returncode != 0 or {"LLAMA_SERVER", "LLAMA_MODEL"} - paths.keys():
        return (
            f"llama-server build not found ({located.stderr.strip() or 'no paths printed'}): "
            f"run {BUILD_SCRIPT.relative_to(ROOT)} (10-35 minutes once per machine)"
        )
    return Path(paths["LLAMA_SERVER"]), Path(paths["LLAMA_MODEL"])


@dataclass(frozen=True)
class LlamaServer:
    url: str  # the OpenAI-compatible base URL, ending in /v1
    log: Path
    model: str = MODEL_ALIAS


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def llama_server(binary: Path, model: Path, log: Path) -> Iterator[LlamaServer]:
    port = _free_port()
    command = [
        str(binary),
        "-m", str(model),
        # Always pass -c: the model's default context makes the server ~15x slower.
        "-c", "8192",
        "-np", "4",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--chat-template-file", str(CHAT_TEMPLATE),
        "--alias", MODEL_ALIAS,
        "--no-webui",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama-server exited with {proc.returncode}; see {log}")
            try:
                # 503 while the model loads, 200 once it can answer.
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama-server not healthy after 120 s; see {log}")
            time.sleep(0.2)
        yield LlamaServer(url=f"{base}/v1", log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
