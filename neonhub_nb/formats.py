"""How the dashboard writes numbers: money as money, counts as integers, durations in units.

Standard library only, so the timeline (and the notebook widget reusing it) stay light.
"""

from __future__ import annotations

import math

__all__ = ["format_compact", "format_cost", "format_count", "format_duration", "format_rate"]


def format_cost(usd: float | None, significant: int = 2) -> str:
    """US dollars: ``$1,234.56`` from one dollar up; below, at least four decimals and
    always ``significant`` significant digits (``$0.0144``, ``$0.0012``, ``$0.000071``;
    ``significant=4`` for comparisons: ``$0.001463``), so a non-zero cost never reads
    ``$0.0000`` and never in exponent notation."""
    if usd is None or usd != usd:
        return "–"
    if usd == 0:
        return "$0.00"
    size = abs(usd)
    sign = "-" if usd < 0 else ""
    if size >= 1:
        return f"{sign}${size:,.2f}"
    decimals = max(4, significant - 1 - math.floor(math.log10(size)))
    return f"{sign}${size:.{decimals}f}"


def format_count(value: int | float | None) -> str:
    """An integer with thousands separators (``733``, never ``733.000000``)."""
    if value is None or value != value:
        return "–"
    return f"{value:,.0f}"


def format_compact(value: int | float) -> str:
    """Large counts for a tile: 1,234,567 stays, 1,350,357,912 becomes 1.35 B."""
    for size, unit in ((1e9, "B"), (1e6, "M")):
        if abs(value) >= 10 * size or (unit == "B" and abs(value) >= size):
            return f"{value / size:,.2f} {unit}"
    return format_count(value)


def format_duration(ms: float | None) -> str:
    """Milliseconds below a second (up to 3 significant digits below 10 ms, so a
    timeline's 0.5 ms ticks read as such), seconds below two minutes, then minutes."""
    if ms is None or ms != ms:
        return "–"
    if abs(ms) < 0.0005:
        return "0 ms"  # never "-0 ms"
    if abs(ms) < 10:
        return f"{ms:.3g} ms"
    if abs(ms) < 1000:
        return f"{ms:.0f} ms"
    if abs(ms) < 120_000:
        return f"{ms / 1000:.2f} s"
    return f"{ms / 60_000:.1f} min"


def format_rate(rate: float | None) -> str:
    return "–" if rate is None else f"{rate * 100:.1f}%"
