"""A real Prometheus scrapes the real exporter while separate processes record runs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from neonhub_nb.store import AuditStore

from .test_metrics_exporter import (
    CLI,
    ROOT,
    free_port,
    require_tool,
    start_cli_exporter,
    stop_cli_exporter,
)

pytestmark = [pytest.mark.prometheus, pytest.mark.slow]

# Process A: two drafts, one failing agent, a rate-limited connector call, then it dies
# in the middle of a run without closing its store (as a killed kernel would).
WRITER_A = textwrap.dedent(
    """
    import os
    from datetime import datetime
    from neonhub_nb import ToolExecution, run_agent
    from neonhub_nb import DraftParams, default_store, register_agent
    from neonhub_nb.agents import AgentSpec

    class Unavailable:
        def run(self, params, ctx):
            raise RuntimeError("the model endpoint is unavailable")

    register_agent(AgentSpec(intent="test.unavailable", agent="flaky", params_model=DraftParams,
                             factory=Unavailable, description="always fails"))
    first = run_agent("content.generate_article", topic="Email", primary_keyword="news",
                      word_count=60)
    run_agent("content.generate_article", topic="SEO", primary_keyword="audit", word_count=60)
    run_agent("test.unavailable", topic="x", primary_keyword="y")
    store = default_store()
    store.record_tool_execution(ToolExecution(
        execution_id="tex_slack_1", run_id=first.run_id, seq=9, tool="connector.slack",
        operation="post_message", status="succeeded", started_at=datetime(2026, 1, 1),
        duration_ms=5.0, response={"rate_limited": 2}))
    store.record_run_started({"run_id": "run_never_finished", "agent": "content",
                              "intent": "content.generate_article", "mode": "mock",
                              "started_at": datetime(2026, 1, 1), "status": "running",
                              "input": {}})
    os._exit(0)
    """
)
EXPECTED = {"succeeded": 3, "failed": 1, "abandoned": 1}


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[[int], str]]:
    """Start Debian's Prometheus scraping 127.0.0.1:<port> every second; returns its URL."""
    binary = require_tool("prometheus")
    procs: list[subprocess.Popen[bytes]] = []

    def start(target_port: int) -> str:
        port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            textwrap.dedent(f"""\
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: neonhub
                static_configs:
                  - targets: ["127.0.0.1:{target_port}"]
            """)
        )
        with (tmp_path / "prometheus.log").open("wb") as log:
            procs.append(subprocess.Popen(
                [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                stdout=log, stderr=subprocess.STDOUT,
            ))  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        wait_for(
            lambda: httpx.get(f"{url}/-/ready", timeout=2).status_code == 200,
            60,
            f"Prometheus never became ready; see {tmp_path / 'prometheus.log'}",
        )
        return url

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for(check: Callable[[], Any], timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.25)
    raise AssertionError(f"{message} (last error: {last})")


def query(prom: str, promql: str) -> dict[str, float]:
    """Instant query; {label value or "": value} for vectors of one label or none."""
    body = httpx.get(f"{prom}/api/v1/query", params={"query": promql}, timeout=5).json()
    assert body["status"] == "success", body
    out: dict[str, float] = {}
    for item in body["data"]["result"]:
        key = ",".join(item["metric"].values())
        out[key] = float(item["value"][1])
    return out


def store_counts(db: Path) -> dict[str, int]:
    frame = AuditStore(db, read_only=True).sql(
        "SELECT status, count(*) AS n FROM agent_runs GROUP BY status"
    )
    return {str(row.status): int(row.n) for row in frame.itertuples()}


def test_prometheus_sees_exactly_the_store_counts_across_processes_and_restarts(
    tmp_path: Path, prometheus: Callable[[int], str]
) -> None:
    db = tmp_path / "store" / "neonhub.duckdb"
    exporter_port = free_port()
    exporter, _ = start_cli_exporter(db, "--port", str(exporter_port))
    try:
        prom = prometheus(exporter_port)
        env = {"NEONHUB_DB": str(db), "PATH": str(Path(sys.executable).parent)}
        writers = [
            subprocess.Popen([sys.executable, "-c", WRITER_A], env=env, cwd=ROOT),
            subprocess.Popen([CLI, "run", "content.generate_article", "-p", "topic=Bakeries",
                              "-p", "primary_keyword=bread", "-p", "word_count=60"],
                             env=env, cwd=ROOT, stdout=subprocess.DEVNULL),
        ]  # fmt: skip
        assert [w.wait(timeout=120) for w in writers] == [0, 0]

        def agrees() -> bool:
            counts = store_counts(db)
            per_status = query(prom, "sum by (status) (neonhub_agent_runs_total)")
            total = query(prom, "sum(neonhub_agent_runs_total)")
            return (
                counts == EXPECTED
                and per_status == {k: float(v) for k, v in counts.items()}
                and total == {"": float(sum(counts.values()))}
            )

        wait_for(agrees, 60, f"Prometheus never agreed with the store {store_counts(db)}")
        assert query(prom, "sum by (service) (neonhub_rate_limit_hits_total)") == {
            "slack": 2.0,
            "llm": 0.0,
        }
        assert query(prom, "sum(neonhub_circuit_breaker_failures_total)") == {}

        # Restart the exporter: HTTP counters restart, run counters carry on unchanged.
        scrapes = 'sum(neonhub_http_requests_total{route="/metrics"})'
        wait_for(lambda: query(prom, scrapes).get("", 0) >= 3, 30, "too few scrapes")
        assert stop_cli_exporter(exporter)[0] == 0
        exporter, _ = start_cli_exporter(db, "--port", str(exporter_port))
        wait_for(
            lambda: query(prom, 'sum(resets(neonhub_http_requests_total{route="/metrics"}[1m]))')
            .get("", 0) >= 1,
            60, "Prometheus never scraped the restarted exporter",
        )  # fmt: skip
        wait_for(agrees, 30, "counts changed across the exporter restart")
        assert query(prom, "sum(resets(neonhub_agent_runs_total[1m]))") == {"": 0.0}
    finally:
        stop_cli_exporter(exporter)
