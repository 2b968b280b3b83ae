"""One run in the dashboard: facts, error, timeline, tool calls, metrics, input, output, draft.

Everything shown comes from the audit store (secrets were redacted when it was written)
and is escaped; long texts are cut, the cut saying how much was left out.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..formats import format_cost, format_count, format_duration
from ..timeline import timeline_html
from .views import badge, cut, escape

if TYPE_CHECKING:
    from ..store.queries import RunDetail

__all__ = ["format_metric", "run_detail_html"]

_MAX_TEXT = 4000


def _json_block(value: Any) -> str:
    if value is None:
        return "<div class='nh-muted'>–</div>"
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False,
                                                           default=str)  # fmt: skip
    if len(text) > _MAX_TEXT:
        text = f"{text[:_MAX_TEXT]}\n… ({len(text) - _MAX_TEXT:,} more characters)"
    return f"<pre class='nh-json'>{escape(text)}</pre>"


def _loads(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number


def _ts(value: Any) -> str:
    if value is None or value != value:
        return "–"
    return f"{value:%Y-%m-%d %H:%M:%S}" if hasattr(value, "strftime") else str(value)


def format_metric(value: float, unit: str | None) -> str:
    """A metric as its unit reads: money as money, tokens and calls as integers."""
    unit = (unit or "").strip()
    if unit.upper() == "USD":
        return format_cost(value)
    if unit == "ms":
        return format_duration(value)
    if float(value).is_integer():
        return format_count(value)
    return f"{value:,.4f}".rstrip("0").rstrip(".")


def _tools_table(detail: RunDetail) -> str:
    rows = []
    for tool in detail.tool_executions.to_dict("records"):
        error = tool.get("error")
        error_text = "" if error is None or error != error else str(error)
        rows.append(
            f"<tr data-tool='{escape(tool['tool'])}'><td class='num'>{tool['seq']}</td>"
            f"<td>{escape(tool['tool'])}</td><td>{escape(tool['operation'])}</td>"
            f"<td>{badge(str(tool['status']))}</td>"
            f"<td class='num'>{format_duration(_num(tool.get('duration_ms')))}</td>"
            f"<td>{escape(cut(error_text, 160))}"
            f"<details><summary>request / response</summary>"
            f"{_json_block(_loads(tool.get('request')))}"
            f"{_json_block(_loads(tool.get('response')))}</details></td></tr>"
        )
    if not rows:
        return "<div class='nh-muted'>No tool executions recorded for this run.</div>"
    head = "".join(
        f"<th>{h}</th>" for h in ("#", "tool", "operation", "status", "duration", "error / details")
    )
    return f"<table class='nh-table'><tr>{head}</tr>{''.join(rows)}</table>"


def run_detail_html(detail: RunDetail) -> str:
    """One run: facts, error, timeline, tool executions, metrics, input, output, draft."""
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
    fact_html = "".join(f"<div><span>{escape(k)}</span>{escape(v)}</div>" for k, v in facts)
    error = (
        f"<div class='nh-error'><b>Error:</b> {escape(run['error'])}</div>"
        if run.get("error")
        else ""
    )
    metric_rows = "".join(
        f"<tr><td>{escape(m['name'])}</td>"
        f"<td class='num'>{escape(format_metric(float(m['value']), m['unit']))}</td>"
        f"<td>{escape(m['unit'] or '')}</td></tr>"
        for m in detail.metrics.to_dict("records")
    )
    metrics = (
        f"<table class='nh-table'><tr><th>metric</th><th>value</th><th>unit</th></tr>"
        f"{metric_rows}</table>"
        if metric_rows
        else "<div class='nh-muted'>No metrics recorded for this run.</div>"
    )
    draft = ""
    if detail.draft:
        d = detail.draft
        review = f" by {escape(d.get('reviewer'))}" if d.get("reviewer") else ""
        draft = (
            f"<h2>Draft</h2><div class='nh-card'>{badge(str(d.get('status')))}{review} "
            f"<b>{escape(d.get('title') or '(untitled)')}</b>"
            f"<details><summary>content</summary>{_json_block(d.get('content'))}</details></div>"
        )
    timeline = timeline_html(
        detail.tool_executions,
        run_started_at=run.get("started_at"),
        run_duration_ms=_num(run.get("duration_ms")),
    )
    return (
        f"<div class='nh-detail' data-run-id='{escape(run.get('run_id'))}'>"
        f"<h2>Run {badge(str(run.get('status')))} {escape(run.get('intent'))}</h2>"
        f"<div class='nh-facts'>{fact_html}</div>{error}"
        f"<h2>Timeline</h2><div class='nh-card' data-section='timeline'>{timeline}</div>"
        f"<h2>Tool executions ({len(detail.tool_executions)})</h2>"
        f"<div class='nh-card' data-section='tools'>{_tools_table(detail)}</div>"
        f"<h2>Metrics</h2><div class='nh-card' data-section='metrics'>{metrics}</div>"
        f"<h2>Input</h2>{_json_block(run.get('input'))}"
        f"<h2>Output</h2>{_json_block(run.get('output'))}{draft}</div>"
    )
