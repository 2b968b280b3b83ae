"""The Grafana dashboard only queries metrics the exporter serves, in valid PromQL."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from neonhub_nb.metrics import MetricsApp
from neonhub_nb.store import AuditStore

from .test_metrics import Recorder
from .test_metrics_exporter import ROOT, call_app, require_tool

DASHBOARD = ROOT / "dashboards" / "grafana-neonhub.json"
# Grafana's variables, as Grafana would substitute them for a 24 h view of every agent.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__range": "24h", "$agent": ".*", "$intent": ".*"}


def expressions() -> list[tuple[str, str]]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"]
            for target in panel["targets"]]  # fmt: skip


def test_the_dashboard_has_the_operator_panels() -> None:
    titles = {title for title, _ in expressions()}
    assert {
        "Runs by status",
        "Success rate",
        "Run duration p50 / p95",
        "Connector requests",
        "Rate-limit hits by service",
        "Circuit breaker failures",
    } <= titles
    quantiles = " ".join(expr for title, expr in expressions() if title == "Run duration p50 / p95")
    assert "histogram_quantile(0.5," in quantiles
    assert "histogram_quantile(0.95," in quantiles


def test_every_queried_metric_is_served(store: AuditStore) -> None:
    rec = Recorder(store)
    rec.tool(rec.run(breaker_failures=1, experiment_id="e"), "connector.x", "post")
    rec.tool(rec.run(usage=(120, 480, 0.0003)), "llm", "chat.completions", duration_ms=900.0)
    rec.start()
    app = MetricsApp(store)
    call_app(app, "GET", "/metrics")  # one scrape, so the HTTP and query series exist too
    registry = app.registry
    served = {sample.name for family in registry.collect() for sample in family.samples}
    served |= {family.name for family in registry.collect()}
    for title, expr in expressions():
        for name in re.findall(r"neonhub_[a-z_]+", expr):
            assert name in served, f"{title}: {name} is not exported"


@pytest.mark.prometheus
def test_promtool_parses_every_dashboard_query(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    rules = []
    for index, (_, expr) in enumerate(expressions()):
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        rules.append({"record": f"dashboard:query_{index}", "expr": expr})
    path = tmp_path / "rules.yml"
    # JSON is YAML: no YAML library needed to write a rules file.
    path.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}))
    checked = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules)} rules found" in checked.stdout
