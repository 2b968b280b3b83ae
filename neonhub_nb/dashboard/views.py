"""HTML for the dashboard's tiles and tables; everything from the store escaped.

Values shown here come straight from the audit store, whose secrets were redacted when
they were written. Every block says which runs it counts (the scope line, each tile's
period, each table's heading) so neighbouring numbers can be checked against each other.
The run view (facts, timeline, tool calls) is in ``run_view``.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from ..formats import format_compact, format_cost, format_count, format_duration, format_rate
from .data import BreakerEvent, CostRow, Costs, DraftRow, ErrorGroup, Kpis, RunRow, Scope

__all__ = [
    "CSS",
    "KPI_NAMES",
    "STATUS_COLOURS",
    "badge",
    "breaker_table",
    "costs_tables",
    "cut",
    "download_link",
    "draft_label",
    "drafts_heading",
    "errors_table",
    "escape",
    "format_age",
    "format_compact",
    "format_cost",
    "format_count",
    "format_duration",
    "format_rate",
    "header",
    "kpi_tiles",
    "kpi_values",
    "message",
    "panels",
    "run_label",
    "runs_header",
    "runs_summary",
    "scope_line",
]

# The tiles, in order: data-kpi name and label. Tests and the benchmark find them by name.
KPI_NAMES: tuple[tuple[str, str], ...] = (
    ("runs", "Runs"),
    ("success_rate", "Success rate"),
    ("p50", "p50 duration"),
    ("p95", "p95 duration"),
    ("tokens", "Tokens"),
    ("cost", "Cost"),
    ("drafts_approved", "Drafts approved"),
    ("drafts_pending", "Drafts awaiting review"),
    ("drafts_rejected", "Drafts rejected"),
)
STATUS_COLOURS = {
    "succeeded": "#1a7f37",
    "failed": "#cf222e",
    "abandoned": "#6e7781",
    "running": "#9a6700",
    "queued": "#6e7781",
    "draft": "#9a6700",
    "approved": "#1a7f37",
    "rejected": "#cf222e",
}

CSS = """<style>
.nh-dash { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; color: #1f2328; }
.nh-dash h2 { font-size: 16px; margin: 18px 0 6px; }
.nh-dash h3 { font-size: 13px; margin: 8px 0 4px; }
.nh-title { font-size: 22px; font-weight: 650; margin: 4px 0 0; }
.nh-sub { color: #57606a; font-size: 12px; margin-bottom: 6px; }
.nh-scope { font-size: 13px; background: #f6f8fa; border: 1px solid #d0d7de;
  border-radius: 6px; padding: 6px 10px; margin: 6px 0; }
.nh-scope b { font-weight: 650; }
.nh-kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(118px, 1fr));
  gap: 8px; margin: 8px 0; }
.nh-kpi { border: 1px solid #d0d7de; border-radius: 8px; padding: 8px 10px; background: #fff;
  min-width: 0; }
.nh-kpi-label { color: #57606a; font-size: 12px; line-height: 1.25; min-height: 2.5em; }
.nh-kpi-value { font-size: 22px; font-weight: 650; margin-top: 2px; white-space: nowrap;
  font-variant-numeric: tabular-nums; }
.nh-kpi-note { color: #57606a; font-size: 11px; margin-top: 2px; line-height: 1.3; }
.nh-kpi-period { color: #8c959f; font-size: 10px; margin-top: 3px; }
.nh-kpis[data-state=loading] .nh-kpi-value { color: #afb8c1; }
.nh-panels { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr));
  gap: 8px 20px; align-items: start; margin-top: 6px; }
.nh-costs { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr));
  gap: 8px 16px; }
