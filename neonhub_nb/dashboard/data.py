"""The shapes the dashboard's queries return: frozen, plain Python, no pandas.

The widgets, the charts and the tests share them; ``queries`` fills them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

__all__ = [
    "DEFAULT_PERIOD",
    "PERIODS",
    "BreakerEvent",
    "Bucket",
    "Choices",
    "ConnectorCalls",
    "DashboardData",
    "DraftRow",
    "ErrorGroup",
    "Kpis",
    "Period",
    "RunFilters",
    "RunRow",
    "Trend",
]

Bucket = Literal["hour", "day", "week"]

# key -> (label, length); None is "all time".
PERIODS: dict[str, tuple[str, timedelta | None]] = {
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
    "90d": ("Last 90 days", timedelta(days=90)),
    "all": ("All time", None),
}
DEFAULT_PERIOD = "30d"


@dataclass(frozen=True)
class Period:
    """A half-open time range ``[since, until)`` of ``started_at`` (naive UTC)."""

    label: str
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def last(cls, key: str, now: datetime) -> Period:
        """One of :data:`PERIODS` ending at ``now``."""
        if key not in PERIODS:
            raise ValueError(f"period: unknown {key!r}; known: {', '.join(PERIODS)}")
        label, length = PERIODS[key]
        if length is None:
            return cls(label)
        return cls(label, now - length, None)

    @classmethod
    def days(cls, first: date, last: date) -> Period:
        """Whole UTC days from ``first`` to ``last``, both included."""
        if last < first:
            first, last = last, first
        since = datetime(first.year, first.month, first.day)
        until = datetime(last.year, last.month, last.day) + timedelta(days=1)
        return cls(f"{first:%Y-%m-%d} to {last:%Y-%m-%d}", since, until)

    def where(self, column: str = "started_at") -> tuple[str, list[Any]]:
        """SQL conditions (joined by AND, or TRUE) and their parameters."""
        parts, params = [], []
        if self.since is not None:
            parts.append(f"{column} >= ?")
            params.append(self.since)
        if self.until is not None:
            parts.append(f"{column} < ?")
            params.append(self.until)
        return (" AND ".join(parts) or "TRUE"), params


@dataclass(frozen=True)
class RunFilters:
    """The runs table's filters; ``None`` means any. Values come from :class:`Choices`."""

    agent: str | None = None
    intent: str | None = None
    status: str | None = None
    mode: str | None = None

    def as_kwargs(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass(frozen=True)
class Choices:
    """What the store holds, for the filters' fixed choices and the status line."""

    agents: tuple[str, ...] = ()
    intents: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    modes: tuple[str, ...] = ()
    total_runs: int = 0
    first_started: datetime | None = None
    last_started: datetime | None = None


@dataclass(frozen=True)
class Kpis:
    runs: int = 0
    succeeded: int = 0
    failed: int = 0
    abandoned: int = 0
    in_progress: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    total_tokens: int = 0
    cost_usd: float = 0.0
    drafts_approved: int = 0
    drafts_pending: int = 0
    drafts_rejected: int = 0

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed + self.abandoned

    @property
    def success_rate(self) -> float | None:
        """Succeeded over finished runs (running ones have not had their chance yet)."""
        return self.succeeded / self.finished if self.finished else None


@dataclass(frozen=True)
class Trend:
    """Runs and failures (failed + abandoned) per agent per bucket, zeros included."""

    bucket: Bucket
    starts: tuple[datetime, ...] = ()
    runs: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    failures: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    breaker_opens: tuple[int, ...] = ()
    # The first / last bucket reaches outside the period (or into the future).
    first_partial: bool = False
    last_partial: bool = False


@dataclass(frozen=True)
class ConnectorCalls:
    """Calls of one connector service: succeeded (without / after a rate limit), failed."""

    service: str
    succeeded: int
    rate_limited: int
    failed: int

    @property
    def total(self) -> int:
        return self.succeeded + self.rate_limited + self.failed


@dataclass(frozen=True)
class BreakerEvent:
    at: datetime
    agent: str
    from_state: str
    to_state: str
    failures: int | None
    reason: str
    run_id: str


@dataclass(frozen=True)
class ErrorGroup:
    agent: str
    error: str
    runs: int
    last_seen: datetime


@dataclass(frozen=True)
class RunRow:
    run_id: str
    started_at: datetime
    agent: str
    intent: str
    status: str
    mode: str
    duration_ms: float | None
    total_tokens: float | None
    cost_usd: float | None


@dataclass(frozen=True)
class DraftRow:
    draft_id: str
    run_id: str
    title: str | None
    topic: str | None
    primary_keyword: str | None
    created_at: datetime


@dataclass(frozen=True)
class DashboardData:
    """Everything one refresh shows, read on one connection."""

    period: Period
    filters: RunFilters
    loaded_at: datetime
    choices: Choices
    kpis: Kpis
    trend: Trend
    connectors: tuple[ConnectorCalls, ...]
    breaker_events: tuple[BreakerEvent, ...]
    errors: tuple[ErrorGroup, ...]
    runs: tuple[RunRow, ...]
    runs_matching: int
    pending_drafts: tuple[DraftRow, ...]
    pending_total: int
    timings_ms: Mapping[str, float] = field(default_factory=dict)
