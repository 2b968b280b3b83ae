"""The stakeholders' dashboard as ipywidgets: read-only, refreshable, testable without a browser.

>>> from neonhub_nb.dashboard import AuditDashboard          # doctest: +SKIP
>>> from neonhub_nb.store import AuditStore                  # doctest: +SKIP
>>> dashboard = AuditDashboard(AuditStore("data/neonhub.duckdb", read_only=True))
>>> dashboard.start()   # first refresh in the background   # doctest: +SKIP
>>> dashboard.widget                                          # doctest: +SKIP

Read-only by construction: it accepts only a store opened with ``read_only=True`` (so
DuckDB itself refuses any write), every control is a dropdown, a date picker or a button
whose values reach SQL as bound parameters, and there is no text box anywhere.
"""

from __future__ import annotations

import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import ipywidgets as w

from ..clock import Clock, SystemClock
from ..errors import StoreError
from ..store import AuditStore
from ..store import queries as store_queries
from . import charts, views
from .queries import DEFAULT_PERIOD, PERIODS, DashboardData, Period, RunFilters, load_dashboard

__all__ = ["AUTO_REFRESH", "AuditDashboard"]

# Label -> seconds (0: off). A hidden Play widget ticks in the browser, so a closed page
# stops refreshing by itself and the kernel runs no timer thread.
AUTO_REFRESH: tuple[tuple[str, int], ...] = (
    ("off", 0),
    ("every 10 s", 10),
    ("every 30 s", 30),
    ("every minute", 60),
    ("every 5 minutes", 300),
)
_ANY = "(any)"
_CUSTOM = "custom"


