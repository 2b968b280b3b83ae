"""The dashboard's widgets without a browser: set values, click, read the HTML they hold.

A page's updates are played as ipywidgets receives them (``set_state`` with the JSON the
page sends), hostile ones included; the browser tests repeat the important ones in a
real page.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import signal
import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import ipywidgets as w
import papermill as pm
import pytest

from neonhub_nb.clock import FakeClock
from neonhub_nb.dashboard import AuditDashboard, charts, views
from neonhub_nb.dashboard import aggregates as q
from neonhub_nb.dashboard.run_view import format_metric
from neonhub_nb.dashboard.server import PAGE_SIGNAL
from neonhub_nb.formats import format_cost
from neonhub_nb.store import AuditStore

from .test_dashboard_aggregates import (
    EXPECTED,
    EXPECTED_LIVE_30D,
    NOW,
    RUNS,
    SECRET,
    build_store,
    write_runs,
)

ROOT = Path(__file__).resolve().parents[1]
TILE = re.compile(r"data-kpi='(\w+)'[^>]*>.*?<div class='nh-kpi-value'>(.*?)</div>")


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


def page_text(dashboard: AuditDashboard) -> str:
    """Every HTML the page shows, joined (what a viewer could read)."""
    parts = [x.value for x in all_widgets(dashboard.widget) if isinstance(x, w.HTML)]
    return "\n".join(parts)


def all_widgets(widget: Any) -> Iterator[Any]:
    yield widget
    for child in getattr(widget, "children", ()):
        yield from all_widgets(child)


def test_tiles_count_live_runs_by_default_and_say_what_is_left_out(
    dashboard: AuditDashboard,
) -> None:
    assert "data-state='loading'" in dashboard.kpis.value
    dashboard.refresh()
    assert "data-state='ready'" in dashboard.kpis.value
    assert tiles(dashboard) == {
        "runs": "3",
        "success_rate": "66.7%",
        "p50": "3.00 s",
        "p95": "4.80 s",
        "tokens": "2,450",
        "cost": "$0.0125",
        "drafts_approved": "0",
        "drafts_pending": "2",
        "drafts_rejected": "0",
    }
    assert tiles(dashboard) == views.kpi_values(EXPECTED_LIVE_30D)
    scope = dashboard.scope.value
    assert "live runs" in scope and "Last 30 days (since 2026-02-08 12:00 UTC)" in scope
    assert "Not counted: 4 mock, 1 replay run(s)" in scope
    assert dashboard.kpis.value.count("last 30 days") >= 9  # each tile names its period


def test_the_mode_switch_includes_mock_and_replay_runs(dashboard: AuditDashboard) -> None:
    dashboard.refresh()
    assert dashboard.mode._options_labels == ("Live", "Mock", "Replay", "All modes")
    dashboard.mode.value = "(all)"
    assert tiles(dashboard) == views.kpi_values(EXPECTED["30d"])
    assert "runs of every mode" in dashboard.scope.value
    assert "Not counted" not in dashboard.scope.value
    dashboard.mode.value = "mock"
    assert tiles(dashboard)["runs"] == "4"


def test_filters_change_every_tile_chart_and_table(dashboard: AuditDashboard) -> None:
    dashboard.mode.value = "(all)"
    before = (dashboard.kpis.value, dashboard.panels.value, dashboard.costs.value,
              dashboard.drafts_heading.value, dashboard.runs_summary.value)  # fmt: skip
    dashboard.agent.value = "seo"
    after = (dashboard.kpis.value, dashboard.panels.value, dashboard.costs.value,
             dashboard.drafts_heading.value, dashboard.runs_summary.value)  # fmt: skip
    assert all(a != b for a, b in zip(before, after, strict=True))
    assert tiles(dashboard)["runs"] == "3" and tiles(dashboard)["cost"] == "$0.0013"
    assert [value for _, value in dashboard.runs.options] == ["run_x3", "run_m5", "run_d8"]
    panels = dashboard.panels.value
    assert ">gsc<" in panels and ">slack<" not in panels and ">email<" not in panels
    assert "data-pending-total='0'" in dashboard.drafts_heading.value
    assert "2 more draft(s) await review" in dashboard.drafts_heading.value
    dashboard.run_status.value = "failed"
    assert tiles(dashboard)["runs"] == "2"
    assert [value for _, value in dashboard.runs.options] == ["run_x3", "run_d8"]


def test_the_intent_filter_offers_the_chosen_agents_intents_only(
    dashboard: AuditDashboard,
) -> None:
    dashboard.mode.value = "(all)"
    assert len(dashboard.intent.options) == 6  # (any) and all five
    dashboard.intent.value = "email.compose_campaign"
    dashboard.agent.value = "seo"  # the email intent is not seo's: it goes
    assert dashboard.intent.options[1:] == ("seo.audit_page", "seo.keyword_research")
    assert dashboard.intent.value == "(any)"
    assert dashboard.data is not None and dashboard.data.scope.filters.intent is None
    assert tiles(dashboard)["runs"] == "3"  # what agent seo alone counts
    dashboard.intent.value = "seo.audit_page"
    assert dashboard.data.scope.filters.intent == "seo.audit_page"


def test_period_and_dates_change_every_number_and_presets_clear_the_dates(
    dashboard: AuditDashboard,
) -> None:
    dashboard.mode.value = "(all)"
    dashboard.period.value = "7d"
    assert tiles(dashboard) == views.kpi_values(EXPECTED["7d"])
    dashboard.period.value = "all"
    assert tiles(dashboard)["runs"] == "9"
    dashboard.date_from.value = date(2026, 3, 7)
    dashboard.date_to.value = date(2026, 3, 8)
    assert dashboard.period.value == "custom"
    assert tiles(dashboard)["runs"] == "2"
    assert "2026-03-07 to 2026-03-08" in dashboard.scope.value
    dashboard.period.value = "30d"  # back to a preset: the picked dates go
    assert (dashboard.date_from.value, dashboard.date_to.value) == (None, None)
    assert tiles(dashboard) == views.kpi_values(EXPECTED["30d"])
    dashboard.period.value = "custom"  # starts from the range just shown
    assert (dashboard.date_from.value, dashboard.date_to.value) == (date(2026, 2, 8), NOW.date())
    assert tiles(dashboard)["runs"] == "8"


def test_a_reversed_range_moves_the_other_end_and_says_so(dashboard: AuditDashboard) -> None:
    dashboard.mode.value = "(all)"
    dashboard.date_from.value = date(2026, 3, 7)
    dashboard.date_to.value = date(2026, 3, 8)
    dashboard.date_from.value = date(2026, 3, 9)  # after To
    assert dashboard.date_to.value == date(2026, 3, 9)
    assert "To moved to 2026-03-09: it was before From." in dashboard.message.value
    assert "2026-03-09 to 2026-03-09" in dashboard.scope.value
    dashboard.date_to.value = date(2026, 3, 7)  # before From
    assert dashboard.date_from.value == date(2026, 3, 7)
    assert "From moved to 2026-03-07: it was after To." in dashboard.message.value
    assert "2026-03-07 to 2026-03-07" in dashboard.scope.value
    assert "nh-error" not in dashboard.message.value


@pytest.mark.parametrize("hostile", [date(9999, 12, 31), date(1, 1, 1), date(2026, 3, 12)])
def test_dates_out_of_bounds_are_refused_in_one_line(
    dashboard: AuditDashboard, hostile: date
) -> None:
    dashboard.refresh()
    shown = dashboard.kpis.value
    dashboard.date_from.value = hostile  # as the page sets it: no exception escapes
    message = dashboard.message.value
    assert "nh-error" in message and "the dates were not changed" in message
    assert hostile.isoformat() in message and "Traceback" not in message
    assert dashboard.date_from.value is None and dashboard.period.value == "30d"
    assert dashboard.kpis.value == shown


@pytest.mark.parametrize(
    ("control", "state"),
    [
        ("date_from", {"value": {"year": 275760, "month": 8, "date": 13}}),
        ("date_to", {"value": {"year": "x", "month": -1, "date": 1e9}}),
        ("date_to", {"value": "2026-02-30"}),
        ("agent", {"index": 999}),
        ("period", {"index": -3}),
        ("mode", {"index": 17}),
        ("runs", {"index": 123456}),
        ("drafts", {"index": "drop table"}),
        ("auto_refresh", {"index": None}),
        ("agent", {"_options_labels": ["x", "y"], "index": 1}),
        ("period", {"description": "<img src=x onerror=alert(1)>"}),
        ("_ticker", {"value": "abc"}),
        ("_ticker", {"interval": 1}),
    ],
)
def test_a_value_a_control_cannot_take_is_refused_not_raised(
    dashboard: AuditDashboard,
    control: str,
    state: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    dashboard.refresh()
    widget = getattr(dashboard, control)
    before = widget.value
    widget.set_state(state)  # what ipywidgets does with a page's update
    assert widget.value == before
    assert "cannot be used; it was not applied" in dashboard.message.value
    logged = capsys.readouterr().err
    assert "refused an update" in logged  # the server's log says what and why
    assert "Traceback" not in page_text(dashboard)


def test_a_failing_handler_shows_one_line_and_logs_the_rest(
    dashboard: AuditDashboard, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dashboard.refresh()

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom in /srv/secret/path/queries.py line 12")

    monkeypatch.setattr("neonhub_nb.dashboard.app.load_dashboard", broken)
    dashboard.period.value = "7d"  # the handler fails: nothing raises to the comm layer
    assert dashboard.message.value == views.message(
        "Could not change the period; the error was logged on the server.", error=True
    )
    assert "/srv/secret" not in page_text(dashboard)
    logged = capsys.readouterr().err
    assert "Traceback" in logged and "/srv/secret/path/queries.py" in logged
    dashboard.refresh_button.click()
    assert "Could not refresh" in dashboard.message.value


def test_choosing_a_run_shows_its_timeline_tools_and_metrics(dashboard: AuditDashboard) -> None:
    dashboard.mode.value = "(all)"
    label = next(label for label, value in dashboard.runs.options if value == "run_k1")
    assert "content.generate_article" in label and "$0.0010" in label
    dashboard.runs.value = "run_k1"
    detail = dashboard.detail.value
    assert "data-run-id='run_k1'" in detail
    assert detail.count("<tr data-tool='connector.slack'>") == 2
    timeline = detail[detail.index("data-section='timeline'") : detail.index("Tool executions")]
    assert timeline.count("<g data-call=") == 3
    llm = re.search(r"<tr data-call='1'>(.*?)</tr>", timeline).group(1)  # type: ignore[union-attr]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", llm)
    assert cells[2:] == ["+1.00 s", "10 ms", "succeeded (1× 429)", "2", "–", "300", "$0.0010"]
    slack = re.search(r"<tr data-call='3'>(.*?)</tr>", timeline).group(1)  # type: ignore[union-attr]
    assert re.findall(r"<td[^>]*>(.*?)</td>", slack)[5:8] == ["2", "200", "–"]
    metrics = detail[detail.index("data-section='metrics'") :]
    assert "<td class='num'>300</td>" in metrics and "<td class='num'>$0.0010</td>" in metrics
    assert "300.0" not in metrics and "e-0" not in metrics
    # Secrets were redacted when the run was recorded; the page only shows the store.
    assert SECRET not in detail and "[REDACTED]" in detail


def test_drafts_awaiting_review_show_their_age_and_open_their_run(
    dashboard: AuditDashboard,
) -> None:
    dashboard.refresh()
    heading = dashboard.drafts_heading.value
    assert "data-pending-total='2'" in heading and tiles(dashboard)["drafts_pending"] == "2"
    labels = [label for label, _ in dashboard.drafts.options]
    assert labels[0].lstrip().startswith("26 h") and "Title run_b2" in labels[0]
    assert labels[1].lstrip().startswith("20 d") and labels[1].endswith("run_z7")
    dashboard.drafts.value = "draft_z7"
    assert "data-run-id='run_z7'" in dashboard.detail.value
    assert "Draft</h2>" in dashboard.detail.value


def test_the_filtered_runs_download_as_csv(dashboard: AuditDashboard) -> None:
    dashboard.refresh()
    assert dashboard.prepare_csv() == 3
    link = dashboard.csv_link.value
    payload = re.search(r"base64,([A-Za-z0-9+/=]+)'", link).group(1)  # type: ignore[union-attr]
    text = base64.b64decode(payload).decode()
    assert text.splitlines()[0] == ",".join(q.CSV_COLUMNS)
    assert [line.split(",")[0] for line in text.splitlines()[1:]] == ["run_b2", "run_x3", "run_z7"]
    assert "Download 3 runs" in link
    dashboard.agent.value = "seo"  # another scope: the prepared file would mislead
    assert dashboard.csv_link.value == ""
    dashboard.csv_limit = 1
    assert dashboard.prepare_csv() == 1 and "the newest 1 of 1" not in dashboard.csv_link.value


def test_money_is_money_and_counts_are_integers() -> None:
    assert format_cost(7.065e-05) == "$0.000071"
    assert format_cost(0.00012) == "$0.00012"
    assert format_cost(0.0012) == "$0.0012"
    assert format_cost(0.0144) == "$0.0144"
    assert format_cost(634.5) == "$634.50"
    assert format_cost(0) == "$0.00" and format_cost(None) == "–"
    assert (
        format_metric(733.0, "tokens") == "733" and format_metric(7.065e-05, "USD") == "$0.000071"
    )
    assert format_metric(1250.0, "ms") == "1.25 s" and format_metric(0.5, "") == "0.5"
    assert views.format_count(1_234_567.0) == "1,234,567"
    assert views.format_compact(1_350_357_912) == "1.35 B"
    for value in (1e-9, 3.3e-7, 0.000049, 0.99):
        shown = format_cost(value)
        assert "e" not in shown and shown not in ("$0.0000", "$0.00")


def test_refresh_picks_up_runs_recorded_since(tmp_path: Path) -> None:
    writer = build_store(tmp_path / "live.duckdb", NOW, RUNS[:2])
    try:
        dashboard = AuditDashboard.for_path(writer.path, clock=FakeClock(NOW), mode=None)
        dashboard.refresh()
        assert tiles(dashboard)["runs"] == "2"
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
    dashboard.show_run("run_b2")
    dashboard.period.value = "all"
    dashboard.prepare_csv()
    assert hashlib.sha256(known_store.read_bytes()).hexdigest() == before
    assert (sorted(spool.glob("*")) if spool.exists() else []) == spooled
    assert not known_store.with_name(known_store.name + ".wal").exists()


def test_it_refuses_a_store_that_could_write_and_unbounded_sizes(known_store: Path) -> None:
    with pytest.raises(ValueError, match=r"only reads: pass AuditStore\(path, read_only=True\)"):
        AuditDashboard(AuditStore(known_store, background=False))
    store = AuditStore(known_store, read_only=True)
    with pytest.raises(ValueError, match="runs_limit: must be an integer from 1 to 1,000"):
        AuditDashboard(store, runs_limit=10**9)
    with pytest.raises(ValueError, match="csv_limit: must be an integer from 1 to 200,000"):
        AuditDashboard(store, csv_limit=0)
    with pytest.raises(ValueError, match="mode: unknown 'prod'"):
        AuditDashboard(store, mode="prod")


def test_no_control_takes_free_text(dashboard: AuditDashboard) -> None:
    kinds = {type(x) for x in all_widgets(dashboard.widget)}
    assert not kinds & {w.Text, w.Textarea, w.Combobox, w.Password, w.TagsInput}
    controls = {type(x) for x in all_widgets(dashboard.widget) if isinstance(x, w.ValueWidget)}
    assert all(
        issubclass(k, (w.Dropdown, w.DatePicker, w.Select, w.HTML, w.Play, w.ToggleButtons))
        for k in controls
    )


def test_a_show_run_outside_the_lists_is_refused(dashboard: AuditDashboard) -> None:
    dashboard.refresh()  # live runs only: run_k1 (mock) is not offered
    dashboard.show_run("run_k1")
    assert "not in the lists above" in dashboard.message.value
    assert "run_k1" not in dashboard.detail.value


def test_a_missing_store_is_said_without_its_folder_and_recovers(tmp_path: Path) -> None:
    path = tmp_path / "later.duckdb"
    dashboard = AuditDashboard.for_path(path, clock=FakeClock(NOW), mode=None)
    assert dashboard.refresh() is None
    assert "Could not read the audit store: no audit store at later.duckdb" in (
        dashboard.message.value
    )
    assert str(tmp_path) not in page_text(dashboard)
    writer = build_store(path, NOW, RUNS[:1])
    try:
        assert dashboard.refresh() is not None
        assert dashboard.error is None and tiles(dashboard)["runs"] == "1"
        assert dashboard.message.value == ""
    finally:
        writer.close()


def test_start_reads_in_the_background(dashboard: AuditDashboard) -> None:
    dashboard.start()
    dashboard.wait(timeout=30)
    assert dashboard.refreshes == 1 and tiles(dashboard)["runs"] == "3"


@pytest.fixture
def page_signal() -> Iterator[None]:
    """Restores this process's handler of the page signal after a preheated dashboard."""
    previous = signal.getsignal(PAGE_SIGNAL)
    yield
    signal.signal(PAGE_SIGNAL, previous)


