"""HTML for the dashboard's tiles, tables and run detail; everything from the store escaped.

Values shown here come straight from the audit store, whose secrets were redacted when
they were written. Long texts (LLM responses hold whole articles) are cut so a page
stays light; the cut says how much was left out.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from ..store.queries import RunDetail
from .queries import BreakerEvent, DraftRow, ErrorGroup, Kpis, RunRow

__all__ = [
    "CSS",
    "KPI_NAMES",
    "breaker_table",
    "drafts_table",
    "errors_table",
    "escape",
    "format_compact",
    "format_cost",
    "format_count",
    "format_duration",
    "format_rate",
    "header",
    "kpi_tiles",
    "kpi_values",
    "panels",
    "run_detail_html",
    "run_label",
    "runs_header",
    "runs_summary",
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
    ("drafts_pending", "Drafts pending"),
    ("drafts_rejected", "Drafts rejected"),
)
_STATUS_COLOURS = {
    "succeeded": "#1a7f37",
    "failed": "#cf222e",
    "abandoned": "#6e7781",
    "running": "#9a6700",
    "queued": "#6e7781",
    "draft": "#9a6700",
    "approved": "#1a7f37",
    "rejected": "#cf222e",
}
_MAX_TEXT = 4000

CSS = """<style>
.nh-dash { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; color: #1f2328; }
.nh-dash h2 { font-size: 16px; margin: 18px 0 6px; }
.nh-title { font-size: 22px; font-weight: 650; margin: 4px 0 0; }
.nh-sub { color: #57606a; font-size: 12px; margin-bottom: 6px; }
.nh-kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(118px, 1fr));
  gap: 8px; margin: 8px 0; }
.nh-kpi { border: 1px solid #d0d7de; border-radius: 8px; padding: 8px 10px; background: #fff;
  min-width: 0; }
