"""The stakeholders' dashboard as ipywidgets: read-only, refreshable, testable without a browser.

>>> dashboard = AuditDashboard.for_path("data/neonhub.duckdb")   # doctest: +SKIP
>>> AuditDashboard.for_path("postgresql://neonhub_reader:PW@db/neonhub")  # doctest: +SKIP
>>> dashboard.widget        # display it (a notebook cell's last line)  # doctest: +SKIP
>>> dashboard.start()       # first read in the background           # doctest: +SKIP

Read-only by construction: it accepts only a store opened with ``read_only=True`` (so
DuckDB itself refuses any write; a team store's session is read-only, and its URL should
name the reader role, which may only select), every control is a dropdown, a toggle, a
date picker or a button whose values are bounded and checked against the choices the
store offered before they reach SQL (as bound parameters), and there is no text box.

Safe to share: no handler lets an exception reach the page. Each one is guarded
(``guard``): the traceback goes to the server's log, the viewer sees one line. Values a
page sends that a widget cannot even take (a malformed date, an index out of range) are
caught the same way by the controls themselves (``controls``).
"""

from __future__ import annotations

import signal
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import ipywidgets as w
from ipywidgets.widgets.widget_description import DescriptionStyle
from ipywidgets.widgets.widget_string import HTMLStyle

from ..clock import Clock, SystemClock
from ..config import is_store_url, load_settings
from ..errors import StoreError
from ..store import AuditStore
from ..store.base import Store
from . import charts, views
from .aggregates import load_dashboard, runs_csv
from .controls import (
    SafeDatePicker,
    SafeDropdown,
    SafePlay,
    SafeSelect,
    SafeToggleButtons,
    guard,
    server_log,
)
from .data import (
    DEFAULT_MODE,
    DEFAULT_PERIOD,
    EARLIEST_DAY,
    MODES,
    PERIODS,
    DashboardData,
    Period,
    RunFilters,
    Scope,
)
from .server import PAGE_SIGNAL

__all__ = ["AUTO_REFRESH", "LIMITS", "AuditDashboard"]

# Label -> seconds (0: off). A hidden Play widget ticks in the browser, so a closed page
# stops refreshing by itself and the kernel runs no timer thread.
AUTO_REFRESH: tuple[tuple[str, int], ...] = (
    ("off", 0),
    ("every 10 s", 10),
    ("every 30 s", 30),
    ("every minute", 60),
    ("every 5 minutes", 300),
)
# name -> (lowest, highest): the sizes a caller may ask for (``ValueError`` beyond).
LIMITS = {"runs_limit": (1, 1000), "drafts_limit": (1, 200), "csv_limit": (1, 200_000)}
_MIN_TICK_S = 5.0  # a page sending faster timer ticks is not obeyed
_ANY = "(any)"
_ALL_MODES = "(all)"
_CUSTOM = "custom"
_NO_RUN = (
    "<div class='nh-muted'>Choose a run (or a draft) above to see its timeline, tool "
    "calls, metrics, input and output.</div>"
)


