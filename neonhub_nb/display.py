"""HTML views of results for notebooks: a run card that reads at a glance, with the
agent's output (``result_views``) and the run's timeline (``timeline``)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from .formats import format_cost, format_duration
from .timeline import timeline_html

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from .models import RunResult

__all__ = [
    "figure_png",
    "format_number",
    "markdown_to_html",
    "readable_metrics",
    "run_card_html",
    "show_figure",
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
        ("duration", format_duration(result.duration_ms)),
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