class AuditDashboard:
    """KPIs, trends, failures, connector calls, recent runs with drill-down, pending drafts.

    ``widget`` is the whole page; ``refresh()`` re-reads the store on one short-lived
    read-only connection (writers' ingestion waits only for that long).
    """

    def __init__(
        self,
        store: AuditStore,
        *,
        clock: Clock | None = None,
        period: str = DEFAULT_PERIOD,
        runs_limit: int = 100,
    ) -> None:
        if not store.read_only:
            raise ValueError(
                f"the dashboard only reads: pass AuditStore(path, read_only=True) (got {store!r})"
            )
        if period not in PERIODS:
            raise ValueError(f"period: unknown {period!r}; known: {', '.join(PERIODS)}")
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.runs_limit = runs_limit
        self.data: DashboardData | None = None
        self.refreshes = 0
        self.error: str | None = None
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._updating = False  # set while refresh() rewrites the controls' choices
        # Wall-clock marks (epoch ms) on the status line, for bench/bench_dashboard.py.
        self._built_ms = round(time.time() * 1000)
        self._build(period)

    # ------------------------------------------------------------------ layout
    def _build(self, period: str) -> None:
        small = w.Layout(width="auto")
        self.period = w.Dropdown(
            options=[(label, key) for key, (label, _) in PERIODS.items()]
            + [("Custom dates", _CUSTOM)],
            value=period,
            description="Period",
            layout=w.Layout(width="220px"),
        )
        self.date_from = w.DatePicker(description="From", layout=w.Layout(width="200px"))
        self.date_to = w.DatePicker(description="To", layout=w.Layout(width="200px"))
        self.refresh_button = w.Button(
            description="↻ Refresh", tooltip="Read the store again", layout=small
        )
        self.auto_refresh = w.Dropdown(
            options=AUTO_REFRESH, value=0, description="Auto", layout=w.Layout(width="190px")
        )
        self._ticker = w.Play(
            interval=30_000, max=10**9, step=1, repeat=True, layout=w.Layout(display="none")
        )
        self.status = w.HTML(self._status_html("Loading…"))
        self.kpis = w.HTML(views.kpi_tiles(None, "", 0))
        self.runs_chart = w.HTML(charts.placeholder("runs-trend"))
        self.failures_chart = w.HTML(charts.placeholder("failures"))
        self.connectors_chart = w.HTML(charts.placeholder("connectors"))
        self.errors = w.HTML(views.errors_table(()))
        self.breaker = w.HTML(views.breaker_table(()))
        filter_layout = w.Layout(width="230px")
        self.agent = w.Dropdown(options=[_ANY], description="Agent", layout=filter_layout)
        self.intent = w.Dropdown(
            options=[_ANY], description="Intent", layout=w.Layout(width="320px")
        )
        self.run_status = w.Dropdown(options=[_ANY], description="Status", layout=filter_layout)
        self.mode = w.Dropdown(options=[_ANY], description="Mode", layout=filter_layout)
        self.runs_summary = w.HTML()
        self.runs = w.Select(options=[], rows=12, layout=w.Layout(width="100%"))
        self.runs.add_class("nh-runs")
        self.detail = w.HTML(
            "<div class='nh-muted'>Choose a run above to see its input, output, "
            "tool executions and metrics.</div>"
        )
        self.drafts = w.HTML(views.drafts_table((), 0))
        header = w.HTML(
            f"{views.CSS}<div class='nh-title'>NeonHub audit dashboard</div>"
            f"<div class='nh-sub'>Read-only view of the audit store "
            f"<code>{self.store.path.name}</code>. Times are UTC.</div>"
        )
        controls = w.HBox(
            [self.period, self.date_from, self.date_to, self.refresh_button,
             self.auto_refresh, self._ticker],
            layout=w.Layout(flex_flow="row wrap", align_items="center"),
        )  # fmt: skip
        half = w.Layout(width="50%", min_width="360px")
        charts_row = w.HBox(
            [w.Box([self.runs_chart], layout=half), w.Box([self.failures_chart], layout=half)],
            layout=w.Layout(flex_flow="row wrap"),
        )
        failures_row = w.HBox(
            [w.Box([self.connectors_chart], layout=half),
             w.VBox([self.errors, self.breaker], layout=half)],
            layout=w.Layout(flex_flow="row wrap"),
        )  # fmt: skip
        filters = w.HBox(
            [self.agent, self.intent, self.run_status, self.mode],
            layout=w.Layout(flex_flow="row wrap"),
        )
        self.widget = w.VBox(
            [
                header,
                controls,
                self.status,
                self.kpis,
                charts_row,
                failures_row,
                w.HTML("<h2>Recent runs</h2>"),
                filters,
                self.runs_summary,
                w.HTML(views.runs_header()),
                self.runs,
                self.detail,
                self.drafts,
            ]
        )
        self.widget.add_class("nh-dash")
        for live in (
            self.status, self.kpis, self.runs_chart, self.failures_chart,
            self.connectors_chart, self.errors, self.breaker, self.agent, self.intent,
            self.run_status, self.mode, self.runs_summary, self.runs, self.detail, self.drafts,
        ):  # fmt: skip
            self._resend_when_shown(live)
        self.refresh_button.on_click(lambda _: self.refresh())
        self.period.observe(self._on_period, "value")
        for picker in (self.date_from, self.date_to):
            picker.observe(self._on_dates, "value")
        for control in (self.agent, self.intent, self.run_status, self.mode):
            control.observe(self._on_filter, "value")
        self.auto_refresh.observe(self._on_auto_refresh, "value")
        self._ticker.observe(lambda _: self.refresh(), "value")
        self.runs.observe(self._on_run, "value")

    @staticmethod
    def _resend_when_shown(widget: Any) -> None:
        """Send the widget's whole state again once a browser has drawn it.

        The first refresh runs in a thread while the page loads. An update the kernel
        sends after Voila's page asked for every widget's state, but before the page
        created that widget, is dropped by the page; the widget would then show its
        "loading" state forever. The page reports each drawn view (``_view_count``),
        and by then every earlier update's value is in the kernel's copy: resending
        it closes the gap.
        """
        widget._view_count = 0
        widget.observe(lambda change: widget.send_state(), "_view_count")

    def _status_html(self, text: str, *, error: bool = False, read_ms: float = 0) -> str:
        style = "nh-error" if error else "nh-muted"
        marks = (
            f"data-built='{self._built_ms}' data-rendered='{round(time.time() * 1000)}' "
            f"data-read-ms='{read_ms:.0f}'"
        )
        return f"<div class='{style}' data-status {marks}>{views._esc(text)}</div>"

    # ---------------------------------------------------------------- controls
    def selected_period(self) -> Period:
        now = self.clock.now()
        if self.period.value != _CUSTOM:
            return Period.last(self.period.value, now)
        first: date = self.date_from.value or self.date_to.value or now.date()
        last: date = self.date_to.value or first
        return Period.days(first, last)

    def selected_filters(self) -> RunFilters:
        data = self.data

        def pick(control: Any, known: tuple[str, ...]) -> str | None:
            # Only a value the store offered reaches a query (bound, but still checked).
            value = control.value
            return value if value != _ANY and value in known else None

        if data is None:
            return RunFilters()
        return RunFilters(
            agent=pick(self.agent, data.choices.agents),
            intent=pick(self.intent, data.choices.intents),
            status=pick(self.run_status, data.choices.statuses),
            mode=pick(self.mode, data.choices.modes),
        )

    def _on_period(self, change: dict[str, Any]) -> None:
        if not self._updating and change["new"] != _CUSTOM:
            self.refresh()

    def _on_dates(self, change: dict[str, Any]) -> None:
        if self._updating or change["new"] is None:
            return
        self._updating = True
        try:
            self.period.value = _CUSTOM
        finally:
            self._updating = False
        self.refresh()

    def _on_filter(self, change: dict[str, Any]) -> None:
        if not self._updating:
            self.refresh()

    def _on_auto_refresh(self, change: dict[str, Any]) -> None:
        seconds = int(change["new"])
        if seconds:
            self._ticker.interval = seconds * 1000
        self._ticker.playing = bool(seconds)

    def _on_run(self, change: dict[str, Any]) -> None:
        if not self._updating and change["new"]:
            self.show_run(str(change["new"]))

    # ---------------------------------------------------------------- refreshing
    def refresh(self) -> DashboardData | None:
        """Read the store again and redraw everything; keeps the old view on failure."""
        with self._lock:
            period, filters = self.selected_period(), self.selected_filters()
            try:
                with self.store.connect() as con:
                    data = load_dashboard(
                        con, period, filters, now=self.clock.now(), runs_limit=self.runs_limit
                    )
            except StoreError as exc:
                self.error = str(exc)
                self.status.value = self._status_html(
                    f"Could not read the audit store: {exc}", error=True
                )
                return None
            self.error = None
            self.data = data
            self.refreshes += 1
            self._render(data)
            return data

    def start(self) -> None:
        """Run the first refresh in a background thread, so the page (and its empty tiles)
        shows while the store is read; :meth:`wait` joins it."""
        self._thread = threading.Thread(target=self._first_refresh, daemon=True)
        self._thread.start()

    def _first_refresh(self) -> None:
        try:
            self.refresh()
        except Exception as exc:  # a thread's exception would be lost: show it instead
            self.error = f"{type(exc).__name__}: {exc}"
            self.status.value = self._status_html(self.error, error=True)

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _render(self, data: DashboardData) -> None:
        c = data.choices
        colours = charts.agent_colours(c.agents)
        self.kpis.value = views.kpi_tiles(data.kpis, data.period.label, self.refreshes)
        self.runs_chart.value = charts.runs_trend_chart(data.trend, colours)
        self.failures_chart.value = charts.failures_chart(data.trend, colours)
        self.connectors_chart.value = charts.connector_chart(data.connectors)
        self.errors.value = views.errors_table(data.errors)
        self.breaker.value = views.breaker_table(data.breaker_events)
        self.drafts.value = views.drafts_table(data.pending_drafts, data.pending_total)
        self._updating = True
        try:
            for control, known in (
                (self.agent, c.agents),
                (self.intent, c.intents),
                (self.run_status, c.statuses),
                (self.mode, c.modes),
            ):
                options = (_ANY, *known)
                if tuple(control.options) != options:
                    keep = control.value if control.value in known else _ANY
                    control.options = options
                    control.value = keep
            selected = self.runs.value
            self.runs.options = [(views.run_label(r), r.run_id) for r in data.runs]
            ids = {r.run_id for r in data.runs}
            self.runs.value = selected if selected in ids else None
        finally:
            self._updating = False
        shown = len(data.runs)
        self.runs_summary.value = (
            f"<div class='nh-muted' data-runs-matching='{data.runs_matching}'>"
            f"{data.runs_matching:,} runs match in {views._esc(data.period.label.lower())}"
            + (f"; the newest {shown:,} are listed" if data.runs_matching > shown else "")
            + ". Choose one to see its details.</div>"
        )
        total_ms = sum(data.timings_ms.values())
        self.status.value = self._status_html(
            f"{data.period.label} · updated {data.loaded_at:%Y-%m-%d %H:%M:%S} UTC · "
            f"{c.total_runs:,} runs in the store · read in {total_ms:,.0f} ms",
            read_ms=total_ms,
        )

    def show_run(self, run_id: str) -> None:
        """Show one run's input, output, tool executions and metrics below the list."""
        with self._lock:
            try:
                with self.store.connect() as con:
                    detail = store_queries.run_detail(con, run_id)
            except StoreError as exc:
                self.detail.value = self._status_html(str(exc), error=True)
                return
            self.detail.value = views.run_detail_html(detail)

    @classmethod
    def for_path(cls, path: Path | str, **kwargs: Any) -> AuditDashboard:
        """A dashboard over the store file at ``path``, opened read-only."""
        return cls(AuditStore(path, read_only=True), **kwargs)
