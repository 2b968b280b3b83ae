"""The exporter over real HTTP: routes, health, ports, the CLI, the exposition format."""

from __future__ import annotations

import _thread
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import httpx
import pytest
from click.testing import CliRunner
from prometheus_client import generate_latest

from neonhub_nb.cli import cli
from neonhub_nb.clock import FakeClock
from neonhub_nb.metrics import Exporter, ExporterError, MetricsApp, start_exporter
from neonhub_nb.store import AuditStore

from .test_metrics import Recorder

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("neonhub-nb"))
GOLDEN = Path(__file__).with_name("golden") / "metrics.txt"
# Read at import: the autouse fixture clears the environment before each test.
IN_CI = os.environ.get("CI", "").lower() == "true"
UPDATE_GOLDEN = os.environ.get("NEONHUB_UPDATE_GOLDEN") == "1"


def require_tool(name: str) -> str:
    """Path of a Debian prometheus binary; in CI its absence fails the test."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} not found: apt-get install prometheus (Debian) provides it"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def exporter(store: AuditStore) -> Iterator[Exporter]:
    running = start_exporter(store, port=0)
    yield running
    running.stop()


def test_metrics_and_health_over_http(store: AuditStore, exporter: Exporter) -> None:
    Recorder(store).run()
    response = httpx.get(exporter.metrics_url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert (
        'neonhub_agent_runs_total{agent="content",intent="content.generate_article",'
        'mode="mock",status="succeeded"} 1.0' in response.text
    )
    for name in (
        "neonhub_agent_run_duration_seconds_bucket",
        "neonhub_store_up 1.0",
        "neonhub_queue_jobs_added_total 0.0",
        "# TYPE neonhub_rate_limit_hits_total",
        "# TYPE neonhub_connector_requests_total counter",
        "# TYPE neonhub_circuit_breaker_failures_total counter",
        "# TYPE neonhub_http_request_duration_seconds histogram",
        'neonhub_db_query_duration_seconds_count{query="runs"}',
    ):
        assert name in response.text

    health = httpx.get(exporter.health_url)
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok"
    assert body["store"]["reachable"] is True
    assert body["store"]["schema_version"] >= 4
    assert body["store"]["runs"] == 1
    assert body["store"]["last_run_at"].startswith("2026-01-01T12:00")

    index = httpx.get(exporter.url + "/")
    assert '<a href="/metrics">' in index.text


def test_other_routes_and_methods_get_bounded_labels(exporter: Exporter) -> None:
    assert httpx.get(exporter.url + "/metrics/../admin?x=1").status_code == 404
    for i in range(5):
        assert httpx.get(f"{exporter.url}/run_{i}").status_code == 404
    post = httpx.post(exporter.metrics_url)
    assert post.status_code == 405
    assert post.headers["allow"] == "GET, HEAD"
    assert httpx.request("BREW", exporter.health_url).status_code == 405
    head = httpx.head(exporter.metrics_url)
    assert head.status_code == 200
    assert head.content == b""
    registry = exporter.app.registry
    assert (
        registry.get_sample_value(
            "neonhub_http_requests_total", {"method": "GET", "route": "other", "status": "404"}
        )
        == 6
    )
    assert (
        registry.get_sample_value(
            "neonhub_http_requests_total", {"method": "other", "route": "/health", "status": "405"}
        )
        == 1
    )
    text = generate_latest(registry).decode()
    assert "run_1" not in text
    assert "admin" not in text


def test_store_queries_are_timed(store: AuditStore, exporter: Exporter) -> None:
    store.runs(limit=5)
    registry = exporter.app.registry
    assert (
        registry.get_sample_value("neonhub_db_query_duration_seconds_count", {"query": "runs"}) >= 1
    )
    exporter.stop()
    assert exporter.app.observe_query not in store.query_observers


def test_health_is_degraded_when_the_store_cannot_be_read(tmp_path: Path) -> None:
    missing = AuditStore(tmp_path / "nowhere.duckdb", read_only=True)
    with start_exporter(missing, port=0) as running:
        health = httpx.get(running.health_url)
        assert health.status_code == 503
        assert health.json()["status"] == "degraded"
        assert health.json()["store"]["reachable"] is False
        scrape = httpx.get(running.metrics_url)
        assert scrape.status_code == 200
        assert "neonhub_store_up 0.0" in scrape.text
        assert "neonhub_agent_runs_total" not in scrape.text


def test_a_taken_port_is_an_error_unless_asked_to_find_a_free_one(
    store: AuditStore, exporter: Exporter
) -> None:
    with pytest.raises(ExporterError, match=rf"port {exporter.port} on 127.0.0.1 is already in"):
        start_exporter(store, port=exporter.port)
    with start_exporter(store, port=exporter.port, find_free_port=True) as second:
        assert second.port != exporter.port
        assert f"listening on http://127.0.0.1:{second.port}/metrics" in repr(second)
        assert f"http://127.0.0.1:{second.port}/health" in second._repr_html_()
        assert httpx.get(second.health_url).json()["status"] == "ok"
    assert "stopped" in repr(second)
    # Stopping releases the port for the next exporter.
    port = exporter.port
    exporter.stop()
    with start_exporter(store, port=port) as again:
        assert again.port == port


def test_start_exporter_defaults_to_this_process_store(tmp_path: Path) -> None:
    with start_exporter(port=0) as running:
        assert running.store.path == (tmp_path / "store" / "neonhub.duckdb").absolute()
        assert httpx.get(running.health_url).json()["store"]["runs"] == 0


def call_app(app: MetricsApp, method: str, path: str) -> tuple[str, bytes]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "wsgi.input": io.BytesIO(),
    }
    setup_testing_defaults(environ)
    answer: list[str] = []
    body = b"".join(app(environ, lambda status, headers: answer.append(status)))
    return answer[0], body


def test_golden_exposition(store: AuditStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole /metrics text, with time frozen, for a store with known rows."""
    import prometheus_client.metrics

    frozen = types.SimpleNamespace(time=lambda: 1767225600.0)
    monkeypatch.setattr(prometheus_client.metrics, "time", frozen)
    rec = Recorder(store)
    first = rec.run(duration_ms=180.0, usage=(120, 480, 0.000306))
    rec.run(status="failed", duration_ms=2400.0, breaker_failures=2)
    rec.run("seo", "seo.audit_page", duration_ms=31_000.0, experiment_id="exp_1")
    rec.start("email", "email.compose_campaign", experiment_id="exp_1")
    rec.tool(first, "connector.slack", "post_message", response={"rate_limited": True})
    rec.tool(first, "connector.slack", "post_message", "failed")
    rec.tool(first, "llm", "chat.completions", response={"rate_limited": 0}, duration_ms=1800.0)
    app = MetricsApp(store, clock=FakeClock())
    assert call_app(app, "GET", "/health")[0] == "200 OK"
    assert call_app(app, "GET", "/favicon.ico")[0] == "404 Not Found"

    text = generate_latest(app.registry).decode()
    if UPDATE_GOLDEN:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()
    app.close()