def test_a_preheated_kernel_reads_when_the_server_hands_it_to_a_viewer(
    dashboard: AuditDashboard, monkeypatch: pytest.MonkeyPatch, page_signal: None
) -> None:
    monkeypatch.setenv("VOILA_PREHEAT", "True")
    dashboard.start()
    assert dashboard.refreshes == 0  # warmed, waiting: nothing read yet
    os.kill(os.getpid(), PAGE_SIGNAL)  # what neonhub_nb.voila_app sends at the request
    deadline = time.monotonic() + 30
    while dashboard.refreshes == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    dashboard.wait(timeout=30)
    assert dashboard.refreshes == 1 and tiles(dashboard)["runs"] == "3"
    dashboard.kpis._view_count = 1  # the page draws it later: no second read
    dashboard.wait(timeout=30)
    assert dashboard.refreshes == 1


def test_a_preheated_kernel_without_the_signal_reads_when_a_page_shows_it(
    dashboard: AuditDashboard, monkeypatch: pytest.MonkeyPatch, page_signal: None
) -> None:
    monkeypatch.setenv("VOILA_PREHEAT", "True")
    dashboard.start()
    assert dashboard.refreshes == 0  # warmed, waiting: nothing read yet
    dashboard.kpis._view_count = 1  # the page drew the tiles
    dashboard.wait(timeout=30)
    assert dashboard.refreshes == 1 and tiles(dashboard)["runs"] == "3"
    dashboard.status._view_count = 1  # later views do not read again
    dashboard.wait(timeout=30)
    assert dashboard.refreshes == 1


