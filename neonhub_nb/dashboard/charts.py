"""The dashboard's charts as inline SVG: no JavaScript, no CDN, no plotting library.

Why not matplotlib: on the reference machine importing it and drawing three PNGs costs
about a second per viewer kernel (and ~40 MB of its memory), most of the 1.3x budget the
dashboard has over an empty Voila page; these charts cost a few milliseconds. SVG also
stays sharp at any zoom, works in JupyterLab and Voila alike, and renders with no
network. Each chart is one ``<svg data-chart=NAME>`` element; every label comes from
the store and is escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from datetime import datetime

from .data import ConnectorCalls, Trend

__all__ = [
    "AGENT_COLOURS",
    "CHART_NAMES",
    "STATUS_COLOURS",
    "agent_colours",
    "connector_chart",
    "failures_chart",
    "nice_ticks",
    "placeholder",
    "runs_trend_chart",
]

# Okabe-Ito, then Tableau: distinguishable with the common colour-vision deficiencies.
AGENT_COLOURS = (
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#332288",
    "#999933", "#882255", "#44AA99",
)  # fmt: skip
STATUS_COLOURS = {"succeeded": "#1a7f37", "rate_limited": "#bf8700", "failed": "#cf222e"}
_BREAKER = "#cf222e"
_AXIS = "#57606a"
_GRID = "#eaeef2"
_FONT = "font-family='system-ui, -apple-system, Segoe UI, sans-serif' font-size='11'"
_WIDTH, _HEIGHT = 600, 260
_LEFT, _RIGHT, _BOTTOM = 48, 12, 28


def agent_colours(agents: Sequence[str]) -> dict[str, str]:
    """One colour per agent, stable for a given set of agents across every chart."""
    return {a: AGENT_COLOURS[i % len(AGENT_COLOURS)] for i, a in enumerate(sorted(agents))}


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """0 and round whole steps (1, 2, 2.5 or 5 x 10^k) up to at least ``top``: the
    charts count runs and calls, so a step is never a fraction."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = (
        next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw and (m * power) % 1 == 0)
        if raw > 1
        else 1
    )
    steps = math.ceil(top / step - 1e-9)
    return [float(i * step) for i in range(steps + 1)]


