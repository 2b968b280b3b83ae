"""HTML views of results for notebooks: a run card that reads at a glance, and a run's
timeline (its model and connector calls as a waterfall).

The timeline reads tool executions as the store keeps them (``tool_executions`` rows, or
:class:`~neonhub_nb.records.ToolExecution` records), so any reader of the store can draw it.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from .models import RunResult
    from .records import ToolExecution

__all__ = [
    "TimelineRow",
    "figure_png",
    "format_cost",
    "format_number",
    "markdown_to_html",
    "readable_metrics",
    "run_card_html",
    "show_figure",
    "timeline_html",
    "timeline_rows",
    "timeline_text",
]

_STATUS_COLOURS = {
    "succeeded": "#1a7f37",
    "failed": "#cf222e",
    "running": "#9a6700",
    "abandoned": "#6e7781",
    "queued": "#6e7781",
}


def markdown_to_html(markdown: str) -> str:
    """Just enough Markdown (headings, paragraphs, bullet lists) for drafts, escaped."""
    blocks = []
    for block in markdown.strip().split("\n\n"):
        text = block.strip()
        if text.startswith("### "):
            blocks.append(f"<h4>{html.escape(text[4:])}</h4>")
        elif text.startswith("## "):
            blocks.append(f"<h3>{html.escape(text[3:])}</h3>")
        elif text.startswith("# "):
            blocks.append(f"<h2>{html.escape(text[2:])}</h2>")
        elif all(line.lstrip().startswith(("- ", "* ")) for line in text.splitlines()):
            items = "".join(
                f"<li>{html.escape(line.lstrip()[2:])}</li>" for line in text.splitlines()
            )
            blocks.append(f"<ul>{items}</ul>")
        else:
            blocks.append(f"<p>{html.escape(text)}</p>")
    return "\n".join(blocks)


def _duration(ms: float | None) -> str:
    if ms is None:
        return "-"
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"


def format_cost(usd: float | None) -> str:
    """Money as money: ``$0.0123``, ``$0.000071``, ``$0`` (never ``7.065e-05``)."""
    if usd is None:
        return "-"
    if usd == 0:
        return "$0"
    if abs(usd) >= 0.01:
        return f"${usd:,.4f}"
    return f"${usd:.6f}".rstrip("0")


def run_card_html(
    result: RunResult, *, show_content: bool = True, show_timeline: bool = True
) -> str:
    """The card of one run: status, facts, its agent's output view, the timeline of its
    tool calls, and (``show_content``) the draft's text. Every value is escaped."""
    from .result_views import result_output_html

    colour = _STATUS_COLOURS.get(result.status, "#6e7781")
    esc = html.escape
    facts = [
        ("run", result.run_id),
        ("intent", result.intent),
        ("mode", result.mode),
        ("duration", _duration(result.duration_ms)),
        ("tokens", f"{result.prompt_tokens:,} in / {result.completion_tokens:,} out"),
        ("cost", format_cost(result.cost_usd)),
        ("prompt", f"{result.prompt_name or '-'} {result.prompt_version or ''}".strip()),
    ]
    if result.draft_id:
        facts.append(("draft", result.draft_id))
    fact_html = "".join(
        f"<div><span style='color:#57606a'>{esc(k)}</span><br><code>{esc(v)}</code></div>"
        for k, v in facts
    )
    error = (
        f"<div style='background:#ffebe9;padding:8px;border-radius:4px;margin:8px 0'>"
        f"<b>Error:</b> {esc(result.error)}</div>"
        if result.error
        else ""
    )
    output = result_output_html(result) if result.output else ""
    body = (
        f"<details open><summary>Draft</summary>{markdown_to_html(result.content)}</details>"
        if show_content and result.content
        else ""
    )
    timeline = (
        "<details class='neonhub-timeline-details'><summary>Timeline: "
        f"{len(result.tool_executions)} tool call(s)</summary>"
        + timeline_html(
            result.tool_executions,
            run_started_at=result.started_at,
            run_duration_ms=result.duration_ms,
        )
        + "</details>"
        if show_timeline
        else ""
    )
    return (
        "<div class='neonhub-run-card' style='border:1px solid #d0d7de;border-radius:6px;"
        "padding:12px;font-family:sans-serif;max-width:900px'>"
        f"<div style='display:flex;gap:8px;align-items:center'>"
        f"<span style='background:{colour};color:white;padding:2px 8px;border-radius:10px'>"
        f"{esc(result.status)}</span><b>{esc(result.title or result.intent)}</b></div>"
        f"<div style='display:grid;grid-template-columns:repeat(4,1fr);gap:6px;margin:8px 0'>"
        f"{fact_html}</div>{error}{output}{timeline}{body}</div>"
    )


