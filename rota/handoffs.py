"""Handoff instants of a rotation: cron read on local wall-clock time, then the DST rules.

croniter is used to parse the expression (``croniter.expand``) and, for exotic syntax only
(``L``, ``W``, ``#``), to walk naive wall-clock times. It is never asked about aware times: it
fires twice at a repeated local time, and the engine must fire once. Each matching local wall
time is converted with :func:`rota.wallclock.wall_to_ts`; instants that coincide (two wall times
in one DST gap both move to the transition) collapse into one handoff.

Walking croniter costs ~130 µs a step, so the common case (numbers, ranges, steps, lists, names)
is a fast path: the day's matching times are computed once, and each local day only asks "does
this date match". Handoffs are materialised once per rotation and extended on demand
(:class:`HandoffSeries`), so questions about a year cost a bisect, not a cron walk.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from croniter import croniter

from rota.spec import RotationSpec
from rota.wallclock import from_ts, local_date, to_ts, wall_to_ts, zone

#: How far past the last handoff asked for we look before calling a rotation's shift endless
#: (a cron that fires once a year, or in a leap year only, still has a next handoff within it).
SEARCH_DAYS = 366 * 8
#: A far-future instant used as the end of a shift whose next handoff never comes.
FOREVER = to_ts(datetime.fromisoformat("9000-01-01T00:00:00+00:00"))

_PLAIN = re.compile(r"^[0-9*/,\-]+$")
_NAMES = re.compile(r"^[0-9a-z*/,\-]+$")
_MONTHS = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
_DAYS = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"}


@dataclass(frozen=True)
class CronDays:
    """The fast-path form of a 5-field cron: its daily wall times and its day rule."""

    times: tuple[time, ...]
    months: frozenset[int] | None
    doms: frozenset[int] | None
    dows: frozenset[int] | None  # cron numbering: Sunday = 0

    def matches(self, day: date) -> bool:
        """Whether cron fires on this local date (croniter's rule: dom OR dow when both set)."""
        if self.months is not None and day.month not in self.months:
            return False
        dom_ok = self.doms is None or day.day in self.doms
        dow_ok = self.dows is None or (day.weekday() + 1) % 7 in self.dows
        if self.doms is not None and self.dows is not None:
            return dom_ok or dow_ok
        return dom_ok and dow_ok


def _names_only(field: str, names: set[str]) -> bool:
    if not _NAMES.match(field):
        return False
    tokens = [t for t in re.split(r"[,/\-]", field) if t]
    return all(t == "*" or t.isdigit() or t in names for t in tokens)


@lru_cache(maxsize=256)
def cron_days(expr: str) -> CronDays | None:
    """The fast-path form of ``expr``, or None when it needs croniter's own walk."""
    fields = expr.lower().split()
    if len(fields) != 5:
        return None
    minute, hour, dom, month, dow = fields
    if not (_PLAIN.match(minute) and _PLAIN.match(hour) and _PLAIN.match(dom)):
        return None
    if not (_names_only(month, _MONTHS) and _names_only(dow, _DAYS)):
        return None
    expanded, nth = croniter.expand(expr)
    if nth:
        return None

    def ints(values: Sequence[object]) -> frozenset[int] | None:
        if values == ["*"]:
            return None
        if not all(isinstance(v, int) for v in values):
            raise ValueError("non-numeric")
        return frozenset(v for v in values if isinstance(v, int))

    try:
        minutes = ints(expanded[0]) or frozenset(range(60))
        hours = ints(expanded[1]) or frozenset(range(24))
        days = CronDays(
            times=tuple(time(h, m) for h in sorted(hours) for m in sorted(minutes)),
            doms=ints(expanded[2]),
            months=ints(expanded[3]),
            dows=frozenset(d % 7 for d in ints(expanded[4]) or ()) or None,
        )
    except ValueError:
        return None
    return days


def _walls_fast(days: CronDays, first: date, last: date) -> Iterator[datetime]:
    one = timedelta(days=1)
    day = first
    while day <= last:
        if days.matches(day):
            for t in days.times:
                yield datetime.combine(day, t)
        day += one


def _walls_croniter(expr: str, first: date, last: date) -> Iterator[datetime]:
    """Matching naive wall times via croniter itself (naive in, naive out: no DST involved)."""
    it = croniter(expr, datetime.combine(first, time()) - timedelta(seconds=1))
    stop = datetime.combine(last + timedelta(days=1), time())
    while True:
        try:
            wall = it.get_next(datetime)
        except Exception:  # CroniterBadDateError: no further match
            return
        if wall >= stop:
            return
        yield wall


def cron_walls(expr: str, first: date, last: date) -> Iterator[datetime]:
    """Naive local wall times matching ``expr`` on local days ``first``..``last`` inclusive."""
    days = cron_days(expr)
    if days is not None:
        return _walls_fast(days, first, last)
    return _walls_croniter(expr, first, last)


class HandoffSeries:
    """A rotation's handoff instants (epoch seconds), handoff 0 at its start, grown on demand.

    Index ``i`` is the global handoff number since the rotation's start, so shift ``k`` spans
    ``[h[kL], h[(k+1)L])``. Extending walks local days forward from where it stopped.
    """

    def __init__(self, rotation: RotationSpec) -> None:
        self.expr = rotation.handoff
        self.tz: ZoneInfo = zone(rotation.tz)
        self.start = to_ts(rotation.start)
        self.instants: list[int] = [self.start]
        self._next_day = local_date(self.start, self.tz)
        self._done = False  # the cron never fires again
        self._chunk = 62  # days per extension; grows so long horizons take few steps
        self._lock = threading.Lock()  # Bolt serves requests on threads; extend one at a time

    def _extend(self) -> None:
        with self._lock:
            self._extend_locked()

    def _extend_locked(self) -> None:
        last = self._next_day + timedelta(days=self._chunk - 1)
        out = self.instants
        for wall in cron_walls(self.expr, self._next_day, last):
            ts = wall_to_ts(wall, self.tz)
            if ts > out[-1]:
                out.append(ts)
        self._next_day = last + timedelta(days=1)
        self._chunk = min(self._chunk * 2, 800)

    def at_index(self, i: int) -> int:
        """Handoff ``i``, or :data:`FOREVER` when the cron stops firing before it."""
        while len(self.instants) <= i and not self._done:
            before = len(self.instants)
            limit = self._next_day + timedelta(days=SEARCH_DAYS)
            while len(self.instants) == before and self._next_day < limit:
                self._extend()
            if len(self.instants) == before:
                self._done = True
        return self.instants[i] if i < len(self.instants) else FOREVER

    def index_at(self, ts: int) -> int:
        """The number of the last handoff at or before ``ts`` (-1 before the start)."""
        if ts < self.start:
            return -1
        while not self._done and self.instants[-1] <= ts:
            n = len(self.instants)
            self.at_index(n)
        return bisect_right(self.instants, ts) - 1

    def between(self, start: int, end: int) -> list[int]:
        """Handoffs in ``[start, end)``."""
        if end > self.start:
            self.index_at(end)
        return self.instants[bisect_left(self.instants, start) : bisect_left(self.instants, end)]


@lru_cache(maxsize=1024)
def series(rotation: RotationSpec) -> HandoffSeries:
    """The shared, growing handoff series of a rotation spec (memoised on the frozen spec)."""
    return HandoffSeries(rotation)


def handoff_instants(rotation: RotationSpec, start: datetime, end: datetime) -> list[datetime]:
    """Aware-UTC handoff instants of ``rotation`` in ``[start, end)``, strictly increasing.

    The rotation's ``start`` is handoff 0; later handoffs are cron matches read in the
    rotation's zone with the DST rules of :mod:`rota.wallclock`. Memoised per rotation spec.
    """
    return [from_ts(ts) for ts in series(rotation).between(to_ts(start), to_ts(end))]
