"""``neonhub-nb dashboard`` / ``synth``, and the Voila server they start (no browser here)."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import psutil
import pytest
from click.testing import CliRunner

from neonhub_nb.cli import cli
from neonhub_nb.dashboard import server
from neonhub_nb.dashboard.server import NOTEBOOK, VoilaOptions, voila_command, voila_environment
from neonhub_nb.store import AuditStore

from .test_dashboard_aggregates import NOW, RUNS, build_store


class FakeVoila:
    """Stands in for ``subprocess.Popen``: records how Voila would have been started."""

    calls: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        FakeVoila.calls.append({"argv": argv, "env": env, "cwd": cwd})

    def wait(self, timeout: float | None = None) -> int:
        return 0


@pytest.fixture
def fake_voila(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    FakeVoila.calls = []
    monkeypatch.setattr(server.subprocess, "Popen", FakeVoila)
    return FakeVoila.calls


def test_dashboard_serves_the_notebook_read_only_with_culling(
    fake_voila: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-Zq8v1Lm3Nx5Rb7Tc9Wd2Ye4Uf6Ig8Jh0")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-2048-4096-AbCdEfGhIjKlMnOp")
    db = tmp_path / "audit.duckdb"
    result = CliRunner().invoke(cli, ["dashboard", "--db", str(db), "--port", "9123"])
    assert result.exit_code == 0, result.output
    assert "http://localhost:9123/" in result.output
    (call,) = fake_voila
    argv = call["argv"]
    assert argv[1:4] == ["-m", "neonhub_nb.voila_app", str(NOTEBOOK)] and NOTEBOOK.exists()
    for flag in (
        "--no-browser", "--Voila.ip=127.0.0.1", "--port=9123", "--strip_sources=True",
        "--VoilaConfiguration.show_tracebacks=False", "--template=neonhub",
        "--VoilaConfiguration.multi_kernel_manager_class="
        "neonhub_nb.voila_app.AllowListKernelManager",
        "--MappingKernelManager.cull_idle_timeout=120",
        "--MappingKernelManager.cull_interval=30",
        "--MappingKernelManager.cull_connected=False", "--preheat_kernel=True",
        "--pool_size=1",
    ):  # fmt: skip
        assert flag in argv
    assert not any("token" in a for a in argv)
    env = call["env"]
    assert env["NEONHUB_DB"] == str(db.absolute())
    assert env["JUPYTER_PATH"].split(os.pathsep)[0] == server.template_path()
    assert (Path(server.template_path()) / "voila" / "templates" / "neonhub").is_dir()
    # The server starts from an allow-listed environment: the shell's credentials stay behind.
    assert "JUPYTER_TOKEN" not in env and "OPENAI_API_KEY" not in env
    assert "SLACK_BOT_TOKEN" not in env
    assert set(env) <= server.SERVER_ENV | {"NEONHUB_DB"}


def test_token_travels_in_the_environment_not_argv(
    fake_voila: list[dict[str, Any]], tmp_path: Path
) -> None:
    result = CliRunner().invoke(cli, ["dashboard", "--db", str(tmp_path / "x.duckdb"), "--token"])
    assert result.exit_code == 0, result.output
    (call,) = fake_voila
    token = call["env"]["JUPYTER_TOKEN"]
    assert len(token) >= 30 and f"?token={token}" in result.output
    assert "--Voila.auto_token=True" in call["argv"]
    assert not any(token in a for a in call["argv"])


def test_an_operators_own_token_is_kept(
    fake_voila: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUPYTER_TOKEN", "bookmarked-token-1234")
    db = str(tmp_path / "x.duckdb")
    result = CliRunner().invoke(cli, ["dashboard", "--db", db, "--token"])
    assert "?token=bookmarked-token-1234" in result.output
    assert fake_voila[0]["env"]["JUPYTER_TOKEN"] == "bookmarked-token-1234"
    CliRunner().invoke(cli, ["dashboard", "--db", db])  # no --token: no authentication
    assert "JUPYTER_TOKEN" not in fake_voila[1]["env"]


def test_a_public_host_without_token_is_warned_about(
    fake_voila: list[dict[str, Any]], tmp_path: Path
) -> None:
    db = tmp_path / "x.duckdb"
    result = CliRunner().invoke(cli, ["dashboard", "--db", str(db), "--host", "0.0.0.0"])
    assert "warning: serving on 0.0.0.0 without --token" in result.output
    assert "--Voila.ip=0.0.0.0" in fake_voila[0]["argv"]
    quiet = CliRunner().invoke(cli, ["dashboard", "--db", str(db), "--host", "::1"])
    assert "warning" not in quiet.output


def test_dashboard_help_documents_every_option() -> None:
    result = CliRunner().invoke(cli, ["dashboard", "--help"])
    for option in ("--host", "--port", "--token / --no-token", "--db", "--cull-idle-timeout",
                   "--pool-size"):  # fmt: skip
        assert option in result.output
    assert "read-only" in result.output


def test_synth_writes_a_store_once(tmp_path: Path) -> None:
    out = tmp_path / "demo.duckdb"
    args = ["synth", "--runs", "300", "--out", str(out), "--days", "2", "--end", "2026-01-01"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "wrote 300 runs over 2 days" in result.output
    with AuditStore(out, read_only=True).connect() as con:
        count, last = con.execute("SELECT count(*), max(started_at) FROM agent_runs").fetchone()
    assert count == 300 and last < datetime(2026, 1, 1)
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 2 and "already exists" in again.output
    bad = CliRunner().invoke(cli, ["synth", "--runs", "1", "--out", str(out), "--end", "soon"])
    assert bad.exit_code == 2 and "expected 'now' or an ISO date" in bad.output


# --------------------------------------------------------------- a real Voila server
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def running_voila(
    db: Path, options: VoilaOptions, log: Path, env: dict[str, str] | None = None
) -> Iterator[psutil.Process]:
    environ = voila_environment(db, {**os.environ, **(env or {})}, (env or {}).get("JUPYTER_TOKEN"))
    with log.open("wb") as out:
        proc = subprocess.Popen(
            voila_command(NOTEBOOK, options), env=environ, cwd=NOTEBOOK.parent, stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while not listening(options.port):
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "Voila did not listen within 60 s"
                time.sleep(0.2)
            yield psutil.Process(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def get(port: int, path: str) -> tuple[int, str, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.getheader("Location") or "", response.read().decode()
    finally:
        conn.close()


def kernel_ids(voila: psutil.Process) -> set[str]:
    ids = set()
    for child in voila.children(recursive=True):
        try:
            command = " ".join(child.cmdline())
        except psutil.Error:  # exited (or a zombie) between listing and reading: not running
            continue
        found = re.search(r"kernel-([0-9a-f-]{36})\.json", command)
        if found:
            ids.add(found.group(1))
    return ids


@pytest.fixture
def small_store(tmp_path: Path) -> Iterator[Path]:
    store = build_store(tmp_path / "small.duckdb", NOW, RUNS[:3])
    yield store.path
    store.close()


@pytest.mark.slow
def test_a_closed_pages_kernel_is_culled_and_the_warm_one_kept(
    small_store: Path, tmp_path: Path
) -> None:
    port = free_port()
    options = VoilaOptions(port=port, cull_idle_timeout=2, cull_interval=1, fill_delay=0.5)
    with running_voila(small_store, options, tmp_path / "voila.log") as voila:
        status, _, page = get(port, "/")  # a viewer that never connects its page
        assert status == 200
        served = json.loads(
            re.search(r'id="jupyter-config-data" type="application/json">\s*(\{.*?\})\s*</script>',
                      page, re.S).group(1)  # type: ignore[union-attr]
        )["kernelId"]  # fmt: skip
        assert served in kernel_ids(voila)
        deadline = time.monotonic() + 30
        while served in kernel_ids(voila) and time.monotonic() < deadline:
            time.sleep(0.5)
        remaining = kernel_ids(voila)
        assert served not in remaining, (tmp_path / "voila.log").read_text()
        # The refilled warm kernel waits, busy, for the next viewer: never culled.
        time.sleep(4)
        assert len(kernel_ids(voila)) == 1


@pytest.mark.slow
def test_sigterm_stops_voila_and_its_kernels(small_store: Path, tmp_path: Path) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "neonhub_nb", "dashboard", "--db", str(small_store),
            "--port", str(port)]  # fmt: skip
    with (tmp_path / "cli.log").open("wb") as out:
        cli_proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not listening(port):
            assert cli_proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        children = psutil.Process(cli_proc.pid).children(recursive=True)
        assert children  # Voila, and soon its warm kernel
        cli_proc.terminate()  # what a service manager sends
        assert cli_proc.wait(timeout=40) is not None
        _, alive = psutil.wait_procs(children, timeout=20)
        assert not alive, [p.cmdline() for p in alive]
    finally:
        if cli_proc.poll() is None:
            cli_proc.kill()
