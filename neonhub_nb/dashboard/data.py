"""The shapes the dashboard's queries return: frozen, plain Python, no pandas.

The widgets, the charts and the tests share them; ``queries`` fills them.

Every number on the page is about one :class:`Scope`: the runs that *started* in a
period (whole UTC hours, so the hourly roll-ups answer it exactly) and match the
filters. Tool calls, tokens, cost, drafts and errors count towards the period their
run started in, so tiles, charts and tables always describe the same runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

__all__ = [
    "DEFAULT_MODE",
    "DEFAULT_PERIOD",
    "EARLIEST_DAY",
    "MODES",
    "PERIODS",
    "BreakerEvent",
    "Bucket",
    "Choices",
    "ConnectorCalls",
    "CostRow",
    "Costs",
    "DashboardData",
    "DraftRow",
    "ErrorGroup",
    "Kpis",
    "Period",
    "RunFilters",
    "RunRow",
    "Scope",
    "Trend",
    "floor_hour",
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
# The run modes a store records; the page counts live runs unless told otherwise.
MODES = ("live", "mock", "replay")
DEFAULT_MODE = "live"
# Custom dates outside [EARLIEST_DAY, today + 1 day] are refused: nothing was recorded
# before, and 9999-12-31 would overflow the period's end.
EARLIEST_DAY = date(2000, 1, 1)


def floor_hour(moment: datetime) -> datetime:
    """``moment`` rounded down to the whole hour."""
    return moment.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Period:
    """Runs started in ``[since, until)`` (naive UTC); ``None`` leaves a side open.

    Both ends are whole hours: the roll-ups are hourly, and a period that cut an hour
    would need the raw rows of that hour too.
    """

    label: str
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def last(cls, key: str, now: datetime) -> Period:
        """One of :data:`PERIODS` up to ``now``, from the whole hour at or before
        ``now - length`` (so "last 24 hours" at 12:34 starts at 12:00 yesterday)."""
        if key not in PERIODS:
            raise ValueError(f"period: unknown {key!r}; known: {', '.join(PERIODS)}")
        label, length = PERIODS[key]
        if length is None:
            return cls(label)
        return cls(label, floor_hour(now - length), None)

    @classmethod
    def days(cls, first: date, last: date, *, today: date | None = None) -> Period:
        """Whole UTC days from ``first`` to ``last``, both included (swapped if reversed).

        Raises ``ValueError`` naming the rule for a day before :data:`EARLIEST_DAY` or
        after ``today`` + 1 day (when ``today`` is given).
        """
        if last < first:
            first, last = last, first
        latest = None if today is None else today + timedelta(days=1)
        for name, day in (("From", first), ("To", last)):
            if day < EARLIEST_DAY:
                raise ValueError(f"{name}: {day.isoformat()} is before {EARLIEST_DAY.isoformat()}")
            if latest is not None and day > latest:
                raise ValueError(f"{name}: {day.isoformat()} is after {latest.isoformat()}")
        since = datetime(first.year, first.month, first.day)
        until = datetime(last.year, last.month, last.day) + timedelta(days=1)
        return cls(f"{first:%Y-%m-%d} to {last:%Y-%m-%d}", since, until)

    def describe(self) -> str:
        """The label with its exact bounds, e.g. ``Last 7 days (since 2026-03-03 12:00 UTC)``."""
        if self.since is None and self.until is None:
            return self.label
        if self.until is None:
            return f"{self.label} (since {self.since:%Y-%m-%d %H:%M} UTC)"
        return f"{self.label} (UTC)"

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
    """Which runs count; ``None`` means any. Values come from :class:`Choices`."""

    agent: str | None = None
    intent: str | None = None
    status: str | None = None
    mode: str | None = None

    def as_kwargs(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v is not None}

    def describe(self) -> str:
        """``live runs`` / ``all modes`` plus the other filters, for headings."""
        mode = f"{self.mode} runs" if self.mode else "runs of every mode"
        rest = [f"{k} {v}" for k, v in self.as_kwargs().items() if k != "mode"]
        return ", ".join([mode, *rest])


@dataclass(frozen=True)
class Scope:
    """The runs every number on the page is about."""

    period: Period
    filters: RunFilters = field(default_factory=RunFilters)

    def where(
        self, time_column: str = "started_at", *, prefix: str = "", mode: bool = True
    ) -> tuple[str, list[Any]]:
        """SQL conditions on runs (``prefix`` is a table alias with its dot); without
        ``mode`` the mode filter is left out (for the per-mode counts)."""
        where, params = self.period.where(prefix + time_column)
        for name, value in self.filters.as_kwargs().items():
            if name == "mode" and not mode:
                continue
            where += f" AND {prefix}{name} = ?"
            params.append(value)
        return where, params


@dataclass(frozen=True)
class Choices:
    """What the store holds, for the filters' fixed choices and the status line."""

    agents: tuple[str, ...] = ()
    intents: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    modes: tuple[str, ...] = ()
    #: Each agent's intents (the Intent filter offers the chosen agent's only).
    intents_by_agent: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
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
class CostRow:
    """Runs, tokens and cost (USD) of one agent, model or campaign (``None``: unset)."""

    key: str | None
    runs: int
    tokens: int
    cost_usd: float


@dataclass(frozen=True)
class Costs:
    """Cost split three ways; each list is most expensive first and sums to the tile."""

    by_agent: tuple[CostRow, ...] = ()
    by_model: tuple[CostRow, ...] = ()
    by_campaign: tuple[CostRow, ...] = ()


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
    """A draft awaiting review, with the run that wrote it."""

    draft_id: str
    run_id: str
    title: str | None
    topic: str | None
    primary_keyword: str | None
    created_at: datetime
    agent: str = ""
    intent: str = ""


@dataclass(frozen=True)
class DashboardData:
    """Everything one refresh shows, read on one connection.

    ``modes`` counts the period's runs per mode under the other filters (what the mode
    switch would show); ``pending_elsewhere`` the drafts awaiting review whose runs fall
    outside the scope; ``source`` says whether the roll-ups answered (``rollup``) or
    the raw tables (``raw``).
    """

    scope: Scope
    loaded_at: datetime
    choices: Choices
    kpis: Kpis
    trend: Trend
    connectors: tuple[ConnectorCalls, ...]
    costs: Costs
    breaker_events: tuple[BreakerEvent, ...]
    errors: tuple[ErrorGroup, ...]
    runs: tuple[RunRow, ...]
    runs_matching: int
    pending_drafts: tuple[DraftRow, ...]
    pending_elsewhere: int
    modes: Mapping[str, int] = field(default_factory=dict)
    source: str = "raw"
    timings_ms: Mapping[str, float] = field(default_factory=dict)

    @property
    def period(self) -> Period:
        return self.scope.period

    @property
    def filters(self) -> RunFilters:
        return self.scope.filters

    @property
    def pending_total(self) -> int:
        """Drafts awaiting review in the scope: the tile and the list's heading."""
        return self.kpis.drafts_pending
