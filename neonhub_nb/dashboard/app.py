"""The stakeholders' dashboard as ipywidgets: read-only, refreshable, testable without a browser.

>>> dashboard = AuditDashboard.for_path("data/neonhub.duckdb")   # doctest: +SKIP
>>> dashboard.widget        # display it (a notebook cell's last line)  # doctest: +SKIP
>>> dashboard.start()       # first read in the background           # doctest: +SKIP

Read-only by construction: it accepts only a store opened with ``read_only=True`` (so
DuckDB itself refuses any write), every control is a dropdown, a date picker or a button
whose values reach SQL as bound parameters after being checked against the choices the
store offered, and there is no text box anywhere.
"""

from __future__ import annotations

import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import ipywidgets as w

from ..clock import Clock, SystemClock
from ..config import load_settings
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
_NO_RUN = (
    "<div class='nh-muted'>Choose a run above to see its input, output, tool executions "
    "and metrics.</div>"
)


class AuditDashboard:
    """KPIs, trends, failures, connector calls, recent runs with drill-down, pending drafts.

    ``widget`` is the whole page; ``refresh()`` re-reads the store on one short-lived
    read-only connection (writers' ingestion waits only that long); ``show_run(run_id)``
    fills the run detail.
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
        self._updating = False  # set while _render rewrites the controls' choices
        # Wall-clock marks (epoch ms) on the status line, for bench/bench_dashboard.py.
        self._built_ms = round(time.time() * 1000)
        self._started_ms = 0
        self._build(period)

    @classmethod
    def for_path(cls, path: Path | str, **kwargs: Any) -> AuditDashboard:
        """A dashboard over the store file at ``path``, opened read-only."""
        return cls(AuditStore(path, read_only=True), **kwargs)

    # ------------------------------------------------------------------ layout
    def _build(self, period: str) -> None:
        # Few widgets on purpose: each is a model the page must create before it shows
        # anything, so static text and the charts share HTML widgets.
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
            description="↻ Refresh", tooltip="Read the store again", layout=w.Layout(width="auto")
        )
        self.auto_refresh = w.Dropdown(
            options=AUTO_REFRESH, value=0, description="Auto", layout=w.Layout(width="190px")
        )
        self._ticker = w.Play(
            interval=30_000, max=10**9, step=1, repeat=True, layout=w.Layout(display="none")
        )
        self.status = w.HTML(self._status_html("Loading…"))
        self.kpis = w.HTML(views.kpi_tiles(None, "", 0))
        self.panels = w.HTML(
            views.panels(
                charts.placeholder("runs-trend"),
                charts.placeholder("failures"),
                charts.placeholder("connectors"),
                "",
            )
        )
        filter_layout = w.Layout(width="230px")
        self.agent = w.Dropdown(options=[_ANY], description="Agent", layout=filter_layout)
        self.intent = w.Dropdown(
            options=[_ANY], description="Intent", layout=w.Layout(width="320px")
        )
        self.run_status = w.Dropdown(options=[_ANY], description="Status", layout=filter_layout)
        self.mode = w.Dropdown(options=[_ANY], description="Mode", layout=filter_layout)
        self.runs_summary = w.HTML(views.runs_summary(None, 0, 0))
        self.runs = w.Select(options=[], rows=12, layout=w.Layout(width="auto"))
        self.runs.add_class("nh-runs")
        self.detail = w.HTML(_NO_RUN)
        self.drafts = w.HTML(views.drafts_table((), 0))
        header = w.HTML(views.header(self.store.path.name))
        row = w.Layout(flex_flow="row wrap", align_items="center")
        controls = w.HBox(
            [self.period, self.date_from, self.date_to, self.refresh_button,
             self.auto_refresh, self._ticker],
            layout=row,
        )  # fmt: skip
        filters = w.HBox([self.agent, self.intent, self.run_status, self.mode], layout=row)
        self.widget = w.VBox(
            [header, controls, self.status, self.kpis, self.panels, self.runs_summary,
             filters, w.HTML(views.runs_header()), self.runs, self.detail, self.drafts]
        )  # fmt: skip
        self.widget.add_class("nh-dash")
        for live in (
            self.status, self.kpis, self.panels, self.agent, self.intent, self.run_status,
            self.mode, self.runs_summary, self.runs, self.detail, self.drafts,
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
            f"data-built='{self._built_ms}' data-started='{self._started_ms}' "
            f"data-rendered='{round(time.time() * 1000)}' data-read-ms='{read_ms:.0f}'"
        )
        return f"<div class='{style}' data-status {marks}>{views.escape(text)}</div>"

    # ---------------------------------------------------------------- controls
    def selected_period(self) -> Period:
        now = self.clock.now()
        if self.period.value != _CUSTOM:
            return Period.last(self.period.value, now)
        first: date = self.date_from.value or self.date_to.value or now.date()
        last: date = self.date_to.value or first
        return Period.days(first, last)

    def selected_filters(self) -> RunFilters:
        if self.data is None:
            return RunFilters()
        choices = self.data.choices

        def pick(control: Any, known: tuple[str, ...]) -> str | None:
            # Only a value the store offered reaches a query (bound, and checked too).
            value = control.value
            return value if value != _ANY and value in known else None

        return RunFilters(
            agent=pick(self.agent, choices.agents),
            intent=pick(self.intent, choices.intents),
            status=pick(self.run_status, choices.statuses),
            mode=pick(self.mode, choices.modes),
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
        """Read the store for the first time in a background thread, so the page shows
        (with empty tiles) while the queries run; :meth:`wait` joins it.

        In a kernel that Voila preheated (started and run before anyone asked for the
        page, see ``docs/dashboard.md``) this first waits for the viewer's request, so
        the numbers are read when the page is opened, not when the kernel was warmed.
        """
        if load_settings().environ.get("VOILA_PREHEAT") == "True":
            # Imported only here: voila.utils pulls in the Jupyter server (~1 s), which a
            # kernel that is not preheated would pay while its viewer waits.
            from voila.utils import wait_for_request

            wait_for_request()
        self._thread = threading.Thread(target=self._first_refresh, daemon=True)
        self._thread.start()

    def _first_refresh(self) -> None:
        self._started_ms = round(time.time() * 1000)
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
        self.panels.value = views.panels(
            charts.runs_trend_chart(data.trend, colours),
            charts.failures_chart(data.trend, colours),
            charts.connector_chart(data.connectors),
            views.errors_table(data.errors) + views.breaker_table(data.breaker_events),
        )
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
            self.runs.value = selected if selected in {r.run_id for r in data.runs} else None
        finally:
            self._updating = False
        self.runs_summary.value = views.runs_summary(
            data.period.label, data.runs_matching, len(data.runs)
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