def test_auto_refresh_ticks_in_the_browser_at_most_as_often_as_chosen(
    dashboard: AuditDashboard,
) -> None:
    dashboard.auto_refresh.value = 30
    assert dashboard._ticker.playing and dashboard._ticker.interval == 30_000
    dashboard._ticker.value += 1  # what the page's timer does
    assert dashboard.refreshes == 1
    for _ in range(5):  # a page ticking far faster than chosen is not obeyed
        dashboard._ticker.value += 1
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


def test_charts_escape_names_name_the_period_and_mark_partial_buckets() -> None:
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
    svg = charts.runs_trend_chart(trend, colours, "last 7 days")
    assert "<b>x</b>" not in svg and "&lt;b&gt;x&lt;/b&gt;" in svg
    assert "(UTC, last 7 days)" in svg
    assert svg.count("stroke-dasharray") == 1
    assert "data-breaker-opens='1'" in charts.failures_chart(trend, colours)
    calls = [q.ConnectorCalls(f"s{i}", 10, 1, 1) for i in range(17)]
    assert charts.connector_chart(calls).count("rate-limited: 1") == 17


def test_nice_ticks() -> None:
    assert charts.nice_ticks(0) == [0.0, 1.0]
    assert charts.nice_ticks(1) == [0, 1]  # counts: never a fractional step
    assert charts.nice_ticks(1.15) == [0, 1, 2]
    assert charts.nice_ticks(9) == [0, 5, 10]
    assert charts.nice_ticks(15_000) == [0, 5000, 10_000, 15_000]
    assert charts.nice_ticks(90) == [0, 25, 50, 75, 100]


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
    assert not [o for o in outputs if o.get("output_type") in ("error", "stream")]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