.nh-kpi-label { color: #57606a; font-size: 12px; white-space: nowrap; }
.nh-kpi-value { font-size: 22px; font-weight: 650; margin-top: 2px; white-space: nowrap;
  font-variant-numeric: tabular-nums; }
.nh-kpi-note { color: #57606a; font-size: 11px; margin-top: 2px; line-height: 1.3; }
.nh-kpis[data-state=loading] .nh-kpi-value { color: #afb8c1; }
.nh-panels { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr));
  gap: 8px 20px; align-items: start; margin-top: 6px; }
.nh-card { border: 1px solid #d0d7de; border-radius: 8px; padding: 8px; background: #fff; }
.nh-table { border-collapse: collapse; font-size: 12px; width: 100%; }
.nh-table th { text-align: left; color: #57606a; font-weight: 600;
  border-bottom: 1px solid #d0d7de; padding: 4px 6px; }
.nh-table td { border-bottom: 1px solid #eaeef2; padding: 4px 6px; vertical-align: top; }
.nh-table td.num { text-align: right; font-variant-numeric: tabular-nums; }
.nh-badge { color: #fff; border-radius: 10px; padding: 1px 8px; font-size: 11px; }
.nh-muted { color: #57606a; font-size: 12px; }
.nh-error { background: #ffebe9; border: 1px solid #ff818266; border-radius: 6px;
  padding: 6px 10px; font-size: 12px; }
.nh-json { background: #f6f8fa; border-radius: 6px; padding: 6px 8px; font-size: 11px;
  max-height: 260px; overflow: auto; white-space: pre-wrap; word-break: break-word; margin: 4px 0; }
.nh-facts { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 6px 12px;
  font-size: 12px; margin: 8px 0; }
.nh-facts span { color: #57606a; display: block; }
.nh-runs-head, .nh-runs select { font-family: ui-monospace, 'SFMono-Regular', Menlo,
  Consolas, monospace !important; font-size: 12px !important; }
.nh-runs-head { white-space: pre; color: #57606a; padding: 0 4px; }
.nh-dash .nh-runs { align-self: stretch; margin-right: 0; }
.nh-dash .nh-runs select { width: 100%; box-sizing: border-box; }
/* ipywidgets give HTML a one-line height and shrink-wrap it: let ours flow. */
.nh-dash .widget-html, .nh-dash .widget-html-content { width: 100%; line-height: 1.4; }
.nh-dash .widget-html { margin: 2px 0; }
.nh-detail details summary { cursor: pointer; font-size: 12px; color: #0969da; }
</style>"""


def escape(value: object) -> str:
    """HTML-escaped text (``None`` as empty): everything from the store goes through it."""
    return html.escape("" if value is None else str(value), quote=True)


_esc = escape


def header(store_name: str) -> str:
    """The page's style sheet, title and one line on what it shows."""
    return (
        f"{CSS}<div class='nh-title'>NeonHub audit dashboard</div>"
        f"<div class='nh-sub'>Read-only view of the audit store <code>{_esc(store_name)}"
        "</code>. Times are UTC.</div>"
    )


def panels(runs_chart: str, failures_chart: str, connectors_chart: str, tables: str) -> str:
    """Trends, failures and connector calls in a two-column grid (one widget)."""
    return (
        f"<div class='nh-panels'><div>{runs_chart}</div><div>{failures_chart}</div>"
        f"<div>{connectors_chart}</div><div>{tables}</div></div>"
    )


def runs_summary(period_label: str | None, matching: int, shown: int) -> str:
    """The runs list's heading and how many runs match (the filters come next)."""
    if period_label is None:
        text = "Loading…"
    else:
        text = f"{matching:,} runs match in {period_label.lower()}"
        text += f"; the newest {shown:,} are listed" if matching > shown else ""
        text += ". Choose one to see its details."
    return (
        f"<h2>Recent runs</h2><div class='nh-muted' data-runs-matching='{matching}'>"
        f"{_esc(text)}</div>"
    )


def format_count(value: int | float) -> str:
    return f"{value:,.0f}"


def format_compact(value: int | float) -> str:
    """Large counts for a tile: 1,234,567 stays, 1,350,357,912 becomes 1.35 B."""
    for size, unit in ((1e9, "B"), (1e6, "M")):
        if abs(value) >= 10 * size or (unit == "B" and abs(value) >= size):
            return f"{value / size:,.2f} {unit}"
    return format_count(value)


def format_duration(ms: float | None) -> str:
    if ms is None:
        return "–"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 120_000:
        return f"{ms / 1000:.2f} s"
    return f"{ms / 60_000:.1f} min"


def format_cost(usd: float | None) -> str:
    if usd is None:
        return "–"
    return f"${usd:,.2f}" if usd >= 1 else f"${usd:.4f}"


def format_rate(rate: float | None) -> str:
    return "–" if rate is None else f"{rate * 100:.1f}%"


def _ts(value: datetime | None) -> str:
    return "–" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"


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


def kpi_tiles(kpis: Kpis | None, period_label: str, refreshes: int) -> str:
    """The tiles; ``None`` draws them empty while the first refresh runs."""
    values = kpi_values(kpis) if kpis is not None else {}
    notes: dict[str, str] = {}
    if kpis is not None:
        notes = {
            "runs": f"{kpis.failed:,} failed, {kpis.abandoned:,} abandoned, "
            f"{kpis.in_progress:,} running",
            "success_rate": f"of {kpis.finished:,} finished runs",
            "p50": "finished runs",
            "p95": "finished runs",
            "tokens": f"{kpis.total_tokens:,} prompt + completion",
            "cost": "model usage, USD",
            "drafts_pending": "awaiting review",
        }
    state = "ready" if kpis is not None else "loading"
    tiles = "".join(
        f"<div class='nh-kpi' data-kpi='{name}'><div class='nh-kpi-label'>{_esc(label)}</div>"
        f"<div class='nh-kpi-value'>{_esc(values.get(name, '…'))}</div>"
        f"<div class='nh-kpi-note'>{_esc(notes.get(name, ''))}&nbsp;</div></div>"
        for name, label in KPI_NAMES
    )
    return (
        f"<div class='nh-kpis' data-state='{state}' data-refreshes='{refreshes}' "
        f"aria-label='{_esc(period_label)}'>{tiles}</div>"
    )


def _table(headers: Sequence[str], rows: Iterable[str], empty: str) -> str:
    body = "".join(rows)
    if not body:
        return f"<div class='nh-muted'>{_esc(empty)}</div>"
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    return f"<table class='nh-table'><tr>{head}</tr>{body}</table>"


def _badge(status: str) -> str:
    colour = _STATUS_COLOURS.get(status, "#6e7781")
    return f"<span class='nh-badge' style='background:{colour}'>{_esc(status)}</span>"


def _cut(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def errors_table(errors: Sequence[ErrorGroup]) -> str:
    rows = (
        f"<tr><td>{_esc(e.agent)}</td><td>{_esc(_cut(e.error))}</td>"
        f"<td class='num'>{e.runs:,}</td><td>{_ts(e.last_seen)}</td></tr>"
        for e in errors
    )
    table = _table(
        ["agent", "error", "runs", "last seen (UTC)"], rows, "No failed runs in this period."
    )
    return f"<h2>Most frequent errors</h2><div class='nh-card' data-section='errors'>{table}</div>"


def breaker_table(events: Sequence[BreakerEvent]) -> str:
    rows = (
        f"<tr><td>{_ts(e.at)}</td><td>{_esc(e.agent)}</td>"
        f"<td>{_esc(e.from_state)} → {_badge_state(e.to_state)}</td>"
        f"<td class='num'>{'' if e.failures is None else e.failures}</td>"
        f"<td>{_esc(_cut(e.reason, 120))}</td></tr>"
        for e in events
    )
    table = _table(
        ["time (UTC)", "agent", "transition", "failures", "reason"],
        rows,
        "No circuit-breaker transitions in this period.",
    )
    return (
        f"<h2>Circuit-breaker events</h2><div class='nh-card' data-section='breaker'>{table}</div>"
    )


def _badge_state(state: str) -> str:
    colours = {"open": "#cf222e", "half_open": "#9a6700", "closed": "#1a7f37"}
    colour = colours.get(state, "#6e7781")
    return f"<span class='nh-badge' style='background:{colour}'>{_esc(state)}</span>"


def drafts_table(drafts: Sequence[DraftRow], total: int) -> str:
    rows = (
        f"<tr><td>{_ts(d.created_at)}</td><td>{_esc(d.title or '(untitled)')}</td>"
        f"<td>{_esc(d.topic)}</td><td>{_esc(d.primary_keyword)}</td>"
        f"<td><code>{_esc(d.run_id)}</code></td></tr>"
        for d in drafts
    )
    table = _table(
        ["created (UTC)", "title", "topic", "keyword", "run"], rows, "No drafts awaiting review."
    )
    shown = f" (newest {len(drafts)} shown)" if total > len(drafts) else ""
    return (
        f"<h2>Drafts awaiting review: <span data-pending-total='{total}'>{total:,}</span>"
        f"<span class='nh-muted'>{shown}</span></h2>"
        f"<div class='nh-card' data-section='drafts'>{table}</div>"
    )


_RUN_COLUMNS = (("started (UTC)", 19), ("agent", 10), ("intent", 28), ("status", 10),
                ("mode", 6), ("duration", 9), ("tokens", 9), ("cost", 9))  # fmt: skip


def _cell(text: str, width: int, right: bool = False) -> str:
    text = _cut(text, width)
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
        "–" if run.total_tokens is None else format_count(run.total_tokens),
        format_cost(run.cost_usd),
    )
    return "  ".join(
        _cell(v, w, i >= 5) for i, (v, (_, w)) in enumerate(zip(values, _RUN_COLUMNS, strict=True))
    )


def _json_block(value: Any) -> str:
    if value is None:
        return "<div class='nh-muted'>–</div>"
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False,
                                                           default=str)  # fmt: skip
    if len(text) > _MAX_TEXT:
        text = f"{text[:_MAX_TEXT]}\n… ({len(text) - _MAX_TEXT:,} more characters)"
    return f"<pre class='nh-json'>{_esc(text)}</pre>"


def _loads(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _tools_table(detail: RunDetail) -> str:
    rows = []
    for tool in detail.tool_executions.to_dict("records"):
        error = tool.get("error")
        error_text = "" if error is None or error != error else str(error)
        rows.append(
            f"<tr data-tool='{_esc(tool['tool'])}'><td class='num'>{tool['seq']}</td>"
            f"<td>{_esc(tool['tool'])}</td><td>{_esc(tool['operation'])}</td>"
            f"<td>{_badge(str(tool['status']))}</td>"
            f"<td class='num'>{format_duration(_num(tool.get('duration_ms')))}</td>"
            f"<td>{_esc(_cut(error_text, 160))}"
            f"<details><summary>request / response</summary>"
            f"{_json_block(_loads(tool.get('request')))}"
            f"{_json_block(_loads(tool.get('response')))}</details></td></tr>"
        )
    return _table(
        ["#", "tool", "operation", "status", "duration", "error / details"],
        rows,
        "No tool executions recorded for this run.",
    )


def _num(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if number != number else number


def run_detail_html(detail: RunDetail) -> str:
    """One run: facts, error, metrics, input, output, tool executions and draft."""
    run = detail.run
    facts = [
        ("run", run.get("run_id")),
        ("agent", run.get("agent")),
        ("mode", run.get("mode")),
        ("started (UTC)", _ts(run.get("started_at"))),
        ("finished (UTC)", _ts(run.get("finished_at"))),
        ("duration", format_duration(_num(run.get("duration_ms")))),
        ("model", run.get("model") or "–"),
        ("prompt", f"{run.get('prompt_name') or '–'} {run.get('prompt_version') or ''}"),
        ("experiment", f"{run.get('experiment_id') or '–'} {run.get('variant') or ''}"),
        ("campaign", run.get("campaign") or "–"),
        ("redacted fields", ", ".join(run.get("redacted_fields") or []) or "none"),
    ]
    fact_html = "".join(f"<div><span>{_esc(k)}</span>{_esc(v)}</div>" for k, v in facts)
    error = (
        f"<div class='nh-error'><b>Error:</b> {_esc(run['error'])}</div>"
        if run.get("error")
        else ""
    )
    metrics = _table(
        ["metric", "value", "unit"],
        (
            f"<tr><td>{_esc(m['name'])}</td><td class='num'>{m['value']:,.6g}</td>"
            f"<td>{_esc(m['unit'] or '')}</td></tr>"
            for m in detail.metrics.to_dict("records")
        ),
        "No metrics recorded for this run.",
    )
    draft = ""
    if detail.draft:
        d = detail.draft
        review = f" by {_esc(d.get('reviewer'))}" if d.get("reviewer") else ""
        draft = (
            f"<h2>Draft</h2><div class='nh-card'>{_badge(str(d.get('status')))}{review} "
            f"<b>{_esc(d.get('title') or '(untitled)')}</b>"
            f"<details><summary>content</summary>{_json_block(d.get('content'))}</details></div>"
        )
    return (
        f"<div class='nh-detail' data-run-id='{_esc(run.get('run_id'))}'>"
        f"<h2>Run {_badge(str(run.get('status')))} {_esc(run.get('intent'))}</h2>"
        f"<div class='nh-facts'>{fact_html}</div>{error}"
        f"<h2>Tool executions ({len(detail.tool_executions)})</h2>"
        f"<div class='nh-card' data-section='tools'>{_tools_table(detail)}</div>"
        f"<h2>Metrics</h2><div class='nh-card'>{metrics}</div>"
        f"<h2>Input</h2>{_json_block(run.get('input'))}"
        f"<h2>Output</h2>{_json_block(run.get('output'))}{draft}</div>"
    )
