"""A run's timeline: its model and connector calls as a waterfall, as inline SVG + a table.

>>> from neonhub_nb.timeline import timeline_html                    # doctest: +SKIP
>>> detail = store.run_detail(run_id)                                 # doctest: +SKIP
>>> html = timeline_html(detail.tool_executions, run_started_at=detail.run["started_at"])

Drawn from ``tool_executions`` alone: each row's ``started_at`` and ``duration_ms`` place
its bar; its ``response`` JSON says what the call went through (``attempts``,
``http_status``, ``rate_limited``; for ``llm`` calls ``usage`` and ``cost_usd``). Keys a
record lacks (older runs, mock connectors) show as "–", never as 0. No JavaScript, no
plotting library: it renders the same in Voila, JupyterLab and an exported notebook, and
every text from the store is escaped. Needs only the standard library (no pandas).
The dashboard's run view, the notebook's run card and ``neonhub-nb show`` all use it.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .formats import format_cost as _money
from .formats import format_duration as _ms

__all__ = ["TimelineCall", "timeline_calls", "timeline_html", "timeline_text"]

# The fragment also renders outside the dashboard (the notebook widget, the run card):
# these few rules keep its table readable without the dashboard's stylesheet.
_STYLE = (
    "<style>.nh-timeline .num{text-align:right;font-variant-numeric:tabular-nums}"
    ".nh-timeline .nh-muted{color:#57606a;font-size:12px}"
    ".nh-timeline table{border-collapse:collapse;font-size:12px}"
    ".nh-timeline td,.nh-timeline th{padding:2px 8px;white-space:nowrap}</style>"
)
_COLOURS = {"succeeded": "#1a7f37", "failed": "#cf222e", "limited": "#bf8700", "other": "#6e7781"}
_FONT = "font-family='system-ui, -apple-system, Segoe UI, sans-serif' font-size='11'"
_WIDTH, _LABEL_W, _VALUE_W, _ROW_H, _TOP = 780, 240, 80, 18, 24


@dataclass(frozen=True)
class TimelineCall:
    """One tool execution placed on the run's time axis (milliseconds from its start).

    ``attempts``, ``http_status``, tokens and ``cost_usd`` are ``None`` when the record
    does not say; ``rate_limited`` counts the 429s met (``True`` in a record counts 1).
    """

    seq: int
    tool: str
    operation: str
    status: str
    offset_ms: float
    duration_ms: float | None
    attempts: int | None
    http_status: int | None
    rate_limited: int
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: float | None
    error: str | None

    @property
    def retries(self) -> int | None:
        return None if self.attempts is None else max(self.attempts - 1, 0)

    @property
    def tokens(self) -> int | None:
        if self.prompt_tokens is None and self.completion_tokens is None:
            return None
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)


def _records(tool_executions: Any) -> list[Mapping[str, Any]]:
    """Rows of a pandas DataFrame (``RunDetail.tool_executions``), or any iterable of
    ``ToolExecution`` records or mappings (DuckDB rows as dicts)."""
    if hasattr(tool_executions, "to_dict"):
        records: list[Mapping[str, Any]] = tool_executions.to_dict("records")
        return records
    return [r.model_dump() if hasattr(r, "model_dump") else dict(r) for r in tool_executions]


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN / NaT
    except (TypeError, ValueError):
        return False


def _json(value: Any) -> Mapping[str, Any]:
    if _missing(value):
        return {}
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        try:
            loaded = json.loads(value)
        except ValueError:
            return {}
        return loaded if isinstance(loaded, Mapping) else {}
    return {}


def _int(value: Any) -> int | None:
    if _missing(value) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if math.isfinite(number) else None


def _float(value: Any) -> float | None:
    if _missing(value) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _moment(value: Any) -> datetime | None:
    if _missing(value):
        return None
    if isinstance(value, datetime):
        moment = value
    elif hasattr(value, "to_pydatetime"):
        moment = value.to_pydatetime()
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return moment.replace(tzinfo=None) if moment.tzinfo is not None else moment


def _rate_limited(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    number = _int(value)
    return max(number or 0, 0)


def timeline_calls(
    tool_executions: Any, run_started_at: datetime | None = None
) -> list[TimelineCall]:
    """The calls in ``seq`` order, offsets measured from ``run_started_at`` (default:
    the first call's start). Rows without a start time are placed at offset 0."""
    rows = sorted(_records(tool_executions), key=lambda r: _int(r.get("seq")) or 0)
    starts = [_moment(r.get("started_at")) for r in rows]
    origin = _moment(run_started_at) or min((s for s in starts if s is not None), default=None)
    calls = []
    for row, start in zip(rows, starts, strict=True):
        response = _json(row.get("response"))
        usage = response.get("usage")
        usage = usage if isinstance(usage, Mapping) else {}
        offset = 0.0
        if start is not None and origin is not None:
            offset = (start - origin).total_seconds() * 1000
        error = row.get("error")
        calls.append(
            TimelineCall(
                seq=_int(row.get("seq")) or 0,
                tool=str(row.get("tool") or "?"),
                operation=str(row.get("operation") or ""),
                status=str(row.get("status") or "?"),
                offset_ms=offset,
                duration_ms=_float(row.get("duration_ms")),
                attempts=_int(response.get("attempts")),
                http_status=_int(response.get("http_status")),
                rate_limited=_rate_limited(response.get("rate_limited")),
                prompt_tokens=_int(usage.get("prompt_tokens")),
                completion_tokens=_int(usage.get("completion_tokens")),
                cost_usd=_float(response.get("cost_usd")),
                error=None if _missing(error) else str(error),
            )
        )
    return calls


def _esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _count(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def _step(span: float) -> float:
    raw = span / 6
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def _colour(call: TimelineCall) -> str:
    if call.status == "failed":
        return _COLOURS["failed"]
    if call.rate_limited or (call.retries or 0) > 0:
        return _COLOURS["limited"]
    return _COLOURS.get(call.status, _COLOURS["other"])


def _svg(calls: Sequence[TimelineCall], span: float, run_end: float | None) -> str:
    plot_w = _WIDTH - _LABEL_W - _VALUE_W
    height = _TOP + _ROW_H * len(calls) + 8
    step = _step(span)
    ticks = [i * step for i in range(int(span / step) + 1)]
    top = ticks[-1] if ticks[-1] >= span else ticks[-1] + step
    ticks = [t for t in ticks if t <= top] + ([top] if ticks[-1] < top else [])

    def x_of(ms: float) -> float:
        return _LABEL_W + plot_w * ms / top

    body = [
        f"<text x='{_LABEL_W - 24}' y='{_TOP - 9}' text-anchor='end' fill='#57606a'>"
        "from the run's start →</text>",
    ]
    for tick in ticks:
        x = x_of(tick)
        body.append(
            f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{_TOP - 6}' y2='{height - 4}' stroke='#eaeef2'/>"
            f"<text x='{x:.1f}' y='{_TOP - 9}' text-anchor='middle' fill='#57606a'>"
            f"{_esc(_ms(tick))}</text>"
        )
    if run_end:  # where the run finished, for calls that outlive it or end well before
        x = x_of(run_end)
        body.append(
            f"<line data-run-end x1='{x:.1f}' x2='{x:.1f}' y1='{_TOP - 4}' y2='{height - 4}' "
            f"stroke='#57606a' stroke-dasharray='3 3'><title>the run finished at "
            f"+{_esc(_ms(run_end))}</title></line>"
        )
    for row, call in enumerate(calls):
        y = _TOP + row * _ROW_H
        label = f"{call.seq}. {call.tool} {call.operation}".strip()
        if len(label) > 36:
            label = label[:35] + "…"
        details = [
            f"{call.tool} {call.operation}: {call.status}",
            f"starts at +{_ms(call.offset_ms)}",
            f"takes {_ms(call.duration_ms)}",
        ]
        if call.attempts is not None:
            details.append(f"{call.attempts} attempt(s)")
        if call.rate_limited:
            details.append(f"rate-limited {call.rate_limited}x")
        if call.http_status is not None:
            details.append(f"HTTP {call.http_status}")
        if call.tokens is not None:
            details.append(f"{call.tokens:,} tokens")
        if call.cost_usd is not None:
            details.append(_money(call.cost_usd))
        if call.error:
            details.append(call.error[:200])
        title = f"<title>{_esc(' · '.join(details))}</title>"
        body.append(
            f"<text x='{_LABEL_W - 6}' y='{y + 12}' text-anchor='end' fill='#1f2328'>"
            f"{_esc(label)}</text>"
        )
        x = x_of(max(call.offset_ms, 0))
        colour = _colour(call)
        if call.duration_ms is None or call.duration_ms <= 0:  # an instant: a diamond
            body.append(
                f"<g data-call='{call.seq}'><path d='M{x:.1f},{y + 3} l5,6 l-5,6 l-5,-6 z' "
                f"fill='{colour}'/>{title}</g>"
            )
            end = x + 6
        else:
            width = max(plot_w * call.duration_ms / top, 2)
            body.append(
                f"<g data-call='{call.seq}'><rect x='{x:.1f}' y='{y + 3}' width='{width:.1f}' "
                f"height='{_ROW_H - 6}' rx='2' fill='{colour}'/>{title}</g>"
            )
            end = x + width
        note = _ms(call.duration_ms)
        if (call.retries or 0) > 0:
            note += f" ×{call.attempts}"
        body.append(
            f"<text x='{min(end + 4, _WIDTH - _VALUE_W + 4):.1f}' y='{y + 12}' "
            f"fill='#57606a'>{_esc(note)}</text>"
        )
    return (
        f"<svg data-chart='timeline' role='img' aria-label='Timeline of the run&#39;s calls' "
        f"viewBox='0 0 {_WIDTH} {height}' xmlns='http://www.w3.org/2000/svg' "
        f"style='width:100%;height:auto;max-width:{_WIDTH * 1.15:.0f}px' {_FONT}>"
        f"{''.join(body)}</svg>"
    )


def _table(calls: Sequence[TimelineCall]) -> str:
    head = ("#", "call", "start", "duration", "status", "attempts", "HTTP", "tokens", "cost")
    rows = []
    for call in calls:
        limited = f" ({call.rate_limited}× 429)" if call.rate_limited else ""
        rows.append(
            f"<tr data-call='{call.seq}'><td class='num'>{call.seq}</td>"
            f"<td>{_esc(call.tool)} <span class='nh-muted'>{_esc(call.operation)}</span></td>"
            f"<td class='num'>+{_esc(_ms(call.offset_ms))}</td>"
            f"<td class='num'>{_esc(_ms(call.duration_ms))}</td>"
            f"<td>{_esc(call.status)}{_esc(limited)}</td>"
            f"<td class='num'>{_count(call.attempts)}</td>"
            f"<td class='num'>{_count(call.http_status).replace(',', '')}</td>"
            f"<td class='num'>{_count(call.tokens)}</td>"
            f"<td class='num'>{_esc(_money(call.cost_usd))}</td></tr>"
        )
    costs = [c.cost_usd for c in calls if c.cost_usd is not None]
    tokens = [c.tokens for c in calls if c.tokens is not None]
    total = (
        f"<tr class='nh-total'><td></td><td>{len(calls)} call(s)</td><td></td><td></td><td></td>"
        f"<td class='num'>{sum(c.attempts or 0 for c in calls) or '–'}</td><td></td>"
        f"<td class='num'>{_count(sum(tokens)) if tokens else '–'}</td>"
        f"<td class='num'>{_esc(_money(sum(costs)) if costs else '–')}</td></tr>"
    )
    header = "".join(f"<th>{h}</th>" for h in head)
    return (
        f"<table class='nh-table' data-section='timeline-calls'><tr>{header}</tr>"
        f"{''.join(rows)}{total}</table>"
    )


def timeline_html(
    tool_executions: Any,
    *,
    run_started_at: datetime | None = None,
    run_duration_ms: float | None = None,
) -> str:
    """The run's calls as a waterfall (SVG) above a table of each call's figures.

    ``tool_executions``: a DataFrame (``RunDetail.tool_executions``) or an iterable of
    mappings with ``seq``, ``tool``, ``operation``, ``status``, ``started_at``,
    ``duration_ms``, ``response`` (dict or JSON text) and ``error``. The time axis spans
    the run (``run_duration_ms``) or its calls, whichever is longer. Returns an HTML
    fragment (``<div class='nh-timeline'>``); no calls gives a one-line note.
    """
    calls = timeline_calls(tool_executions, run_started_at)
    if not calls:
        return "<div class='nh-timeline nh-muted'>No model or connector calls recorded.</div>"
    span = max(
        [run_duration_ms or 0.0] + [c.offset_ms + (c.duration_ms or 0) for c in calls] + [1.0]
    )
    legend = (
        "<div class='nh-muted'>Bars: when each call started and how long it took. "
        "<span style='color:#1a7f37'>■</span> succeeded "
        "<span style='color:#bf8700'>■</span> retried or rate-limited "
        "<span style='color:#cf222e'>■</span> failed; ◆ an instant event; "
        "dashed line: the run's end. "
        "Hover a bar for its details.</div>"
    )
    drawing = _svg(calls, span, run_duration_ms)
    return f"<div class='nh-timeline'>{_STYLE}{legend}{drawing}{_table(calls)}</div>"


def timeline_text(
    tool_executions: Any, *, run_started_at: datetime | None = None, width: int = 30
) -> str:
    """The same waterfall for a terminal (``neonhub-nb show``): one line per call with a
    bar of ``width`` columns (``#`` succeeded, ``x`` failed) on the run's time axis."""
    calls = timeline_calls(tool_executions, run_started_at)
    if not calls:
        return "no model or connector calls recorded"
    span = max(c.offset_ms + (c.duration_ms or 0) for c in calls) or 1.0
    label_width = max(len(f"{c.tool}.{c.operation}") for c in calls)
    lines = []
    for call in calls:
        start = min(width - 1, int(width * max(call.offset_ms, 0) / span))
        length = max(1, round(width * (call.duration_ms or 0) / span))
        bar = (" " * start + ("#" if call.status == "succeeded" else "x") * length)[:width]
        extra = f"  attempts {_count(call.attempts)}"
        if call.rate_limited:
            extra += f" ({call.rate_limited}x 429)"
        if call.tokens is not None:
            extra += f"  tokens {call.prompt_tokens or 0}/{call.completion_tokens or 0}"
        if call.cost_usd is not None:
            extra += f"  {_money(call.cost_usd)}"
        if call.error:
            extra += f"  {call.error[:200]}"
        lines.append(
            f"{call.seq:>3} {call.tool + '.' + call.operation:<{label_width}} |{bar:<{width}}| "
            f"+{_ms(call.offset_ms):>9} {_ms(call.duration_ms):>9} {call.status}{extra}"
        )
    return "\n".join(lines)
