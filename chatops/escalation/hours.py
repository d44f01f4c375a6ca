"""People's local hours: when a routine page may reach someone, and who is awake to advise.

A `hours: working` policy holds each page until its recipient's working hours (their own
`working_hours` in the rota file, 09:00–18:00 Monday to Friday unless they say otherwise, in
the member's own zone), so routine work waits for their next working day instead of waking
anyone. Instants are aware UTC; local wall times become instants only through
`rota.wallclock.wall_to_ts`, so a start inside a DST gap happens at the first valid instant
after it (docs/architecture.md, invariant 1).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from rota.spec import DEFAULT_WORKING_HOURS, WEEKDAYS, WorkingHours
from rota.wallclock import day_wall, from_ts, wall_to_ts, zone

AWAKE_START = time(8, 0)
AWAKE_END = time(22, 0)


def _local(at: datetime, tz: str) -> datetime:
    return at.astimezone(zone(tz))


def _days(hours: WorkingHours) -> frozenset[int]:
    return frozenset(WEEKDAYS.index(d) for d in hours.days)


def in_working_hours(tz: str, at: datetime, hours: WorkingHours = DEFAULT_WORKING_HOURS) -> bool:
    local = _local(at, tz)
    wall = local.replace(tzinfo=None)
    if local.weekday() not in _days(hours):
        return False
    # Compared as instants: an hour repeated at fall-back is inside when its first pass is.
    start = wall_to_ts(day_wall(wall.date(), hours.start), zone(tz))
    end = wall_to_ts(day_wall(wall.date(), hours.end), zone(tz))
    return start <= at.timestamp() < end


def next_working_instant(
    tz: str, at: datetime, hours: WorkingHours = DEFAULT_WORKING_HOURS
) -> datetime:
    """`at` itself when it is inside the member's working hours, else the next start of them."""
    if in_working_hours(tz, at, hours):
        return at
    days = _days(hours)
    today = _local(at, tz).date()
    for offset in range(8):
        day = today + timedelta(days=offset)
        if day.weekday() not in days:
            continue
        start = from_ts(wall_to_ts(day_wall(day, hours.start), zone(tz)))
        if start > at:
            return start
    raise AssertionError("a working day always comes within a week")


def awake(tz: str, at: datetime) -> bool:
    """Whether it is a decent hour to ask the member something (08:00–22:00 local)."""
    return AWAKE_START <= _local(at, tz).time() < AWAKE_END
