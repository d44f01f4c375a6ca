"""Clocks: the real one, and a manual one that the console and tests move by hand."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]

_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def system_clock() -> datetime:
    return datetime.now(UTC)


def parse_duration(text: str) -> timedelta:
    """`90s`, `15m`, `2h`, `1d`, `1w`; anything else raises ValueError with the reason."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise ValueError(f"{text!r} is not a duration like 15m, 2h or 1d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


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
