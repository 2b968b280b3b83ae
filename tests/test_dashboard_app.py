"""The dashboard's widgets without a browser: set values, click, read the HTML they hold."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import ipywidgets as w
import papermill as pm
import pytest

from neonhub_nb.clock import FakeClock
from neonhub_nb.dashboard import AuditDashboard, charts, views
from neonhub_nb.dashboard import queries as q
from neonhub_nb.store import AuditStore

from .test_dashboard_queries import EXPECTED, NOW, RUNS, SECRET, build_store

ROOT = Path(__file__).resolve().parents[1]
TILE = re.compile(r"data-kpi='(\w+)'>.*?<div class='nh-kpi-value'>(.*?)</div>")


@pytest.fixture(scope="module")
def known_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    store = build_store(tmp_path_factory.mktemp("dash-app") / "known.duckdb", NOW)
    yield store.path
    store.close()


@pytest.fixture
def dashboard(known_store: Path) -> AuditDashboard:
    return AuditDashboard(AuditStore(known_store, read_only=True), clock=FakeClock(NOW))


def tiles(dashboard: AuditDashboard) -> dict[str, str]:
    return dict(TILE.findall(dashboard.kpis.value))


def test_tiles_show_the_stores_numbers(dashboard: AuditDashboard) -> None:
    assert "data-state='loading'" in dashboard.kpis.value
    dashboard.refresh()
    assert "data-state='ready'" in dashboard.kpis.value
    assert tiles(dashboard) == {
        "runs": "8",
        "success_rate": "57.1%",
        "p50": "3.50 s",
        "p95": "5.75 s",
        "tokens": "2,860",
        "cost": "$0.0144",
        "drafts_approved": "1",
        "drafts_pending": "2",
        "drafts_rejected": "1",
    }
    assert tiles(dashboard) == views.kpi_values(EXPECTED["30d"])


def test_charts_and_tables_are_drawn(dashboard: AuditDashboard) -> None:
    assert dashboard.panels.value.count("data-state='loading'") == 3
    dashboard.refresh()
    panels = dashboard.panels.value
    assert re.findall(r"data-chart='([\w-]+)' data-state='ready'", panels) == [
        "runs-trend", "failures", "connectors"]  # fmt: skip
    assert "https://" not in panels.replace("http://www.w3.org/2000/svg", "")
    assert "LLMError: timeout" in panels
    assert "closed → <span" in panels  # the breaker transition
    assert "data-pending-total='2'" in dashboard.drafts.value
    assert "Title run_b2" in dashboard.drafts.value


def test_period_and_dates_change_every_number(dashboard: AuditDashboard) -> None:
    dashboard.refresh()
    dashboard.period.value = "7d"
    assert tiles(dashboard) == views.kpi_values(EXPECTED["7d"])
    dashboard.period.value = "all"
    assert tiles(dashboard)["runs"] == "9"
    dashboard.date_from.value = date(2026, 3, 7)
    dashboard.date_to.value = date(2026, 3, 8)
    assert dashboard.period.value == "custom"
    assert tiles(dashboard)["runs"] == "2"
    assert "2026-03-07 to 2026-03-08" in dashboard.status.value


def test_filters_offer_only_the_stores_values_and_narrow_the_runs(
    dashboard: AuditDashboard,
) -> None:
    dashboard.refresh()
    assert dashboard.agent.options == ("(any)", "content", "email", "seo")
    assert dashboard.mode.options == ("(any)", "live", "mock")
    assert len(dashboard.runs.options) == 8
    dashboard.agent.value = "seo"
    assert [value for _, value in dashboard.runs.options] == ["run_x3", "run_m5", "run_d8"]
    assert "data-runs-matching='3'" in dashboard.runs_summary.value
    dashboard.run_status.value = "failed"
    assert [value for _, value in dashboard.runs.options] == ["run_x3", "run_d8"]
    # The tiles keep describing the whole period: filters are the runs table's.
    assert tiles(dashboard)["runs"] == "8"


def test_choosing_a_run_shows_its_input_output_tools_and_metrics(
    dashboard: AuditDashboard,
) -> None:
    dashboard.refresh()
    label = next(label for label, value in dashboard.runs.options if value == "run_k1")
    assert "content.generate_article" in label and "succeeded" in label
    dashboard.runs.value = "run_k1"
    detail = dashboard.detail.value
    assert "data-run-id='run_k1'" in detail
    assert detail.count("<tr data-tool='connector.slack'>") == 2
    assert "Tool executions (3)" in detail
    assert "total_tokens" in detail and "topic of run_k1" in detail
    assert "Title run_k1" in detail and "approved" in detail
    # Secrets were redacted when the run was recorded; the page only shows the store.
    assert SECRET not in detail and "[REDACTED]" in detail


def test_refresh_picks_up_runs_recorded_since(tmp_path: Path) -> None:
    writer = build_store(tmp_path / "live.duckdb", NOW, RUNS[:2])
    try:
        dashboard = AuditDashboard.for_path(writer.path, clock=FakeClock(NOW))
        dashboard.refresh()
        assert tiles(dashboard)["runs"] == "2"
        from .test_dashboard_queries import write_runs

        write_runs(writer, RUNS[2:4], NOW)
        writer.flush()
        dashboard.refresh_button.click()
        assert tiles(dashboard)["runs"] == "4"
        assert dashboard.refreshes == 2
    finally:
        writer.close()


def test_the_dashboard_never_writes(known_store: Path) -> None:
    before = hashlib.sha256(known_store.read_bytes()).hexdigest()
    spool = known_store.with_name(known_store.name + ".spool")
    spooled = sorted(spool.glob("*")) if spool.exists() else []
    dashboard = AuditDashboard(AuditStore(known_store, read_only=True), clock=FakeClock(NOW))
    dashboard.refresh()
    dashboard.show_run("run_k1")
    dashboard.period.value = "all"
    assert hashlib.sha256(known_store.read_bytes()).hexdigest() == before
    assert (sorted(spool.glob("*")) if spool.exists() else []) == spooled
    assert not known_store.with_name(known_store.name + ".wal").exists()


def test_it_refuses_a_store_that_could_write(known_store: Path) -> None:
    with pytest.raises(ValueError, match=r"only reads: pass AuditStore\(path, read_only=True\)"):
        AuditDashboard(AuditStore(known_store, background=False))


def all_widgets(widget: Any) -> Iterator[Any]:
    yield widget
    for child in getattr(widget, "children", ()):
        yield from all_widgets(child)


def test_no_control_takes_free_text(dashboard: AuditDashboard) -> None:
    kinds = {type(x) for x in all_widgets(dashboard.widget)}
    assert not kinds & {w.Text, w.Textarea, w.Combobox, w.Password, w.TagsInput}
    controls = {type(x) for x in all_widgets(dashboard.widget) if isinstance(x, w.ValueWidget)}
    assert controls <= {w.Dropdown, w.DatePicker, w.Select, w.HTML, w.Play}


def test_a_missing_store_is_said_and_recovers(tmp_path: Path) -> None:
    path = tmp_path / "later.duckdb"
    dashboard = AuditDashboard.for_path(path, clock=FakeClock(NOW))
    assert dashboard.refresh() is None
    assert "Could not read the audit store: no audit store at" in dashboard.status.value
    assert "nh-error" in dashboard.status.value
    writer = build_store(path, NOW, RUNS[:1])
    try:
        assert dashboard.refresh() is not None
        assert dashboard.error is None and tiles(dashboard)["runs"] == "1"
    finally:
        writer.close()


def test_start_reads_in_the_background(dashboard: AuditDashboard) -> None:
    dashboard.start()
    dashboard.wait(timeout=30)
    assert dashboard.refreshes == 1 and tiles(dashboard)["runs"] == "8"


def test_auto_refresh_ticks_in_the_browser_and_refreshes_here(
    dashboard: AuditDashboard,
) -> None:
    dashboard.auto_refresh.value = 30
    assert dashboard._ticker.playing and dashboard._ticker.interval == 30_000
    dashboard._ticker.value += 1  # what the page's timer does
    assert dashboard.refreshes == 1
    dashboard.auto_refresh.value = 0
    assert not dashboard._ticker.playing


def test_a_drawn_widget_gets_its_state_again(
    dashboard: AuditDashboard, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[Any, ...]] = []
    monkeypatch.setattr(dashboard.kpis, "send_state", lambda *a, **k: sent.append((a, k)))
    dashboard.kpis._view_count = 1  # as the page reports a drawn view
    assert ((), {}) in sent  # the whole state, not just the changed key


def test_charts_escape_names_and_mark_partial_buckets() -> None:
    trend = q.Trend(
        "day",
        (datetime(2026, 3, 1), datetime(2026, 3, 2), datetime(2026, 3, 3)),
        {"<b>x</b>": (1, 2, 3)},
        {"<b>x</b>": (0, 1, 0)},
        (0, 1, 0),
        first_partial=False,
        last_partial=True,
    )
    colours = charts.agent_colours(["<b>x</b>"])
    svg = charts.runs_trend_chart(trend, colours)
    assert "<b>x</b>" not in svg and "&lt;b&gt;x&lt;/b&gt;" in svg
    assert svg.count("stroke-dasharray") == 1
    assert "data-breaker-opens='1'" in charts.failures_chart(trend, colours)
    calls = [q.ConnectorCalls(f"s{i}", 10, 1, 1) for i in range(17)]
    assert charts.connector_chart(calls).count("rate-limited: 1") == 17


def test_nice_ticks_and_formats() -> None:
    assert charts.nice_ticks(0) == [0.0, 1.0]
    assert charts.nice_ticks(1) == [0, 1]  # counts: never a fractional step
    assert charts.nice_ticks(1.15) == [0, 1, 2]
    assert charts.nice_ticks(9) == [0, 5, 10]
    assert charts.nice_ticks(15_000) == [0, 5000, 10_000, 15_000]
    assert charts.nice_ticks(90) == [0, 25, 50, 75, 100]
    assert views.format_duration(950) == "950 ms"
    assert views.format_duration(6695.3) == "6.70 s"
    assert views.format_duration(300_000) == "5.0 min"
    assert views.format_cost(634.5) == "$634.50" and views.format_cost(0.00012) == "$0.0001"
    assert views.format_compact(1_350_357_912) == "1.35 B"
    assert views.format_rate(None) == "–"


def test_the_notebook_runs_headless_against_a_store(known_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "dashboard.ipynb"
    pm.execute_notebook(
        str(ROOT / "dashboards" / "audit_dashboard.ipynb"),
        str(out),
        kernel_name="python3",
        progress_bar=False,
        parameters={"db_path": str(known_store)},
    )
    cells = json.loads(out.read_text())["cells"]
    outputs = [o for c in cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
