"""The fairness view: how much on-call each member carries, and how much of it hurts.

Exact by interval arithmetic: each member's on-call time (their shifts of every kind, unioned,
so two rotations at once count once) intersected with their own local night (22:00–07:00) and
local weekend (Saturday 00:00 to Monday 00:00), read in the member's zone with the DST rules.
The night's hours are a parameter: the fairness view reads 22:00–07:00, the team report the
fatigue rules' 23:00–06:00 (`rota.fatigue`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from rota.resolve import CompiledRota, compile_rota
from rota.spec import RotaSpec
from rota.wallclock import daily_windows, intersect, local_date, merge, to_ts, zone

NIGHT_START = time(22, 0)
NIGHT_END = time(7, 0)
_ALL_DAYS = frozenset(range(7))
_WEEKEND = frozenset({5, 6})


@dataclass(frozen=True)
class MemberLoad:
    """One member's on-call time in a window, and the parts in their local night and weekend."""

    member: str
    on_call: timedelta
    night: timedelta
    weekend: timedelta
    #: The part of the night that falls in the weekend (counted in both): splitting the time
    #: into weekday day, weekday night and weekend without counting anything twice needs it.
    weekend_night: timedelta = timedelta(0)

    @property
    def on_call_hours(self) -> float:
        return self.on_call / timedelta(hours=1)

    @property
    def night_hours(self) -> float:
        return self.night / timedelta(hours=1)

    @property
    def weekend_hours(self) -> float:
        return self.weekend / timedelta(hours=1)


def _total(intervals: list[tuple[int, int]]) -> timedelta:
    return timedelta(seconds=sum(b - a for a, b in intervals))


def load(
    rota: RotaSpec | CompiledRota,
    start: datetime,
    end: datetime,
    *,
    night_from: time = NIGHT_START,
    night_to: time = NIGHT_END,
) -> dict[str, MemberLoad]:
    """Per member (every team member, in team order): on-call, night and weekend time, the
    night being `night_from` to the next day's `night_to` in the member's zone."""
    compiled = rota if isinstance(rota, CompiledRota) else compile_rota(rota)
    s, e = to_ts(start), to_ts(end)
    mine: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for a, b, who, _, _ in compiled.pieces(s, e):
        a, b = max(a, s), min(b, e)
        if a < b:
            mine[who].append((a, b))
    out: dict[str, MemberLoad] = {}
    for member in compiled.spec.members:
        busy = merge(mine.get(member.id, []))
        night: list[tuple[int, int]] = []
        weekend: list[tuple[int, int]] = []
        both: list[tuple[int, int]] = []
        if busy:
            tz = zone(member.tz)
            first = local_date(s, tz) - timedelta(days=1)
            last = local_date(e, tz)
            nights = daily_windows(tz, _ALL_DAYS, night_from, night_to, first, last)
            weekends = merge(daily_windows(tz, _WEEKEND, time(0), time(0), first, last))
            night = intersect(busy, nights)
            weekend = intersect(busy, weekends)
            both = intersect(night, weekends)
        out[member.id] = MemberLoad(
            member.id, _total(busy), _total(night), _total(weekend), _total(both)
        )
    return out
