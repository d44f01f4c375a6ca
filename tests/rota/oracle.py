"""A brute-force oracle for the rota engine: every UTC minute decided on its own.

It shares no code with ``rota/`` beyond the spec shapes. Its one idea is the *high-water wall
clock* ``M(u)``: the latest local wall time shown at or before instant ``u``. The issue's DST
rules (a skipped wall time happens at the first valid instant after it; a repeated one at its
first occurrence) both say "wall time ``w`` happens at the first instant whose clock reads ``w``
or later", i.e. at the first minute ``u`` with ``M(u) >= w``. So:

* a cron handoff happens at minute ``u`` iff a matching wall time lies in ``(M(u-1m), M(u)]``;
* minute ``u`` is inside a window opened at wall ``a`` and closed at wall ``b`` iff
  ``a <= M(u) < b``.

Cron matching is its own small parser (numbers, ``*``, ranges, steps, lists), enough for the
expressions the property tests generate. Everything must sit on whole minutes.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from rota.spec import RotaSpec, RotationSpec

MIN = 60
ONE = timedelta(minutes=1)
DAY_INDEX = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def ts(dt: datetime) -> int:
    return int(dt.timestamp())


def utc(t: int) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def wall(t: int, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(t, tz).replace(tzinfo=None)


def _field(text: str, lo: int, hi: int) -> set[int] | None:
    """Values of one cron field, None for a bare ``*`` (unrestricted)."""
    if text == "*":
        return None
    out: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/")
            step = int(step_text)
        if part == "*":
            a, b = lo, hi
        elif "-" in part:
            a_text, b_text = part.split("-")
            a, b = int(a_text), int(b_text)
        else:
            a = b = int(part)
        out.update(range(a, b + 1, step))
    return out


@dataclass
class Cron:
    minutes: set[int] | None
    hours: set[int] | None
    doms: set[int] | None
    months: set[int] | None
    dows: set[int] | None

    @classmethod
    def parse(cls, expr: str) -> Cron:
        m, h, dom, mon, dow = expr.split()
        dows = _field(dow, 0, 7)
        if dows is not None:
            dows = {d % 7 for d in dows}
            if dows == set(range(7)):
                dows = None
        doms = _field(dom, 1, 31)
        if doms == set(range(1, 32)):
            doms = None
        return cls(_field(m, 0, 59), _field(h, 0, 23), doms, _field(mon, 1, 12), dows)

    def matches(self, w: datetime) -> bool:
        def ok(values: set[int] | None, v: int) -> bool:
            return values is None or v in values

        if not (ok(self.minutes, w.minute) and ok(self.hours, w.hour) and ok(self.months, w.month)):
            return False
        cron_dow = w.isoweekday() % 7
        if self.doms is not None and self.dows is not None:
            return w.day in self.doms or cron_dow in self.dows
        return ok(self.doms, w.day) and ok(self.dows, cron_dow)


class HighWater:
    """``M(u)`` for every minute from ``lo`` to ``hi`` in one zone."""

    def __init__(self, tz: ZoneInfo, lo: int, hi: int) -> None:
        self.lo = lo - 86400  # a clock never falls back by a day: M(lo) is exact
        self.values: list[datetime] = []
        best = wall(self.lo, tz)
        for t in range(self.lo, hi + MIN, MIN):
            w = wall(t, tz)
            best = max(best, w)
            self.values.append(best)

    def __call__(self, t: int) -> datetime:
        return self.values[(t - self.lo) // MIN]


def in_windows(m: datetime, rules: list[tuple[set[int], time, time]]) -> bool:
    """Whether high-water wall ``m`` is inside a window opened today or yesterday."""
    for days, a, b in rules:
        for back in (0, 1):
            d: date = m.date() - timedelta(days=back)
            if d.weekday() not in days:
                continue
            opens = datetime.combine(d, a)
            closes = datetime.combine(d + timedelta(days=1) if b <= a else d, b)
            if opens <= m < closes:
                return True
    return False


@dataclass
class RotationOracle:
    spec: RotationSpec
    start: int
    handoffs: list[int] = field(default_factory=list)
    rules: list[tuple[set[int], time, time]] = field(default_factory=list)
    clock: HighWater | None = None

    @classmethod
    def build(cls, spec: RotationSpec, lo: int, hi: int) -> RotationOracle:
        tz = ZoneInfo(spec.tz)
        start = ts(spec.start)
        clock = HighWater(tz, min(lo, start), hi)
        cron = Cron.parse(spec.handoff)
        handoffs = [start]
        for t in range(start + MIN, hi + MIN, MIN):
            before, now = clock(t - MIN), clock(t)
            if now - before == ONE:  # the usual minute: just this wall time
                if cron.matches(now):
                    handoffs.append(t)
                continue
            w = before + ONE
            while w <= now:  # a spring-forward jump: every skipped wall time lands here
                if cron.matches(w):
                    handoffs.append(t)
                    break
                w += ONE
        rules = [({DAY_INDEX[d.value] for d in r.days}, r.start, r.end) for r in spec.restrictions]
        return cls(spec, start, handoffs, rules, clock)

    def member_at(self, t: int) -> str | None:
        """The rotation's own responder at minute ``t`` (no overrides)."""
        if t < self.start:
            return None
        if self.rules:
            assert self.clock is not None
            if not in_windows(self.clock(t), self.rules):
                return None
        i = bisect_right(self.handoffs, t) - 1
        return self.dealt(i // self.spec.shift_length)

    def shift_start(self, k: int) -> int | None:
        """When shift ``k`` starts, if within the oracle's window."""
        i = k * self.spec.shift_length
        return self.handoffs[i] if i < len(self.handoffs) else None

    def dealt(self, k: int) -> str:
        """Who shift ``k`` is dealt to: the order in force when it starts, counted from the
        first shift that order dealt (found by walking every shift, not by arithmetic)."""
        orders = [o.participants for o in self.spec.previous] + [self.spec.participants]
        first, people = 0, orders[0]
        for e, earlier in enumerate(self.spec.previous):
            j = 0
            while (s := self.shift_start(j)) is not None and s < ts(earlier.until):
                j += 1
            if k < j:
                break
            first, people = j, orders[e + 1]
        return people[(k - first) % len(people)]


class Oracle:
    """Who is on call at each minute of ``[lo, hi)``, from the spec alone."""

    def __init__(self, rota: RotaSpec, lo: datetime, hi: datetime) -> None:
        self.rota = rota
        self.lo, self.hi = ts(lo), ts(hi)
        assert self.lo % MIN == 0 and self.hi % MIN == 0
        self.rotations = [RotationOracle.build(r, self.lo, self.hi) for r in rota.rotations]
        # Overrides that touch the window, per rotation name (None: team-wide), in list order.
        self.overrides: dict[str | None, list[tuple[int, int, str]]] = {}
        for o in rota.overrides:
            a, b = ts(o.start), ts(o.end)
            if b > self.lo and a < self.hi:
                self.overrides.setdefault(o.rotation, []).append((a, b, o.member))

    def who(self, t: int, layer: str | None = None) -> set[tuple[str, str | None, str]]:
        """``(member, rotation or None, source)`` on call at minute ``t``."""
        out: set[tuple[str, str | None, str]] = set()
        for rot in self.rotations:
            if layer is not None and rot.spec.layer != layer:
                continue
            mine = [m for a, b, m in self.overrides.get(rot.spec.name, ()) if a <= t < b]
            if mine:
                out.add((mine[-1], rot.spec.name, "override"))  # the later override wins
                continue
            member = rot.member_at(t)
            if member is not None:
                out.add((member, rot.spec.name, "rotation"))
        if layer is None:
            for a, b, m in self.overrides.get(None, ()):
                if a <= t < b:
                    out.add((m, None, "override"))
        return out

    def gaps(self, required: int, layer: str | None = None) -> list[tuple[int, int, int]]:
        """Maximal runs of minutes with the same count below ``required``."""
        out: list[tuple[int, int, int]] = []
        for t in range(self.lo, self.hi, MIN):
            count = len({m for m, _, _ in self.who(t, layer)})
            if count >= required:
                continue
            if out and out[-1][1] == t and out[-1][2] == count:
                out[-1] = (out[-1][0], t + MIN, count)
            else:
                out.append((t, t + MIN, count))
        return out

    def load(self) -> dict[str, tuple[int, int, int]]:
        """Seconds on call, in the member's local night (22–07) and weekend, per member."""
        clocks = {m.id: HighWater(ZoneInfo(m.tz), self.lo, self.hi) for m in self.rota.members}
        out = {m.id: [0, 0, 0] for m in self.rota.members}
        for t in range(self.lo, self.hi, MIN):
            for member in {m for m, _, _ in self.who(t)}:
                w = clocks[member](t)
                out[member][0] += MIN
                if w.time() >= time(22) or w.time() < time(7):
                    out[member][1] += MIN
                if w.weekday() >= 5:
                    out[member][2] += MIN
        return {k: (v[0], v[1], v[2]) for k, v in out.items()}
