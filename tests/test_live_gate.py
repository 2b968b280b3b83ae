"""Without the llama-server build, the live-model tests skip locally and fail in CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_live_model_tests(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "CI"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_live_model.py", "-k", "deterministic",
         "-p", "no:cacheprovider", "-rs", "-q", "--no-cov"],
        cwd=ROOT,
        env={**clean, "NEONHUB_CACHE": str(tmp_path / "empty-cache"), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("ci", ["true", None])
def test_missing_build(tmp_path: Path, ci: str | None) -> None:
    done = run_live_model_tests(tmp_path, **({"CI": ci} if ci else {}))
    output = done.stdout + done.stderr
    assert "scripts/build_llama_server.sh" in output
    if ci:
        assert done.returncode == 1, output
        assert (
            "CI=true, so the live-model tests must run, but: llama-server build not found" in output
        )
    else:
        assert done.returncode == 0, output
        assert "1 skipped" in output
