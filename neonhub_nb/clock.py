"""Clocks are injected so breakers, timings and stores can be tested with fake time.

Every time the audit store keeps or compares is naive UTC. :func:`parse_time` is how a
``since``/``until`` from anywhere (CLI, Python API, store queries, export) becomes one:
an age (``7d``), a naive time (taken as UTC) or an aware one (converted), so the same
filter selects the same rows whatever the machine's ``TZ``.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from .errors import InvalidInputError
from .redaction import safe_value

__all__ = [
    "MAX_AGE",
    "Clock",
    "FakeClock",
    "SystemClock",
    "parse_age",
    "parse_time",
    "to_utc",
    "utcnow",
]

_AGE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
#: The longest age accepted (``--older-than``, ``--since 7d``): a hundred years.
MAX_AGE = timedelta(days=36_525)
_TIME_RULE = (
    "must be an age like 7d, 12h or 30m, or an ISO time like 2026-11-01T09:00 "
    "(UTC unless it carries an offset such as +02:00)"
)


def utcnow() -> datetime:
    """Naive UTC now: the audit store keeps every timestamp in UTC without a zone."""
    return datetime.now(UTC).replace(tzinfo=None)


class Clock(Protocol):
    def now(self) -> datetime:
        """Wall-clock time (naive UTC) for timestamps."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin, for durations and timeouts."""

    def sleep(self, seconds: float) -> None:
        """Wait; fake clocks just advance."""


class SystemClock:
    def now(self) -> datetime:
        return utcnow()

    def monotonic(self) -> float:
        return time.perf_counter()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class FakeClock:
    """A clock that only moves when told to (``advance``) or when something sleeps."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, 12, 0, 0)
        self._mono = 0.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._mono += seconds


def to_utc(value: datetime) -> datetime:
    """``value`` as naive UTC: aware times are converted, naive ones are already UTC."""
    if value.tzinfo is not None and value.utcoffset() is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(tzinfo=None)


def parse_age(text: str, field: str = "older_than") -> timedelta:
    """``90d``, ``12h``, ``2w``, ``30m``, ``45s`` as a timedelta (InvalidInputError if not)."""
    match = _AGE.match(text) if isinstance(text, str) else None
    if not match:
        raise InvalidInputError(
            field, f"must be a number and a unit s, m, h, d or w, like 90d (got {safe_value(text)})"
        )
    try:
        age = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    except OverflowError:  # more days than a timedelta holds
        age = None
    if age is None or age > MAX_AGE:
        # Beyond this, "now minus the age" leaves the calendar (an OverflowError).
        raise InvalidInputError(
            field, f"must be at most {MAX_AGE.days} days (100 years) (got {safe_value(text)})"
        )
    return age


def parse_time(
    value: object, field: str = "since", *, now: datetime | None = None
) -> datetime | None:
    """A ``since``/``until`` value as naive UTC (None stays None).

    Accepts an age (``"7d"`` or a ``timedelta``: that long before ``now``, default the
    current UTC time), an ISO 8601 string, a ``datetime`` or a ``date`` (midnight UTC).
    Naive values mean UTC; aware ones are converted. The machine's time zone is never
    consulted. Anything else raises :class:`InvalidInputError` naming ``field``.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return to_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, timedelta):
        if abs(value) > MAX_AGE:  # beyond it, the time leaves the calendar
            raise InvalidInputError(field, f"must be at most {MAX_AGE.days} days (got {value})")
        return (now or utcnow()) - value
    if isinstance(value, str):
        text = value.strip()
        if _AGE.match(text):
            return (now or utcnow()) - parse_age(text, field)
        try:
            return to_utc(datetime.fromisoformat(text))
        except ValueError:
            pass
    raise InvalidInputError(field, f"{_TIME_RULE} (got {safe_value(value)})")
