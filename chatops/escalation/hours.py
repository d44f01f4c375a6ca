"""People's local hours: when a routine page may reach someone, and who is awake to advise.

A `hours: working` policy holds each page until its recipient's working hours (09:00–18:00
Monday to Friday in the member's own zone), so routine work waits for the next working day
instead of waking anyone. Instants are aware UTC; local time is only used to compare.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

WORK_START = time(9, 0)
WORK_END = time(18, 0)
WORK_DAYS = frozenset(range(5))  # Monday … Friday
AWAKE_START = time(8, 0)
AWAKE_END = time(22, 0)


def _local(at: datetime, tz: str) -> datetime:
    return at.astimezone(ZoneInfo(tz))


def in_working_hours(tz: str, at: datetime) -> bool:
    local = _local(at, tz)
    return local.weekday() in WORK_DAYS and WORK_START <= local.time() < WORK_END


def next_working_instant(tz: str, at: datetime) -> datetime:
    """`at` itself when it is inside the member's working hours, else the next start of them."""
    if in_working_hours(tz, at):
        return at
    zone = ZoneInfo(tz)
    local = _local(at, tz)
    day = local.date()
    for offset in range(8):
        candidate_day = day + timedelta(days=offset)
        if candidate_day.weekday() not in WORK_DAYS:
            continue
        start = datetime.combine(candidate_day, WORK_START, tzinfo=zone).astimezone(UTC)
        if start > at:
            return start
    raise AssertionError("a working day always comes within a week")


def awake(tz: str, at: datetime) -> bool:
    """Whether it is a decent hour to ask the member something (08:00–22:00 local)."""
    return AWAKE_START <= _local(at, tz).time() < AWAKE_END
