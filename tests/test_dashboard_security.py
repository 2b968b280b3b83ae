"""A dashboard safe to share, proven against a real Voila server with plain HTTP and
websocket clients (no browser): kernels that hold no credentials, every route behind the
token, and no traceback for a client that sends what no page would.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest
import websocket

from neonhub_nb.dashboard.server import (
    KERNEL_ENV,
    NOTEBOOK,
    VoilaOptions,
    voila_command,
    voila_environment,
)

from .browser import free_port, wait_port
from .test_dashboard_aggregates import NOW, RUNS, build_store

pytestmark = pytest.mark.slow

TOKEN = "dash-token-5b1f0c6e9a7d4e21b3c8"
# Fake credentials of the formats people hold, in the shell the server starts from.
SECRETS = {
    "OPENAI_API_KEY": "sk-proj-Zq8v1Lm3Nx5Rb7Tc9Wd2Ye4Uf6Ig8Jh0",
    "SLACK_BOT_TOKEN": "xoxb-2048-4096-AbCdEfGhIjKlMnOpQrStUvWx",
    "GITHUB_TOKEN": "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "SESSION_JWT": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkYXNoIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ",
    "STRIPE_SECRET_KEY": "sk_test_51Hq0000000000000000000000000000",
}


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    store = build_store(tmp_path_factory.mktemp("dash-sec") / "small.duckdb", NOW, RUNS[:3])
    yield store.path
    store.close()


@contextmanager
def served(db: Path, log: Path, *, token: str | None, env: dict[str, str]) -> Iterator[Any]:
    """``python -m neonhub_nb.voila_app`` started from ``env`` (as-is: no filtering by
    the CLI, so the launcher's own protections are what is tested)."""
    port = free_port()
    options = VoilaOptions(port=port, token=token is not None, pool_size=1, fill_delay=0.5)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            voila_command(NOTEBOOK, options), env=env, cwd=NOTEBOOK.parent, stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_port(port, 60, proc)
            yield port, psutil.Process(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def request(
    port: int, path: str, *, method: str = "GET", cookie: str = ""
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(method, path, headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def kernel_id_of(page: bytes) -> str:
    found = re.search(
        rb'id="jupyter-config-data" type="application/json">\s*(\{.*?\})\s*</script>', page, re.S
    )
    assert found is not None
    kernel_id: str = json.loads(found.group(1))["kernelId"]
    return kernel_id


def kernels(server: psutil.Process) -> list[psutil.Process]:
    found = []
    for child in server.children(recursive=True):
        try:
            if "ipykernel" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


@pytest.fixture(scope="module")
def token_server(
    small_store: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[int, psutil.Process, str, str]]:
    """A token-mode server whose shell held credentials; the page opened once with the
    token (a preheated kernel) and once more (a kernel started for the request)."""
    env = {**voila_environment(small_store, os.environ, TOKEN), **SECRETS}
    # pytest-cov's variables, so the launcher's own code is measured (test-side only).
    env |= {k: v for k, v in os.environ.items() if k.startswith("COVERAGE_PROCESS")}
    log = tmp_path_factory.mktemp("voila-sec") / "voila.log"
    with served(small_store, log, token=TOKEN, env=env) as (port, server):
        deadline = time.monotonic() + 60
        while not kernels(server) and time.monotonic() < deadline:  # the warm kernel
            time.sleep(0.3)
        status, headers, page = request(port, f"/?token={TOKEN}")
        assert status == 200, log.read_text()
        cookie = headers["Set-Cookie"].split(";")[0]
        status, _, _ = request(port, f"/?token={TOKEN}")  # the pool is empty: a cold kernel
        assert status == 200
        yield port, server, kernel_id_of(page), cookie


def test_kernels_start_with_only_the_allow_listed_environment(
    token_server: tuple[int, psutil.Process, str, str],
) -> None:
    _, server, _, _ = token_server
    found = kernels(server)
    assert len(found) >= 2  # the preheated one handed out, the cold one, a refill
    for kernel in found:
        environ = kernel.environ()
        extra = {k for k in environ if k not in KERNEL_ENV and not k.startswith("LC_")}
        assert not extra, extra
        seen = json.dumps(environ) + " ".join(kernel.cmdline())
        for secret in (*SECRETS.values(), TOKEN):
            assert secret not in seen
        assert "QUERY_STRING" not in environ and "VOILA_REQUEST_URL" not in environ


def test_every_route_needs_the_token_or_its_cookie(
    token_server: tuple[int, psutil.Process, str, str],
) -> None:
    port, _, kernel_id, cookie = token_server
    _, _, page = request(port, f"/?token={TOKEN}")
    assets = sorted(set(re.findall(rb'(?:src|href)="(/voila/[^"?#]+)', page)))
    assert len(assets) >= 3  # the page's scripts and stylesheets
    routes = [a.decode() for a in assets] + [
        f"/api/kernels/{kernel_id}",
        "/voila/labextensions/@jupyter-widgets/jupyterlab-manager/package.json",
        "/voila/api/themes/@jupyterlab/theme-light-extension/index.css",
        "/voila/files/audit_dashboard.ipynb",
        f"/voila/query/{kernel_id}",
    ]
    for route in routes:
        status, headers, body = request(port, route)
        assert status in (302, 403), (route, status)
        if status == 302:
            assert headers["Location"].startswith("/login"), route
        assert b"<script" not in body and len(body) < 200, route
    for asset in assets:  # the same files, with the login cookie
        assert request(port, asset.decode(), cookie=cookie)[0] == 200, asset
    status, _, _ = request(port, f"/voila/api/shutdown/{kernel_id}", method="POST")
    assert status == 403
    assert request(port, "/", cookie=cookie)[0] == 200  # the cookie opens the page too


def upgrade(port: int, path: str) -> int:
    """The status a websocket handshake for ``path`` gets (101: the socket opened)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers={
            "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Origin": f"http://127.0.0.1:{port}",
        })  # fmt: skip
        return conn.getresponse().status
    finally:
        conn.close()


def test_websockets_need_the_token_and_the_query_socket_is_gone(
    token_server: tuple[int, psutil.Process, str, str],
) -> None:
    port, _, kernel_id, cookie = token_server
    channels = f"/api/kernels/{kernel_id}/channels"
    assert upgrade(port, channels) == 403
    assert upgrade(port, f"{channels}?token=wrong-{TOKEN}") == 403
    assert upgrade(port, f"{channels}?token={TOKEN}") == 101
    for query in (f"/voila/query/{kernel_id}", f"/voila/query/{kernel_id}?token={TOKEN}"):
        assert upgrade(port, query) != 101  # no such socket, token or not
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}{channels}", cookie=cookie)
    ws.close()


def message(msg_type: str, content: dict[str, Any], channel: str = "shell", **metadata: str) -> str:
    header = {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": "x",
              "session": "hostile", "date": "2026-01-01T00:00:00Z", "version": "5.3"}  # fmt: skip
    return json.dumps({"header": header, "parent_header": {}, "metadata": metadata,
                       "content": content, "channel": channel, "buffers": []})  # fmt: skip


def receive_all(ws: Any, seconds: float) -> list[dict[str, Any]]:
    """Every message the kernel sends within ``seconds``."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ws.settimeout(max(deadline - time.monotonic(), 0.05))
        try:
            frame = ws.recv()
        except websocket.WebSocketTimeoutException:
            break
        got.append(json.loads(frame))
    return got


def test_a_client_sending_what_no_page_would_gets_one_line_never_a_traceback(
    token_server: tuple[int, psutil.Process, str, str],
) -> None:
    port, _, kernel_id, cookie = token_server
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{port}/api/kernels/{kernel_id}/channels", cookie=cookie, timeout=30
    )
    try:
        for version in ("0.0.1", "1.0.0"):  # a protocol the kernel does not speak, then its own
            control = uuid.uuid4().hex
            opening = {"comm_id": control, "target_name": "jupyter.widget.control", "data": {}}
            ws.send(message("comm_open", opening, version=version))
        ws.send(message("comm_open", {"comm_id": "x", "target_name": "no.such.target"}))
        ws.send(message("comm_msg", {"comm_id": control, "data": {"method": "request_states"}}))
        replies = receive_all(ws, 15)
        states = next(
            m["content"]["data"]["states"]
            for m in replies
            if m.get("msg_type") == "comm_msg"
            and m["content"]["data"].get("method") == "update_states"
        )

        def model(name: str, description: str) -> str:
            return next(
                mid
                for mid, s in states.items()
                if s["model_name"] == name and s["state"].get("description") == description
            )

        date_from = model("DatePickerModel", "From")
        agent = model("DropdownModel", "Agent")
        hostile = [
            (date_from, {"value": {"year": 275760, "month": 8, "date": 13}}),
            (date_from, {"value": {"year": "x", "month": None, "date": [1]}}),
            (date_from, {"value": {"year": 9999, "month": 11, "date": 31}}),
            (agent, {"index": 10**9}),
            (agent, {"_options_labels": ["<script>alert(1)</script>"], "index": 0}),
            (agent, {"description": "pwned"}),
        ]
        for comm_id, state in hostile:
            ws.send(message("comm_msg", {"comm_id": comm_id,
                                         "data": {"method": "update", "state": state,
                                                  "buffer_paths": []}}))  # fmt: skip
        ws.send(message("comm_msg", {"comm_id": uuid.uuid4().hex, "data": {"method": "x"}}))
        ws.send(message("execute_request", {"code": "import os; os.environ", "silent": False}))
        got = replies + receive_all(ws, 10)
    finally:
        ws.close()
    text = json.dumps(got)
    assert "Traceback" not in text and "site-packages" not in text and 'File \\"' not in text
    kinds = {m.get("msg_type") for m in got}
    assert not kinds & {"error", "stream", "execute_reply", "execute_result"}, kinds
    shown = [
        m["content"]["data"]["state"]["value"]
        for m in got
        if m.get("msg_type") == "comm_msg"
        and "data-message" in str(m["content"]["data"].get("state", {}).get("value", ""))
    ]
    assert any("From: that value cannot be used" in s for s in shown), shown
    assert any("From: 9999-12-31 is after" in s for s in shown), shown
    assert any("Agent: that value cannot be used" in s for s in shown), shown