class AuditDashboard:
    """KPIs, trends, costs, failures, connector calls, drafts awaiting review and runs.

    ``widget`` is the whole page; ``refresh()`` re-reads the store on one short-lived
    read-only connection (writers' ingestion waits only that long); ``show_run(run_id)``
    fills the run view; ``prepare_csv()`` offers the filtered runs as a CSV download.
    Every number counts one :class:`Scope`: runs started in the period (whole hours)
    matching the Runs (mode), Agent, Intent and Status filters; live runs by default.
    """

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock | None = None,
        period: str = DEFAULT_PERIOD,
        mode: str | None = DEFAULT_MODE,
        runs_limit: int = 100,
        drafts_limit: int = 20,
        csv_limit: int = 50_000,
        use_rollups: bool = True,
    ) -> None:
        if not store.read_only:
            raise ValueError(
                "the dashboard only reads: pass AuditStore(path, read_only=True) or "
                f"PgStore(url, read_only=True) (got {store!r})"
            )
        if period not in PERIODS:
            raise ValueError(f"period: unknown {period!r}; known: {', '.join(PERIODS)}")
        if mode is not None and mode not in MODES:
            raise ValueError(f"mode: unknown {mode!r}; known: {', '.join(MODES)} or None")
        for name, value in (("runs_limit", runs_limit), ("drafts_limit", drafts_limit),
                            ("csv_limit", csv_limit)):  # fmt: skip
            low, high = LIMITS[name]
            if not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name}: must be an integer from {low} to {high:,}")
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.runs_limit = runs_limit
        self.drafts_limit = drafts_limit
        self.csv_limit = csv_limit
        self.use_rollups = use_rollups
        self.data: DashboardData | None = None
        self.refreshes = 0
        self.error: str | None = None
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._updating = False  # set while the code itself rewrites controls
        self._awaiting_view = False
        self._last_tick = 0.0
        self._dates: tuple[date | None, date | None] = (None, None)
        self._offered: dict[str, str] = {}  # value of a runs/drafts list entry -> run id
        # Wall-clock marks (epoch ms) on the status line, for bench/bench_dashboard.py.
        self._built_ms = round(time.time() * 1000)
        self._started_ms = 0
        server_log()  # library errors in widget messages go to the server's log from now on
        self._build(period, mode)

    @classmethod
    def for_path(cls, path: Path | str, **kwargs: Any) -> AuditDashboard:
        """A dashboard over the store file at ``path``, or the team store at a
        ``postgresql://`` URL (its reader role's), opened read-only."""
        if isinstance(path, str) and is_store_url(path):
            from ..store.pg.store import PgStore

            return cls(PgStore(path, read_only=True), **kwargs)
        return cls(AuditStore(path, read_only=True), **kwargs)

    @property
    def store_name(self) -> str:
        """What the page calls the store: the file's name, or the team database's name
        (never its host, user or password)."""
        path = getattr(self.store, "path", None)
        if isinstance(path, Path):
            return path.name
        database = urlsplit(self.store.label).path.strip("/")
        return f"team store {database}" if database else "team store"

    # ------------------------------------------------------------------ layout
    def _build(self, period: str, mode: str | None) -> None:
        # Few widgets on purpose: each is a model the page must create before it shows
        # anything, so static text and the charts share HTML widgets, and the controls
        # share their style model.
        described = DescriptionStyle()
        # Room for the label and a whole date (in the browser's format) with its calendar
        # button.
        picker_layout = w.Layout(width="250px")
        list_layout = w.Layout(width="auto")
        self.period = SafeDropdown(
            options=[(label, key) for key, (label, _) in PERIODS.items()]
            + [("Custom dates", _CUSTOM)],
            value=period,
            description="Period",
            layout=w.Layout(width="220px"),
            style=described,
        )
        self.date_from = SafeDatePicker(description="From", layout=picker_layout, style=described)
        self.date_to = SafeDatePicker(description="To", layout=picker_layout, style=described)
        self.refresh_button = w.Button(
            description="↻ Refresh", tooltip="Read the store again", layout=w.Layout(width="auto")
        )
        self.auto_refresh = SafeDropdown(
            options=AUTO_REFRESH,
            value=0,
            description="Auto",
            layout=w.Layout(width="190px"),
            style=described,
        )
        self._ticker = SafePlay(
            interval=30_000, max=10**9, step=1, repeat=True, layout=w.Layout(display="none")
        )
        self.mode = SafeToggleButtons(
            options=[("Live", "live"), ("Mock", "mock"), ("Replay", "replay"),
                     ("All modes", _ALL_MODES)],
            value=mode or _ALL_MODES,
            description="Runs",
            tooltips=["Runs against real models and services (the default)",
                      "Deterministic mock runs (tests, demos)", "Runs replayed from the store",
                      "Every run, whatever its mode"],
            style={"button_width": "90px", "description_width": "44px"},
            layout=w.Layout(width="440px", margin="2px 12px 2px 0", flex="0 0 auto"),
        )  # fmt: skip
        filter_layout = w.Layout(width="230px")
        self.agent = SafeDropdown(
            options=[_ANY], description="Agent", layout=filter_layout, style=described
        )
        self.intent = SafeDropdown(
            options=[_ANY], description="Intent", layout=w.Layout(width="320px"), style=described
        )
        self.run_status = SafeDropdown(
            options=[_ANY], description="Status", layout=filter_layout, style=described
        )
        # Every widget is one model the page fetches and builds (and each brings a layout
        # and a style model): the HTML blocks share one layout and one style.
        shared = {"layout": w.Layout(), "style": HTMLStyle()}

        def html(value: str) -> w.HTML:
            return w.HTML(value, **shared)

        self.status = html(self._status_html("Loading…"))
        self.message = html("")
        self.scope = html(views.scope_line(None))
        self.kpis = html(views.kpi_tiles(None, None, 0))
        self.panels = html(
            views.panels(
                charts.placeholder("runs-trend"),
                charts.placeholder("failures"),
                charts.placeholder("connectors"),
                "",
            )
        )
        self.costs = html("")
        self.drafts_heading = html(views.drafts_heading(None, 0, 0, 0))
        self.drafts = SafeSelect(options=[], rows=6, layout=list_layout, style=described)
        self.drafts.add_class("nh-drafts")
        self.runs_summary = html(views.runs_summary(None, 0, 0))
        self.csv_button = w.Button(
            description="⤓ CSV of these runs",
            tooltip="Prepare the runs counted above as a CSV file to download",
            layout=w.Layout(width="auto"),
        )
        self.csv_link = html("")
        self.csv_link.add_class("nh-download")
        self.runs = SafeSelect(options=[], rows=12, layout=list_layout, style=described)
        self.runs.add_class("nh-runs")
        self.detail = html(_NO_RUN)
        header = html(views.header(self.store_name))
        row = w.Layout(flex_flow="row wrap", align_items="center")
        controls = w.HBox(
            [self.period, self.date_from, self.date_to, self.refresh_button,
             self.auto_refresh, self._ticker],
            layout=row,
        )  # fmt: skip
        filters = w.HBox([self.mode, self.agent, self.intent, self.run_status], layout=row)
        download = w.HBox([self.csv_button, self.csv_link], layout=row)
        self.widget = w.VBox(
            [header, controls, filters, self.status, self.message, self.scope, self.kpis,
             self.panels, self.costs, self.drafts_heading, self.drafts, self.runs_summary,
             download, html(views.runs_header()), self.runs, self.detail]
        )  # fmt: skip
        self.widget.add_class("nh-dash")
        for shown in (header, self.status, self.message, self.scope, self.kpis, self.panels,
                      self.costs, self.drafts_heading, self.drafts, self.runs_summary,
                      self.csv_link, self.runs, self.detail, self.agent, self.intent,
                      self.run_status, self.date_from, self.date_to):  # fmt: skip
            self._resend_when_shown(shown)
        for control in (self.period, self.date_from, self.date_to, self.auto_refresh,
                        self.mode, self.agent, self.intent, self.run_status, self.drafts,
                        self.runs, self._ticker):  # fmt: skip
            control.on_rejected = self._rejected
        self.refresh_button.on_click(guard(self._say, "refresh")(lambda _: self.refresh()))
        self.csv_button.on_click(guard(self._say, "prepare the CSV")(lambda _: self.prepare_csv()))
        self.period.observe(guard(self._say, "change the period")(self._on_period), "value")
        for picker in (self.date_from, self.date_to):
            picker.observe(guard(self._say, "change the dates")(self._on_dates), "value")
        for control in (self.mode, self.agent, self.intent, self.run_status):
            control.observe(guard(self._say, "apply the filter")(self._on_filter), "value")
        self.auto_refresh.observe(
            guard(self._say, "set auto-refresh")(self._on_auto_refresh), "value"
        )
        self._ticker.observe(guard(self._say, "refresh")(self._on_tick), "value")
        self.runs.observe(guard(self._say, "open the run")(self._on_choice), "value")
        self.drafts.observe(guard(self._say, "open the draft's run")(self._on_choice), "value")

    def _resend_when_shown(self, widget: Any) -> None:
        """Send the widget's whole state again once a browser has drawn it.

        The first refresh runs in a thread while the page loads. An update the kernel
        sends after Voila's page asked for every widget's state, but before the page
        created that widget, is dropped by the page; the widget would then show its
        "loading" state forever. The page reports each drawn view (``_view_count``),
        and by then every earlier update's value is in the kernel's copy: resending
        it closes the gap. The first view also starts a preheated kernel's first read.
        """
        widget._view_count = 0

        def shown(change: dict[str, Any]) -> None:
            widget.send_state()
            if change["new"]:
                self._page_arrived()

        widget.observe(guard(self._say, "show the page")(shown), "_view_count")

    def _status_html(self, text: str, *, read_ms: float = 0) -> str:
        marks = (
            f"data-built='{self._built_ms}' data-started='{self._started_ms}' "
            f"data-rendered='{round(time.time() * 1000)}' data-read-ms='{read_ms:.0f}'"
        )
        return f"<div class='nh-muted' data-status {marks}>{views.escape(text)}</div>"

    def _say(self, text: str, *, error: bool = True) -> None:
        """One line in the page (the only way a failure reaches a viewer)."""
        self.message.value = views.message(text, error=error) if text else ""

    def _rejected(self, control: Any, reason: str) -> None:
        label = getattr(control, "description", "") or "a control"
        self._say(f"{label}: {reason}")

    # ---------------------------------------------------------------- controls
    def selected_scope(self) -> Scope:
        """The period and filters the controls describe (``ValueError`` names a bad date)."""
        return Scope(self._selected_period(), self.selected_filters())

    def selected_period(self) -> Period:
        return self._selected_period()

    def _selected_period(self) -> Period:
        now = self.clock.now()
        if self.period.value != _CUSTOM:
            return Period.last(self.period.value, now)
        first: date = self.date_from.value or self.date_to.value or now.date()
        last: date = self.date_to.value or first
        return Period.days(first, last, today=now.date())

    def selected_filters(self) -> RunFilters:
        mode = self.mode.value if self.mode.value in MODES else None
        if self.data is None:
            return RunFilters(mode=mode)
        choices = self.data.choices

        def pick(control: Any, known: tuple[str, ...]) -> str | None:
            # Only a value the store offered reaches a query (bound, and checked too).
            value = control.value
            return value if value != _ANY and value in known else None

        agent = pick(self.agent, choices.agents)
        # An intent of another agent than the one chosen is dropped (the list then shows
        # the chosen agent's intents, so the page and the numbers agree).
        intents = choices.intents_by_agent.get(agent, ()) if agent else choices.intents
        return RunFilters(
            agent=agent,
            intent=pick(self.intent, intents),
            status=pick(self.run_status, choices.statuses),
            mode=mode,
        )

    def _set_quietly(self, control: Any, value: Any) -> None:
        self._updating = True
        try:
            control.value = value
        finally:
            self._updating = False

    def _on_period(self, change: dict[str, Any]) -> None:
        if self._updating:
            return
        if change["new"] != _CUSTOM:
            # A preset's range is its own: dates picked earlier would now be stale.
            self._set_quietly(self.date_from, None)
            self._set_quietly(self.date_to, None)
            self._dates = (None, None)
            self.refresh()
            return
        if self.date_from.value is None and self.date_to.value is None:
            # Start the custom range from the period shown so far.
            now = self.clock.now()
            shown = self.data.period if self.data else Period.last(DEFAULT_PERIOD, now)
            first = (shown.since or (self.data and self.data.choices.first_started) or now).date()
            self._set_quietly(self.date_from, max(first, EARLIEST_DAY))
            self._set_quietly(self.date_to, now.date())
        self._on_dates({"new": self.date_from.value})

    def _on_dates(self, change: dict[str, Any]) -> None:
        if self._updating or change["new"] is None:
            return
        moved = self._keep_dates_in_order(change.get("owner"))
        try:
            Period.days(
                self.date_from.value or self.date_to.value,
                self.date_to.value or self.date_from.value,
                today=self.clock.now().date(),
            )
        except (ValueError, OverflowError, TypeError) as exc:
            # Refused before any query; the pickers go back to the last good dates.
            self._set_quietly(self.date_from, self._dates[0])
            self._set_quietly(self.date_to, self._dates[1])
            self._say(f"{exc}; the dates were not changed." if isinstance(exc, ValueError)
                      else "That date cannot be used; the dates were not changed.")  # fmt: skip
            return
        self._dates = (self.date_from.value, self.date_to.value)
        self._set_quietly(self.period, _CUSTOM)
        # Said after the refresh (which clears the line), unless the refresh failed: its
        # error must stay on the page.
        if self.refresh() is not None and moved:
            self._say(moved, error=False)

    def _keep_dates_in_order(self, changed: Any) -> str:
        """When a new From is after To (or a new To before From), move the other end to
        the same day and say so: the pickers always show the range the numbers count."""
        first, last = self.date_from.value, self.date_to.value
        if first is None or last is None or first <= last:
            return ""
        if changed is self.date_to:
            self._set_quietly(self.date_from, last)
            return f"From moved to {last.isoformat()}: it was after To."
        self._set_quietly(self.date_to, first)
        return f"To moved to {first.isoformat()}: it was before From."

    def _on_filter(self, change: dict[str, Any]) -> None:
        if not self._updating:
            self.refresh()

    def _on_auto_refresh(self, change: dict[str, Any]) -> None:
        seconds = int(change["new"] or 0)
        if seconds:
            self._ticker.interval = seconds * 1000
        self._ticker.playing = bool(seconds)

    def _on_tick(self, change: dict[str, Any]) -> None:
        # The timer runs in the page: a page that ticks faster than the chosen interval
        # (or than _MIN_TICK_S) is not obeyed.
        interval = max(_MIN_TICK_S, self._ticker.interval / 1000 * 0.8)
        if not self.auto_refresh.value or time.monotonic() - self._last_tick < interval:
            return
        self._last_tick = time.monotonic()
        self.refresh()

    def _on_choice(self, change: dict[str, Any]) -> None:
        if not self._updating and change["new"]:
            self.show_run(self._offered.get(str(change["new"]), ""))

    # ---------------------------------------------------------------- refreshing
    def refresh(self) -> DashboardData | None:
        """Read the store again and redraw everything; keeps the old view on failure."""
        with self._lock:
            try:
                scope = self.selected_scope()
            except ValueError as exc:
                self._say(str(exc))
                return None
            started = time.perf_counter()
            try:
                with self.store.connect() as con:
                    data = load_dashboard(
                        con, scope, now=self.clock.now(), runs_limit=self.runs_limit,
                        drafts_limit=self.drafts_limit, use_rollups=self.use_rollups,
                    )  # fmt: skip
            except StoreError as exc:
                self.error = self._public(exc)
                self._say(f"Could not read the audit store: {self.error}")
                return None
            previous = self.data
            self.error = None
            self.data = data
            self.refreshes += 1
            self._render(data, (time.perf_counter() - started) * 1000)
            if previous is None or previous.scope != data.scope:
                self.csv_link.value = ""  # a prepared file of other runs would mislead
            return data

    def _public(self, exc: Exception) -> str:
        """The error's message without the store's folder (the page names only the file)
        or the team store's address (already without its password)."""
        text = str(exc)
        path = getattr(self.store, "path", None)
        if isinstance(path, Path):
            return text.replace(str(path), path.name)
        return text.replace(self.store.label, self.store_name)

    def start(self) -> None:
        """Read the store for the first time in a background thread, so the page shows
        (with empty tiles) while the queries run; :meth:`wait` joins it.

        In a kernel Voila preheated (started and run before anyone asked for the page,
        see ``docs/dashboard.md``) the read waits for a viewer: the signal
        ``server.PAGE_SIGNAL`` that ``neonhub_nb.voila_app`` sends when it hands this
        kernel to a request (so the store is read while the page loads), or failing that
        the page drawing a widget. The numbers are read when the page is opened, not when
        the kernel was warmed.
        """
        if load_settings().environ.get("VOILA_PREHEAT") == "True":
            self._awaiting_view = True
            try:
                signal.signal(PAGE_SIGNAL, lambda signum, frame: self._page_arrived())
            except ValueError:  # not the main thread: the first drawn widget will do
                server_log().info("dashboard: no page signal outside the main thread")
            return
        self._start_thread()

    def _page_arrived(self) -> None:
        # Runs in a signal handler too: no lock (a refresh thread may hold it); two
        # triggers at once start two reads at worst, which the lock serialises.
        if not self._awaiting_view:
            return
        self._awaiting_view = False
        self._start_thread()

    def _start_thread(self) -> None:
        self._thread = threading.Thread(target=self._first_refresh, daemon=True)
        self._thread.start()

    def _first_refresh(self) -> None:
        self._started_ms = round(time.time() * 1000)
        guard(self._say, "read the audit store")(lambda: self.refresh())()

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _render(self, data: DashboardData, read_ms: float) -> None:
        c = data.choices
        scope = data.scope
        period = scope.period.label[:1].lower() + scope.period.label[1:]
        colours = charts.agent_colours(c.agents)
        self.scope.value = views.scope_line(scope, data.modes)
        self.panels.value = views.panels(
            charts.runs_trend_chart(data.trend, colours, period),
            charts.failures_chart(data.trend, colours, period),
            charts.connector_chart(data.connectors, period),
            views.errors_table(data.errors, scope)
            + views.breaker_table(data.breaker_events, scope),
        )
        self.costs.value = views.costs_tables(data.costs, data.kpis.cost_usd, scope)
        self.drafts_heading.value = views.drafts_heading(
            scope, data.kpis.drafts_pending, len(data.pending_drafts), data.pending_elsewhere
        )
        offered = {r.run_id: r.run_id for r in data.runs}
        offered |= {d.draft_id: d.run_id for d in data.pending_drafts}
        self._updating = True
        try:
            for control, known in (
                (self.agent, c.agents),
                # The chosen agent's intents only: another agent's would match nothing.
                (self.intent, c.intents_by_agent.get(self.agent.value, c.intents)),
                (self.run_status, c.statuses),
            ):
                options = (_ANY, *known)
                if tuple(control.options) != options:
                    keep = control.value if control.value in known else _ANY
                    control.options = options
                    control.value = keep
            for select, entries in (
                (self.runs, [(views.run_label(r), r.run_id) for r in data.runs]),
                (self.drafts, [(views.draft_label(d, data.loaded_at), d.draft_id)
                               for d in data.pending_drafts]),
            ):  # fmt: skip
                selected = select.value
                select.options = entries
                select.value = selected if selected in {v for _, v in entries} else None
            self._offered = offered
        finally:
            self._updating = False
        self.runs_summary.value = views.runs_summary(scope, data.runs_matching, len(data.runs))
        source = "roll-ups" if data.source == "rollup" else "the raw tables (no roll-ups)"
        self.status.value = self._status_html(
            f"Updated {data.loaded_at:%Y-%m-%d %H:%M:%S} UTC · {c.total_runs:,} runs in the "
            f"store · read in {read_ms:,.0f} ms from {source}",
            read_ms=read_ms,
        )
        # The tiles carry the refresh count and are written last: widget updates reach
        # the page in order, so a page showing the new count shows the whole redraw.
        self.kpis.value = views.kpi_tiles(data.kpis, scope, self.refreshes)
        self._say("", error=False)

    def show_run(self, run_id: str) -> None:
        """Show one run of the lists in the run view: timeline, calls, metrics, draft."""
        from ..store import queries as store_queries  # pandas: only when a run is opened
        from .run_view import run_detail_html

        with self._lock:
            if run_id not in self._offered.values():
                self._say("That run is not in the lists above; refresh and choose again.")
                return
            try:
                with self.store.connect() as con:
                    detail = store_queries.run_detail(con, run_id)
            except StoreError as exc:
                self._say(f"Could not open the run: {self._public(exc)}")
                return
            self.detail.value = run_detail_html(detail)

    def prepare_csv(self) -> int:
        """Offer the scope's newest runs (up to ``csv_limit``) as a CSV download link;
        returns how many rows it holds."""
        with self._lock:
            if self.data is None:
                self._say("Nothing to download yet: the store has not been read.")
                return 0
            scope = self.data.scope
            with self.store.connect() as con:
                text, rows = runs_csv(con, scope, self.csv_limit)
            self.csv_link.value = views.download_link(
                text, rows, self.data.runs_matching, self.clock.now()
            )
            return rows
