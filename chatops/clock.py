"""Clocks: the real one, and a manual one that the console and tests move by hand."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]

_DURATION = re.compile(r"^(?:\d+[smhdw])+$")
_PART = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def system_clock() -> datetime:
    return datetime.now(UTC)


def parse_duration(text: str) -> timedelta:
    """`90s`, `15m`, `2h`, `1d`, `1w`, or several together (`1h45m`, `2d3h`); anything else
    raises ValueError with the reason."""
    clean = text.strip().lower()
    if not _DURATION.match(clean):
        raise ValueError(f"{text!r} is not a duration like 15m, 2h, 1d or 1h45m")
    total = timedelta(0)
    try:
        for amount, unit in _PART.findall(clean):
            total += timedelta(**{_UNITS[unit]: int(amount)})
    except OverflowError:
        raise ValueError(f"{text!r} is longer than any duration can be") from None
    return total


class ManualClock:
    """A clock that stands still until `advance` moves it; always aware UTC."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime.now(UTC)
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("time only moves forward")
        self._now += delta
        return self._now

    def advance_to(self, instant: datetime) -> datetime:
        """Move to `instant`, or stay put if it is not later (time only moves forward)."""
        return self.advance(max(instant - self._now, timedelta(0)))