def _number(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 10_000:
        return f"{value / 1000:g}k"
    return f"{value:,.0f}" if value == int(value) else f"{value:g}"


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _svg(
    name: str, title: str, body: list[str], state: str = "ready", height: float = _HEIGHT
) -> str:
    return (
        f"<svg data-chart='{name}' data-state='{state}' role='img' aria-label='{_esc(title)}' "
        f"viewBox='0 0 {_WIDTH} {height:.0f}' xmlns='http://www.w3.org/2000/svg' "
        f"style='width:100%;height:auto;max-width:{_WIDTH * 1.6:.0f}px' {_FONT}>"
        f"<text x='{_LEFT}' y='16' font-size='13' font-weight='600' fill='#1f2328'>"
        f"{_esc(title)}</text>{''.join(body)}</svg>"
    )


def _empty(name: str, title: str, message: str, state: str = "ready") -> str:
    return _svg(
        name,
        title,
        [
            f"<text x='{_WIDTH / 2}' y='{_HEIGHT / 2}' text-anchor='middle' fill='{_AXIS}'>"
            f"{_esc(message)}</text>"
        ],
        state,
    )


CHART_NAMES = ("runs-trend", "failures", "connectors")


def placeholder(name: str) -> str:
    """The chart's frame while the first refresh runs (``data-state='loading'``)."""
    titles = {
        "runs-trend": "Runs by agent",
        "failures": "Failed and abandoned runs",
        "connectors": "Connector calls by service and status",
    }
    return _empty(name, titles[name], "Loading…", "loading")


def _legend(items: Sequence[tuple[str, str]], x0: float = _LEFT) -> tuple[list[str], float]:
    """Legend entries in rows under the title; returns them and where the plot may start."""
    parts, x, y = [], x0, 30.0
    for label, colour in items:
        width = 22 + 6.2 * len(label)
        if x > x0 and x + width > _WIDTH - _RIGHT:
            x, y = x0, y + 14
        parts.append(
            f"<rect x='{x:.1f}' y='{y - 8}' width='10' height='10' rx='2' fill='{colour}'/>"
            f"<text x='{x + 14:.1f}' y='{y + 1}' fill='#1f2328'>{_esc(label)}</text>"
        )
        x += width
    return parts, y + 10


def _y_axis(ticks: Sequence[float], plot_top: float) -> tuple[list[str], float, float]:
    """Grid lines and labels; returns them, the axis maximum and the plot height."""
    top = ticks[-1] or 1.0
    plot_h = _HEIGHT - _BOTTOM - plot_top
    parts = []
    for tick in ticks:
        y = plot_top + plot_h - plot_h * tick / top
        parts.append(
            f"<line x1='{_LEFT}' x2='{_WIDTH - _RIGHT}' y1='{y:.1f}' y2='{y:.1f}' "
            f"stroke='{_GRID}'/><text x='{_LEFT - 6}' y='{y + 4:.1f}' text-anchor='end' "
            f"fill='{_AXIS}'>{_number(tick)}</text>"
        )
    return parts, top, plot_h


def _x_labels(starts: Sequence[datetime], bucket: str, x_of: list[float]) -> list[str]:
    fmt = {"hour": "%H:%M", "day": "%b %d", "week": "%b %d"}[bucket]
    every = max(1, math.ceil(len(starts) / 8))
    y = _HEIGHT - _BOTTOM + 16
    return [
        f"<text x='{x_of[i]:.1f}' y='{y}' text-anchor='middle' fill='{_AXIS}'>"
        f"{starts[i]:{fmt}}</text>"
        for i in range(0, len(starts), every)
    ]


def _bucket_name(bucket: str) -> str:
    return {"hour": "hour", "day": "day", "week": "week"}[bucket]


def _polyline(
    points: Sequence[tuple[float, float]], colour: str, title: str, *, dashed: bool = False
) -> str:
    dash = " stroke-dasharray='4 3' stroke-opacity='0.7'" if dashed else ""
    xy = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return (
        f"<polyline fill='none' stroke='{colour}' stroke-width='2'{dash} points='{xy}'>"
        f"<title>{_esc(title)}</title></polyline>"
    )


def _in(period: str) -> str:
    return f", {period}" if period else ""


def runs_trend_chart(trend: Trend, colours: Mapping[str, str], period: str = "") -> str:
    """Runs per bucket, one line per agent; ``period`` names the period in the title."""
    title = f"Runs per {_bucket_name(trend.bucket)} by agent (UTC{_in(period)})"
    if not trend.starts:
        return _empty("runs-trend", title, "No runs in this period")
    n = len(trend.starts)
    plot_w = _WIDTH - _LEFT - _RIGHT
    x_of = [_LEFT + (plot_w * (i + 0.5) / n) for i in range(n)]
    peak = max((max(v) for v in trend.runs.values()), default=0)
    legend, plot_top = _legend([(a, colours.get(a, _AXIS)) for a in trend.runs])
    grid, top, plot_h = _y_axis(nice_ticks(peak), plot_top)
    body = [*grid, *legend]

    def y_of(value: int) -> float:
        return plot_top + plot_h - plot_h * value / top

    # A bucket only partly inside the period (the current hour or day, the period's
    # first one) would read as a sudden drop: its segment is dashed instead.
    first = 1 if trend.first_partial and n > 1 else 0
    last = n - 2 if trend.last_partial and n > 1 else n - 1
    for agent, values in trend.runs.items():
        colour = colours.get(agent, _AXIS)
        xy = [(x_of[i], y_of(v)) for i, v in enumerate(values)]
        label = f"{agent}: {sum(values):,} runs"
        if last > first:
            body.append(_polyline(xy[first : last + 1], colour, label))
        if first:
            body.append(_polyline(xy[:2], colour, f"{label} (partial bucket)", dashed=True))
        if last < n - 1:
            body.append(_polyline(xy[-2:], colour, f"{label} (partial bucket)", dashed=True))
        if n <= 48:  # dots with tooltips while they stay readable; none on the zero line
            fmt = "%Y-%m-%d %H:%M" if trend.bucket == "hour" else "%Y-%m-%d"
            body.extend(
                f"<circle cx='{x_of[i]:.1f}' cy='{y_of(v):.1f}' "
                f"r='2.5' fill='{colour}'><title>{_esc(agent)} "
                f"{trend.starts[i]:{fmt}}: {v:,}</title></circle>"
                for i, v in enumerate(values)
                if v
            )
    body.extend(_x_labels(trend.starts, trend.bucket, x_of))
    if first or last < n - 1:
        body.append(
            f"<text x='{_WIDTH - _RIGHT}' y='16' text-anchor='end' fill='{_AXIS}'>"
            f"dashed: {_bucket_name(trend.bucket)} only partly in the period</text>"
        )
    return _svg("runs-trend", title, body)


def failures_chart(trend: Trend, colours: Mapping[str, str], period: str = "") -> str:
    """Failed and abandoned runs per bucket, stacked by agent; circuit-breaker openings
    marked above the bars (a red triangle with the count)."""
    title = (
        f"Failed and abandoned runs per {_bucket_name(trend.bucket)}{_in(period)}; "
        "\u25bc breaker opened"
    )
    if not trend.starts:
        return _empty("failures", title, "No runs in this period")
    n = len(trend.starts)
    plot_w = _WIDTH - _LEFT - _RIGHT
    slot = plot_w / n
    x_of = [_LEFT + slot * (i + 0.5) for i in range(n)]
    totals = [sum(v[i] for v in trend.failures.values()) for i in range(n)]
    items = [(a, colours.get(a, _AXIS)) for a in trend.failures]
    legend, plot_top = _legend([*items, ("breaker opened", _BREAKER)])
    # Head room for the breaker markers above the tallest bar.
    grid, top, plot_h = _y_axis(nice_ticks(max(totals, default=0) * 1.15), plot_top + 14)
    plot_top += 14
    body = [*grid, *legend]
    bar_w = max(1.0, slot * 0.7)
    for i in range(n):
        base = plot_top + plot_h
        for agent, values in trend.failures.items():
            if not values[i]:
                continue
            h = plot_h * values[i] / top
            base -= h
            body.append(
                f"<rect x='{x_of[i] - bar_w / 2:.1f}' y='{base:.1f}' width='{bar_w:.1f}' "
                f"height='{h:.1f}' fill='{colours.get(agent, _AXIS)}'><title>{_esc(agent)}: "
                f"{values[i]:,} failed or abandoned</title></rect>"
            )
        opens = trend.breaker_opens[i] if trend.breaker_opens else 0
        if opens:
            y = base - 4
            body.append(
                f"<g data-breaker-opens='{opens}'><path d='M{x_of[i] - 5:.1f},{y - 9:.1f} "
                f"h10 l-5,8 z' fill='{_BREAKER}'/><text x='{x_of[i]:.1f}' y='{y - 12:.1f}' "
                f"text-anchor='middle' fill='{_BREAKER}'>{opens}</text>"
                f"<title>circuit breaker opened {opens} time(s)</title></g>"
            )
    body.extend(_x_labels(trend.starts, trend.bucket, x_of))
    return _svg("failures", title, body)


def connector_chart(calls: Sequence[ConnectorCalls], period: str = "") -> str:
    """Connector calls per service: succeeded, succeeded after a rate limit, failed."""
    title = f"Connector calls of these runs by service and status{_in(period)}"
    if not calls:
        return _empty("connectors", title, "No connector calls in this period")
    shown = list(calls)
    label_w, value_w = 90, 64
    plot_w = _WIDTH - label_w - value_w - _RIGHT
    body, plot_top = _legend(
        [
            ("succeeded", STATUS_COLOURS["succeeded"]),
            ("rate-limited, then succeeded", STATUS_COLOURS["rate_limited"]),
            ("failed", STATUS_COLOURS["failed"]),
        ],
        x0=label_w,
    )
    row_h, bar_h = 18.0, 13.0
    height = max(_HEIGHT, plot_top + row_h * len(shown) + 6)
    top = max(c.total for c in shown) or 1
    for row, call in enumerate(shown):
        y = plot_top + row * row_h + (row_h - bar_h) / 2
        x = float(label_w)
        body.append(
            f"<text x='{label_w - 6}' y='{y + bar_h - 4:.1f}' text-anchor='end' "
            f"fill='#1f2328'>{_esc(call.service)}</text>"
        )
        for part, value in (
            ("succeeded", call.succeeded),
            ("rate_limited", call.rate_limited),
            ("failed", call.failed),
        ):
            if not value:
                continue
            w = plot_w * value / top
            body.append(
                f"<rect x='{x:.1f}' y='{y:.1f}' width='{max(w, 1):.1f}' height='{bar_h:.1f}' "
                f"fill='{STATUS_COLOURS[part]}'><title>{_esc(call.service)} "
                f"{part.replace('_', '-')}: {value:,}</title></rect>"
            )
            x += w
        failed = f" ({call.failed:,} failed)" if call.failed else ""
        body.append(
            f"<text x='{x + 4:.1f}' y='{y + bar_h - 4:.1f}' fill='{_AXIS}'>{call.total:,}"
            f"<title>{call.total:,} calls{failed}</title></text>"
        )
    return _svg("connectors", title, body, height=height)