.nh-card { border: 1px solid #d0d7de; border-radius: 8px; padding: 8px; background: #fff; }
.nh-table { border-collapse: collapse; font-size: 12px; width: 100%; }
.nh-table th { text-align: left; color: #57606a; font-weight: 600;
  border-bottom: 1px solid #d0d7de; padding: 4px 6px; }
.nh-table td { border-bottom: 1px solid #eaeef2; padding: 4px 6px; vertical-align: top; }
.nh-table td.num { text-align: right; font-variant-numeric: tabular-nums; }
.nh-table tr.nh-total td { font-weight: 600; border-top: 1px solid #d0d7de; }
.nh-badge { color: #fff; border-radius: 10px; padding: 1px 8px; font-size: 11px; }
.nh-muted { color: #57606a; font-size: 12px; }
.nh-error { background: #ffebe9; border: 1px solid #ff818266; border-radius: 6px;
  padding: 6px 10px; font-size: 12px; }
.nh-json { background: #f6f8fa; border-radius: 6px; padding: 6px 8px; font-size: 11px;
  max-height: 260px; overflow: auto; white-space: pre-wrap; word-break: break-word; margin: 4px 0; }
.nh-facts { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 6px 12px;
  font-size: 12px; margin: 8px 0; }
.nh-facts span { color: #57606a; display: block; }
.nh-runs-head, .nh-runs select, .nh-drafts select { font-family: ui-monospace,
  'SFMono-Regular', Menlo, Consolas, monospace !important; font-size: 12px !important; }
.nh-runs-head { white-space: pre; color: #57606a; padding: 0 4px; }
.nh-dash .nh-runs, .nh-dash .nh-drafts { align-self: stretch; margin-right: 0; }
.nh-dash .nh-runs select, .nh-dash .nh-drafts select { width: 100%; box-sizing: border-box; }
/* ipywidgets give HTML a one-line height and shrink-wrap it: let ours flow. */
.nh-dash .widget-html, .nh-dash .widget-html-content { width: 100%; line-height: 1.4; }
.nh-dash .widget-html { margin: 2px 0; }
.nh-detail details summary { cursor: pointer; font-size: 12px; color: #0969da; }
.nh-download a { font-size: 13px; color: #0969da; }
</style>"""


def escape(value: object) -> str:
    """HTML-escaped text (``None`` as empty): everything from the store goes through it."""
    return html.escape("" if value is None else str(value), quote=True)


_esc = escape


def message(text: str, *, error: bool = False) -> str:
    """A one-line note in the page (errors in red): what a viewer sees of any failure."""
    style = "nh-error" if error else "nh-muted"
    return f"<div class='{style}' data-message>{_esc(text)}</div>"


def header(store_name: str) -> str:
    """The page's style sheet, title and one line on what it shows."""
    return (
        f"{CSS}<div class='nh-title'>NeonHub audit dashboard</div>"
        f"<div class='nh-sub'>Read-only view of the audit store <code>{_esc(store_name)}"
        "</code>. Times are UTC.</div>"
    )


def _short_period(scope: Scope) -> str:
    return scope.period.label[:1].lower() + scope.period.label[1:]


def scope_line(scope: Scope | None, modes: Mapping[str, int] | None = None) -> str:
    """What every number below counts, and what the mode switch leaves out."""
    if scope is None:
        return "<div class='nh-scope' data-scope>Loading…</div>"
    text = (
        f"Every number below counts <b>{_esc(scope.filters.describe())}</b> started in "
        f"<b>{_esc(scope.period.describe())}</b>; tool calls, tokens, cost, drafts and "
        "errors belong to the period their run started in."
    )
    hidden = {m: n for m, n in (modes or {}).items() if m != scope.filters.mode and n}
    if scope.filters.mode is not None and hidden:
        parts = ", ".join(f"{n:,} {m}" for m, n in sorted(hidden.items()))
        text += (
            f" <span data-hidden-modes>Not counted: {_esc(parts)} run(s) of other modes "
            "(switch <i>Runs</i> to include them).</span>"
        )
    return f"<div class='nh-scope' data-scope>{text}</div>"


def panels(runs_chart: str, failures_chart: str, connectors_chart: str, tables: str) -> str:
    """Trends, failures and connector calls in a two-column grid (one widget)."""
    return (
        f"<div class='nh-panels'><div>{runs_chart}</div><div>{failures_chart}</div>"
        f"<div>{connectors_chart}</div><div>{tables}</div></div>"
    )


def runs_summary(scope: Scope | None, matching: int, shown: int) -> str:
    """The runs list's heading and how many runs match (the filters are above)."""
    if scope is None:
        text = "Loading…"
    else:
        text = f"{matching:,} runs match ({_short_period(scope)})"
        text += f"; the newest {shown:,} are listed" if matching > shown else ""
        text += ". Choose one to see its timeline and details."
    return f"<h2>Runs</h2><div class='nh-muted' data-runs-matching='{matching}'>{_esc(text)}</div>"


def kpi_values(kpis: Kpis) -> dict[str, str]:
    """Each tile's text, by ``data-kpi`` name (what a viewer reads on the page)."""
    return {
        "runs": format_count(kpis.runs),
        "success_rate": format_rate(kpis.success_rate),
        "p50": format_duration(kpis.p50_ms),
        "p95": format_duration(kpis.p95_ms),
        "tokens": format_compact(kpis.total_tokens),
        "cost": format_cost(kpis.cost_usd),
        "drafts_approved": format_count(kpis.drafts_approved),
        "drafts_pending": format_count(kpis.drafts_pending),
        "drafts_rejected": format_count(kpis.drafts_rejected),
    }


def kpi_tiles(kpis: Kpis | None, scope: Scope | None, refreshes: int) -> str:
    """The tiles; ``None`` draws them empty while the first refresh runs. Each tile
    names its period (the scope line above says the filters)."""
    values = kpi_values(kpis) if kpis is not None else {}
    notes: dict[str, str] = {}
    if kpis is not None:
        notes = {
            "runs": f"{kpis.failed:,} failed, {kpis.abandoned:,} abandoned, "
            f"{kpis.in_progress:,} running",
            "success_rate": f"succeeded of {kpis.finished:,} finished runs",
            "p50": "runs with a duration",
            "p95": "runs with a duration",
            "tokens": f"{kpis.total_tokens:,} prompt + completion",
            "cost": "model usage, USD",
            "drafts_approved": "drafts of these runs",
            "drafts_pending": "drafts of these runs; list below",
            "drafts_rejected": "drafts of these runs",
        }
    period = _short_period(scope) if scope is not None else ""
    state = "ready" if kpis is not None else "loading"
    tiles = "".join(
        f"<div class='nh-kpi' data-kpi='{name}' title='{_esc(label)}: {_esc(period)}'>"
        f"<div class='nh-kpi-label'>{_esc(label)}</div>"
        f"<div class='nh-kpi-value'>{_esc(values.get(name, '…'))}</div>"
        f"<div class='nh-kpi-note'>{_esc(notes.get(name, ''))}&nbsp;</div>"
        f"<div class='nh-kpi-period'>{_esc(period)}&nbsp;</div></div>"
        for name, label in KPI_NAMES
    )
    return (
        f"<div class='nh-kpis' data-state='{state}' data-refreshes='{refreshes}' "
        f"aria-label='{_esc(period)}'>{tiles}</div>"
    )


def _table(headers: Sequence[str], rows: Iterable[str], empty: str) -> str:
    body = "".join(rows)
    if not body:
        return f"<div class='nh-muted'>{_esc(empty)}</div>"
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    return f"<table class='nh-table'><tr>{head}</tr>{body}</table>"


def badge(status: str) -> str:
    """A coloured status label."""
    colour = STATUS_COLOURS.get(status, "#6e7781")
    return f"<span class='nh-badge' style='background:{colour}'>{_esc(status)}</span>"


def cut(text: str, limit: int = 200) -> str:
    """``text`` shortened to ``limit`` characters, an ellipsis saying so."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _ts(value: datetime | None) -> str:
    return "–" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"


def _cost_table(title: str, rows: Sequence[CostRow], total: float, empty_key: str) -> str:
    body = (
        f"<tr><td>{_esc(r.key if r.key is not None else empty_key)}</td>"
        f"<td class='num'>{r.runs:,}</td><td class='num'>{format_compact(r.tokens)}</td>"
        f"<td class='num'>{format_cost(r.cost_usd)}</td>"
        f"<td class='num'>{format_rate(r.cost_usd / total) if total else '–'}</td></tr>"
        for r in rows
    )
    table = _table([title, "runs", "tokens", "cost", "share"], body, "No runs.")
    return f"<div class='nh-card' data-costs='{_esc(title)}'>{table}</div>"


def costs_tables(costs: Costs, total_usd: float, scope: Scope) -> str:
    """Cost by agent, by model and by campaign (each sums to the Cost tile)."""
    return (
        f"<h2>Cost by agent, model and campaign</h2><div class='nh-muted'>"
        f"{_esc(scope.filters.describe())}, {_esc(_short_period(scope))}; "
        f"each table sums to the Cost tile ({format_cost(total_usd)}).</div>"
        f"<div class='nh-costs'>{_cost_table('agent', costs.by_agent, total_usd, '(none)')}"
        f"{_cost_table('model', costs.by_model, total_usd, '(no model)')}"
        f"{_cost_table('campaign', costs.by_campaign, total_usd, '(no campaign)')}</div>"
    )


def errors_table(errors: Sequence[ErrorGroup], scope: Scope) -> str:
    rows = (
        f"<tr><td>{_esc(e.agent)}</td><td>{_esc(cut(e.error))}</td>"
        f"<td class='num'>{e.runs:,}</td><td>{_ts(e.last_seen)}</td></tr>"
        for e in errors
    )
    table = _table(
        ["agent", "error", "runs", "last run (UTC)"], rows, "No failed runs in this period."
    )
    return (
        f"<h2>Most frequent errors <span class='nh-muted'>({_esc(_short_period(scope))})"
        f"</span></h2><div class='nh-card' data-section='errors'>{table}</div>"
    )


def breaker_table(events: Sequence[BreakerEvent], scope: Scope) -> str:
    rows = (
        f"<tr><td>{_ts(e.at)}</td><td>{_esc(e.agent)}</td>"
        f"<td>{_esc(e.from_state)} → {_badge_state(e.to_state)}</td>"
        f"<td class='num'>{'' if e.failures is None else e.failures}</td>"
        f"<td>{_esc(cut(e.reason, 120))}</td></tr>"
        for e in events
    )
    table = _table(
        ["time (UTC)", "agent", "transition", "failures", "reason"],
        rows,
        "No circuit-breaker transitions in this period.",
    )
    return (
        f"<h2>Circuit-breaker events <span class='nh-muted'>({_esc(_short_period(scope))})"
        f"</span></h2><div class='nh-card' data-section='breaker'>{table}</div>"
    )


def _badge_state(state: str) -> str:
    colours = {"open": "#cf222e", "half_open": "#9a6700", "closed": "#1a7f37"}
    colour = colours.get(state, "#6e7781")
    return f"<span class='nh-badge' style='background:{colour}'>{_esc(state)}</span>"


def format_age(age: timedelta) -> str:
    """``45 min``, ``5 h``, ``3 d`` (a future time, from clock skew, reads ``0 min``)."""
    minutes = max(age.total_seconds(), 0) / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.0f} h"
    return f"{minutes / 1440:.0f} d"


def drafts_heading(scope: Scope | None, pending: int, shown: int, elsewhere: int) -> str:
    """Heading of the drafts list; its number is the "Drafts awaiting review" tile's."""
    if scope is None:
        return "<h2>Drafts awaiting review</h2><div class='nh-muted'>Loading…</div>"
    note = f"Drafts of the runs counted above ({_short_period(scope)}), newest first"
    if pending > shown:
        note += f"; the newest {shown:,} are listed"
    note += ". Choose one to open its run."
    if elsewhere:
        note += (
            f" {elsewhere:,} more draft(s) await review from runs outside this period "
            "or these filters."
        )
    return (
        f"<h2>Drafts awaiting review: <span data-pending-total='{pending}'>{pending:,}</span>"
        f"</h2><div class='nh-muted' data-pending-elsewhere='{elsewhere}'>{_esc(note)}</div>"
    )


def draft_label(draft: DraftRow, now: datetime) -> str:
    """One line of the drafts list: age, title, intent, run."""
    age = format_age(now - draft.created_at).rjust(7)
    title = cut(draft.title or "(untitled)", 48).ljust(48)
    return f"{age}  {title}  {cut(draft.intent or draft.agent, 26).ljust(26)}  {draft.run_id}"


def download_link(csv_text: str, rows: int, matching: int, at: datetime) -> str:
    """A link that downloads ``csv_text`` (``rows`` of the ``matching`` runs) as a file
    named after ``at``; a data: URL, so nothing is written on the server."""
    payload = base64.b64encode(csv_text.encode("utf-8")).decode("ascii")
    name = f"neonhub-runs-{at:%Y%m%d-%H%M%S}.csv"
    note = (
        f" (the newest {rows:,} of {matching:,}: narrow the period or filters for the rest)"
        if matching > rows
        else ""
    )
    return (
        f"<a download='{name}' href='data:text/csv;charset=utf-8;base64,{payload}' "
        f"data-rows='{rows}'>Download {rows:,} runs as {name}</a>"
        f"<span class='nh-muted'> {len(csv_text) / 1024:,.0f} KB, read "
        f"{at:%H:%M:%S} UTC{_esc(note)}</span>"
    )


_RUN_COLUMNS = (("started (UTC)", 19), ("agent", 10), ("intent", 28), ("status", 10),
                ("mode", 6), ("duration", 9), ("tokens", 9), ("cost", 10))  # fmt: skip


def _cell(text: str, width: int, right: bool = False) -> str:
    text = cut(text, width)
    return text.rjust(width) if right else text.ljust(width)


def runs_header() -> str:
    """Column titles above the runs list (a monospace listbox, so columns line up)."""
    cells = [_cell(n, w, i >= 5) for i, (n, w) in enumerate(_RUN_COLUMNS)]
    return f"<div class='nh-runs-head'>{_esc('  '.join(cells))}</div>"


def run_label(run: RunRow) -> str:
    """One line of the runs list, aligned with :func:`runs_header`."""
    values = (
        _ts(run.started_at),
        run.agent,
        run.intent,
        run.status,
        run.mode,
        format_duration(run.duration_ms),
        format_count(run.total_tokens),
        format_cost(run.cost_usd),
    )
    return "  ".join(
        _cell(v, w, i >= 5) for i, (v, (_, w)) in enumerate(zip(values, _RUN_COLUMNS, strict=True))
    )
