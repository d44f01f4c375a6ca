"""Local wall-clock times to UTC instants, with the two DST rules made explicit.

Everything the engine compares is a UTC instant (internally whole epoch seconds); local time is
only read here. The rules (docs/architecture.md, invariant 1):

* a local time that does not exist (spring forward) happens at the first valid instant after
  it: 02:30 on a spring-forward night in New York happens at 03:00 EDT;
* a local time that happens twice (fall back) happens once, at its first occurrence (fold=0).

Both rules are one: a wall time ``w`` happens at the first instant whose local clock reads
``w`` or later.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name (cached; ZoneInfo itself caches too, this skips the lookup)."""
    return ZoneInfo(name)


def to_ts(dt: datetime) -> int:
    """Whole epoch seconds of an aware datetime (sub-second parts are dropped)."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt!r}: only aware datetimes cross module boundaries")
    return (dt - EPOCH) // timedelta(seconds=1)


def from_ts(ts: int) -> datetime:
    """The aware UTC datetime of whole epoch seconds."""
    return EPOCH + timedelta(seconds=ts)


def _naive_local(ts: int, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ts, tz).replace(tzinfo=None)


def wall_to_ts(wall: datetime, tz: ZoneInfo) -> int:
    """Epoch seconds at which the naive local ``wall`` time happens in ``tz`` (the DST rules)."""
    first = int(wall.replace(tzinfo=tz, fold=0).timestamp())
    if _naive_local(first, tz) == wall:
        return first  # exists; for a repeated time fold=0 is the first occurrence
    # In a gap zoneinfo maps fold=0 to after the transition and fold=1 to before it: the
    # transition (the first instant whose clock reads >= wall) lies between. Bisect to it.
    other = int(wall.replace(tzinfo=tz, fold=1).timestamp())
    lo, hi = min(first, other), max(first, other)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _naive_local(mid, tz) >= wall:
            hi = mid
        else:
            lo = mid
    return hi


def day_wall(day: date, at: time) -> datetime:
    """The naive local wall time ``at`` on ``day``."""
    return datetime.combine(day, at.replace(tzinfo=None))


def local_date(ts: int, tz: ZoneInfo) -> date:
    """The local calendar date of an instant."""
    return datetime.fromtimestamp(ts, tz).date()


def daily_windows(
    tz: ZoneInfo,
    days: frozenset[int],
    start: time,
    end: time,
    first_day: date,
    last_day: date,
) -> list[tuple[int, int]]:
    """UTC intervals of a local window opened on each weekday in ``days`` (Monday=0).

    The window opens at local ``start`` on the day and closes at local ``end`` that day, or the
    next day when it crosses midnight (``end <= start``; equal means 24 hours). Days from
    ``first_day`` to ``last_day`` inclusive. Windows a DST gap empties are dropped.
    """
    out: list[tuple[int, int]] = []
    crosses = (end.hour, end.minute, end.second) <= (start.hour, start.minute, start.second)
    day = first_day
    one = timedelta(days=1)
    while day <= last_day:
        if day.weekday() in days:
            a = wall_to_ts(day_wall(day, start), tz)
            b = wall_to_ts(day_wall(day + one if crosses else day, end), tz)
            if b > a:
                out.append((a, b))
        day += one
    return out


def merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The union of intervals as sorted, disjoint, non-touching intervals."""
    if not intervals:
        return []
    intervals = sorted(intervals)
    out = [intervals[0]]
    for a, b in intervals[1:]:
        la, lb = out[-1]
        if a <= lb:
            if b > lb:
                out[-1] = (la, b)
        else:
            out.append((a, b))
    return out


def intersect(xs: list[tuple[int, int]], ys: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Intersection of two sorted disjoint interval lists (two-pointer walk)."""
    out: list[tuple[int, int]] = []
    i = j = 0
    while i < len(xs) and j < len(ys):
        a = max(xs[i][0], ys[j][0])
        b = min(xs[i][1], ys[j][1])
        if a < b:
            out.append((a, b))
        if xs[i][1] < ys[j][1]:
            i += 1
        else:
            j += 1
    return out


def subtract(xs: list[tuple[int, int]], ys: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``xs`` minus ``ys``, both sorted and disjoint."""
    out: list[tuple[int, int]] = []
    j = 0
    for a, b in xs:
        while j < len(ys) and ys[j][1] <= a:
            j += 1
        k = j
        cur = a
        while k < len(ys) and ys[k][0] < b:
            if ys[k][0] > cur:
                out.append((cur, ys[k][0]))
            cur = max(cur, ys[k][1])
            k += 1
        if cur < b:
            out.append((cur, b))
    return out


def local_day_bounds(day: date, tz: ZoneInfo) -> tuple[int, int]:
    """Epoch seconds of the local calendar ``day`` in ``tz``: [its midnight, the next one).

    23 or 25 hours long on a DST day; a midnight that does not exist starts at the first
    instant after it (the rule above).
    """
    return (
        wall_to_ts(day_wall(day, time(0, 0)), tz),
        wall_to_ts(day_wall(day + timedelta(days=1), time(0, 0)), tz),
    )


def split_by_local_day(intervals: list[tuple[int, int]], tz: ZoneInfo) -> dict[date, int]:
    """Seconds of the union of ``intervals`` on each local calendar day in ``tz``.

    An interval crossing local midnight counts on both days; overlapping intervals count once.
    """
    out: dict[date, int] = {}
    for a, b in merge(intervals):
        cur = a
        while cur < b:
            day = local_date(cur, tz)
            end = local_day_bounds(day, tz)[1]
            if end <= cur:  # clocks fell back across midnight: this day comes round again
                later = day_wall(day + timedelta(days=1), time(0, 0)).replace(tzinfo=tz, fold=1)
                end = max(int(later.timestamp()), cur + 1)
            end = min(b, end)
            out[day] = out.get(day, 0) + end - cur
            cur = end
    return out