def format_number(value: float, unit: str = "", name: str = "") -> str:
    """A metric as people read it: ``733`` (never ``733.000000``), ``$0.000468`` for
    dollars, ``2.5`` for fractions."""
    if unit.lower() in {"usd", "$"} or name.endswith("_usd"):
        return format_cost(value)
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.3f}".rstrip("0")


def readable_metrics(metrics: pd.DataFrame) -> pd.DataFrame:
    """A run's metrics (``name``, ``value``, ``unit`` columns, as ``run_detail`` gives
    them) indexed by name, each value formatted by :func:`format_number`."""
    rows = metrics.to_dict("records")
    return metrics.assign(
        value=[
            format_number(float(r["value"]), str(r.get("unit") or ""), str(r["name"])) for r in rows
        ],
        unit=[str(r.get("unit") or "") for r in rows],
    ).set_index("name")[["value", "unit"]]


def figure_png(figure: Figure) -> bytes:
    """PNG bytes of a matplotlib figure, without the metadata that changes between runs."""
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def show_figure(figure: Figure) -> None:
    """Display a figure as a PNG in a notebook or Voila (renders offline, no JavaScript)."""
    from IPython.display import Image, display

    display(Image(data=figure_png(figure), format="png"))  # type: ignore[no-untyped-call]


# ------------------------------------------------------------------ timeline
@dataclass(frozen=True)
class TimelineRow:
    """One tool call of a run, placed on the run's time axis.

    ``offset_ms`` is its start after the run's start (or after the first call's, when the
    run's start is not given); ``attempts`` counts tries (retries + 1; 0 when the call
    never reached a transport); tokens and cost are the model's (``None`` for connectors).
    """

    seq: int
    tool: str
    operation: str
    status: str
    offset_ms: float
    duration_ms: float
    attempts: int
    rate_limited: int
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    model: str | None = None
    http_status: int | None = None
    error: str | None = None

    @property
    def end_ms(self) -> float:
        return self.offset_ms + self.duration_ms


def _field(execution: Any, name: str) -> Any:
    if isinstance(execution, Mapping):
        return execution.get(name)
    return getattr(execution, name, None)


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return dict(value) if isinstance(value, Mapping) else {}


def _as_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    to_py = getattr(value, "to_pydatetime", None)  # pandas Timestamp
    if to_py is not None:
        value = to_py()
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=None)  # the store's times are naive UTC


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def timeline_rows(
    executions: Iterable[ToolExecution | Mapping[str, Any]],
    *,
    run_started_at: datetime | None = None,
) -> list[TimelineRow]:
    """The tool calls of one run in order of ``seq``, each with its start offset, duration,
    status, attempts, rate-limit hits, tokens and cost.

    ``executions`` are :class:`~neonhub_nb.records.ToolExecution` records or
    ``tool_executions`` rows (dicts whose ``response`` may still be a JSON string, whose
    ``started_at`` may be a pandas Timestamp). Offsets are milliseconds after
    ``run_started_at`` (default: the earliest call's start); never negative.
    """
    items = sorted(executions, key=lambda e: _int(_field(e, "seq")) or 0)
    starts = [_as_datetime(_field(e, "started_at")) for e in items]
    known = [s for s in starts if s is not None]
    origin = _as_datetime(run_started_at) or (min(known) if known else None)
    rows = []
    for execution, start in zip(items, starts, strict=True):
        response = _as_dict(_field(execution, "response"))
        usage = _as_dict(response.get("usage"))
        is_model = str(_field(execution, "tool")) == "llm"
        offset = (start - origin).total_seconds() * 1000 if start and origin else 0.0
        request = _as_dict(_field(execution, "request"))
        rows.append(
            TimelineRow(
                seq=_int(_field(execution, "seq")) or 0,
                tool=str(_field(execution, "tool")),
                operation=str(_field(execution, "operation")),
                status=str(_field(execution, "status")),
                offset_ms=max(0.0, offset),
                duration_ms=float(_field(execution, "duration_ms") or 0.0),
                attempts=_int(response.get("attempts")) or (1 if is_model else 0),
                rate_limited=_int(response.get("rate_limited")) or 0,
                prompt_tokens=_int(usage.get("prompt_tokens")) if is_model else None,
                completion_tokens=_int(usage.get("completion_tokens")) if is_model else None,
                cost_usd=float(response.get("cost_usd") or 0.0) if is_model else None,
                model=(response.get("model") or request.get("model")) if is_model else None,
                http_status=_int(response.get("http_status")),
                error=_field(execution, "error") or None,
            )
        )
    return rows


def _ms(value: float) -> str:
    return f"{value:,.1f} ms" if value < 1000 else f"{value / 1000:,.2f} s"


