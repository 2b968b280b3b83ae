"""HTML views of results for notebooks: a run card that reads at a glance."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .models import RunResult

__all__ = ["figure_png", "markdown_to_html", "run_card_html", "show_figure"]

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


def run_card_html(result: RunResult, *, show_content: bool = True) -> str:
    colour = _STATUS_COLOURS.get(result.status, "#6e7781")
    esc = html.escape
    facts = [
        ("run", result.run_id),
        ("intent", result.intent),
        ("mode", result.mode),
        ("duration", _duration(result.duration_ms)),
        ("tokens", f"{result.prompt_tokens} in / {result.completion_tokens} out"),
        ("cost", f"${result.cost_usd:.5f}"),
        ("prompt", f"{result.prompt_name or '-'} {result.prompt_version or ''}".strip()),
    ]
    if result.draft_id:
        facts.append(("draft", result.draft_id))
    fact_html = "".join(
        f"<div><span style='color:#57606a'>{esc(k)}</span><br><code>{esc(v)}</code></div>"
        for k, v in facts
    )
    tools = "".join(
        f"<tr><td>{t.seq}</td><td>{esc(t.tool)}.{esc(t.operation)}</td>"
        f"<td>{esc(t.status)}</td><td>{t.duration_ms:.1f} ms</td></tr>"
        for t in result.tool_executions
    )
    error = (
        f"<div style='background:#ffebe9;padding:8px;border-radius:4px;margin:8px 0'>"
        f"<b>Error:</b> {esc(result.error)}</div>"
        if result.error
        else ""
    )
    body = (
        f"<details open><summary>Draft</summary>{markdown_to_html(result.content)}</details>"
        if show_content and result.content
        else ""
    )
    return (
        "<div class='neonhub-run-card' style='border:1px solid #d0d7de;border-radius:6px;"
        "padding:12px;font-family:sans-serif;max-width:900px'>"
        f"<div style='display:flex;gap:8px;align-items:center'>"
        f"<span style='background:{colour};color:white;padding:2px 8px;border-radius:10px'>"
        f"{esc(result.status)}</span><b>{esc(result.title or result.intent)}</b></div>"
        f"<div style='display:grid;grid-template-columns:repeat(4,1fr);gap:6px;margin:8px 0'>"
        f"{fact_html}</div>{error}"
        f"<details><summary>Tool calls ({len(result.tool_executions)})</summary>"
        f"<table><tr><th>#</th><th>tool</th><th>status</th><th>time</th></tr>{tools}"
        f"</table></details>{body}</div>"
    )


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