@pytest.mark.prometheus
def test_promtool_accepts_the_exposition(store: AuditStore, exporter: Exporter) -> None:
    promtool = require_tool("promtool")
    rec = Recorder(store)
    for status in ("succeeded", "failed", "abandoned"):
        run_id = rec.run(status=status, breaker_failures=1, experiment_id="e")
        rec.tool(run_id, "connector.x", "post", response={"rate_limited": 1})
    rec.start()
    httpx.get(exporter.health_url)
    text = httpx.get(exporter.metrics_url).text
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout + checked.stderr == ""


def test_cli_help_documents_the_command() -> None:
    result = CliRunner().invoke(cli, ["metrics", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--find-free-port", "--read-only", "127.0.0.1", "9464"):
        assert option in result.output


def test_cli_command_in_process_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()

    def interrupt_when_serving() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    time.sleep(0.2)  # let it print where it listens
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        _thread.interrupt_main()  # what Ctrl-C does

    watcher = threading.Thread(target=interrupt_when_serving)
    watcher.start()
    result = CliRunner().invoke(cli, ["metrics", "--port", str(port), "--find-free-port"])
    watcher.join()
    assert result.exit_code == 0, result.output
    assert f"serving http://127.0.0.1:{port}/metrics and http://127.0.0.1:{port}/health" in (
        result.output
    )
    assert "(read-write); Ctrl-C to stop" in result.output
    assert result.output.rstrip().endswith("stopping")


def test_cli_command_refuses_a_taken_port(exporter: Exporter) -> None:
    result = CliRunner().invoke(cli, ["metrics", "--port", str(exporter.port), "--read-only"])
    assert result.exit_code == 2
    assert f"error: port {exporter.port} on 127.0.0.1 is already in use" in result.output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_cli_exporter(db: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    """``neonhub-nb metrics`` in its own process; returns it and the URL it printed."""
    env = {**os.environ, "NEONHUB_DB": str(db), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [CLI, "metrics", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("serving "):
        proc.kill()
        raise AssertionError(f"exporter did not start: {line}{proc.communicate()[1]}")
    return proc, line.split()[1].rsplit("/", 1)[0]


def stop_cli_exporter(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    """SIGTERM, as a service manager stops it; returns (exit code, stdout, stderr)."""
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out, err


def test_cli_serves_until_sigterm_and_refuses_a_taken_port(tmp_path: Path) -> None:
    db = tmp_path / "cli.duckdb"
    proc, url = start_cli_exporter(db, "--port", str(free_port()))
    try:
        assert httpx.get(url + "/health", timeout=10).json()["status"] == "ok"
        port = url.rsplit(":", 1)[1]
        taken = subprocess.run(
            [CLI, "metrics", "--port", port],
            capture_output=True, text=True, timeout=60, cwd=ROOT,
            env={**os.environ, "NEONHUB_DB": str(db)},
        )  # fmt: skip
        assert taken.returncode == 2
        assert f"error: port {port} on 127.0.0.1 is already in use" in taken.stderr
        assert "--find-free-port" in taken.stderr
    finally:
        code, out, err = stop_cli_exporter(proc)
    assert code == 0, err
    assert "stopping" in out