def timeline_html(
    executions: Iterable[ToolExecution | Mapping[str, Any]],
    *,
    run_started_at: datetime | None = None,
    run_duration_ms: float | None = None,
) -> str:
    """A run's tool calls as a waterfall: one row per call with a bar from its start
    offset for its duration (green succeeded, red failed) on a common axis of the run's
    duration, and its attempts, tokens and cost. Plain HTML and CSS: renders offline in
    JupyterLab and Voila. ``<div class="neonhub-timeline">``; each row ``neonhub-span``."""
    rows = timeline_rows(executions, run_started_at=run_started_at)
    if not rows:
        return "<div class='neonhub-timeline'><i>No tool calls recorded.</i></div>"
    span = max([run_duration_ms or 0.0, *(row.end_ms for row in rows)]) or 1.0
    esc = html.escape
    head = (
        "<tr style='color:#57606a;font-size:11px;text-align:left'><th>#</th><th>call</th>"
        f"<th style='width:40%;text-align:left'>0 &rarr; {esc(_ms(span))}</th><th>start</th>"
        "<th>time</th><th>tries</th><th>tokens in/out</th><th>cost</th></tr>"
    )
    body = []
    for row in rows:
        colour = "#1a7f37" if row.status == "succeeded" else "#cf222e"
        left = 100 * row.offset_ms / span
        width = 100 * row.duration_ms / span
        label = f"{row.tool}.{row.operation}"
        detail = label + (f" ({row.model})" if row.model else "")
        if row.error:
            detail += f": {row.error}"
        tries = str(row.attempts) + (f" ({row.rate_limited}&times;429)" if row.rate_limited else "")
        tokens = (
            f"{row.prompt_tokens or 0:,}/{row.completion_tokens or 0:,}"
            if row.prompt_tokens is not None
            else ""
        )
        cost = format_cost(row.cost_usd) if row.cost_usd is not None else ""
        body.append(
            f"<tr class='neonhub-span' data-status='{esc(row.status)}' title='{esc(detail)}'>"
            f"<td>{row.seq}</td><td style='white-space:nowrap'>{esc(label)}</td>"
            "<td><div style='position:relative;height:12px;background:#f6f8fa'>"
            f"<div style='position:absolute;left:{left:.2f}%;width:max(2px,{width:.2f}%);"
            f"height:12px;background:{colour};border-radius:2px'></div></div></td>"
            f"<td style='text-align:right'>{esc(_ms(row.offset_ms))}</td>"
            f"<td style='text-align:right'>{esc(_ms(row.duration_ms))}</td>"
            f"<td style='text-align:right'>{tries}</td>"
            f"<td style='text-align:right'>{tokens}</td>"
            f"<td style='text-align:right'>{cost}</td>"
            "</tr>"
        )
    failed = [row for row in rows if row.status != "succeeded"]
    errors = "".join(
        f"<div style='color:#cf222e;font-size:12px'>#{row.seq} {esc(row.tool)}."
        f"{esc(row.operation)}: {esc(row.error or row.status)}</div>"
        for row in failed
    )
    return (
        "<div class='neonhub-timeline' style='font-size:12px;max-width:900px'>"
        "<style>.neonhub-timeline td,.neonhub-timeline th{white-space:nowrap;"
        "padding:1px 6px;text-align:right}.neonhub-timeline td:nth-child(2),"
        ".neonhub-timeline th:nth-child(2){text-align:left}</style>"
        "<table style='width:100%;border-collapse:collapse'>"
        f"{head}{''.join(body)}</table>{errors}</div>"
    )


def timeline_text(
    executions: Iterable[ToolExecution | Mapping[str, Any]],
    *,
    run_started_at: datetime | None = None,
    width: int = 30,
) -> str:
    """The same waterfall for a terminal: one line per call, a bar of ``width`` columns."""
    rows = timeline_rows(executions, run_started_at=run_started_at)
    if not rows:
        return "no tool calls recorded"
    span = max(row.end_ms for row in rows) or 1.0
    label_width = max(len(f"{r.tool}.{r.operation}") for r in rows)
    lines = []
    for row in rows:
        start = min(width - 1, int(width * row.offset_ms / span))
        length = max(1, round(width * row.duration_ms / span))
        bar = (" " * start + ("#" if row.status == "succeeded" else "x") * length)[:width]
        extra = f"  tries {row.attempts}"
        if row.prompt_tokens is not None:
            extra += f"  tokens {row.prompt_tokens}/{row.completion_tokens}"
            extra += f"  {format_cost(row.cost_usd)}"
        if row.error:
            extra += f"  {row.error}"
        lines.append(
            f"{row.seq:>3} {row.tool + '.' + row.operation:<{label_width}} |{bar:<{width}}| "
            f"+{_ms(row.offset_ms):>10} {_ms(row.duration_ms):>10} {row.status}{extra}"
        )
    return "\n".join(lines)
