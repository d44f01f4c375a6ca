"""Fatigue-aware checks: rotas that cover every minute can still wear people out.

The people on this rota look at the worst of the internet, across time zones, at night. These
checks find what a coverage proof cannot: long runs of night shifts, very long shifts, too little
rest between two shifts, and one person carrying too much of the on-call time. They are
WARNINGS, never gaps: a rota that trips them is still covered and may still be saved.

A member's "shift" here is a duty period: their on-call intervals from every rotation and
override, unioned, with touching ones joined (two back-to-back 12-hour shifts are 24 hours on
call). Night is 23:00–06:00 on the MEMBER's own wall clock, with the rota's DST rules.

The rules (thresholds from the team's `fatigue` settings):

* night streak: more than `night_streak` successive shifts that each touch a local night, with
  no night off between two of them (the next one touches the same night or the one after the
  last night the previous one touched);
* long shift: a shift longer than `max_shift_hours`;
* short rest: less than `min_rest_hours` between the end of one shift and the start of the next;
* heavy share: on call more than `max_share` of a 4-week window (windows laid end to end from
  the start of the check).

The rules work on epoch seconds and plain intervals so that a brute-force oracle can check them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from rota.handoffs import FOREVER
from rota.resolve import CompiledRota, compile_rota
from rota.spec import FatigueSpec, MemberSpec, RotaSpec
from rota.timefmt import fmt_local, fmt_utc
from rota.wallclock import from_ts, local_date, merge, to_ts, wall_to_ts, zone

NIGHT_FROM = time(23, 0)
NIGHT_TO = time(6, 0)
SHARE_WINDOW = timedelta(days=28)

Span = tuple[int, int]


@dataclass(frozen=True)
class RotaWarning:
    """One warning about one member: which rule, the shifts concerned, and a sentence."""

    rule: str  # night_streak | long_shift | short_rest | heavy_share | away
    member: str
    name: str
    tz: str
    spans: tuple[tuple[datetime, datetime], ...]
    message: str

    def describe(self) -> str:
        """The sentence, then each shift in UTC and in the member's local time."""
        lines = [f"{self.name} ({self.member}): {self.message}"]
        for a, b in self.spans:
            lines.append(
                f"  {fmt_utc(a)} – {fmt_utc(b)} "
                f"(local {fmt_local(a, self.tz)} – {fmt_local(b, self.tz)})"
            )
        return "\n".join(lines)

    def as_json(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "member": self.member,
            "name": self.name,
            "message": self.message,
            "shifts": [
                {
                    "start": fmt_utc(a),
                    "end": fmt_utc(b),
                    "local_start": fmt_local(a, self.tz),
                    "local_end": fmt_local(b, self.tz),
                }
                for a, b in self.spans
            ],
        }


def duty_periods(intervals: Iterable[Span]) -> list[Span]:
    """Intervals unioned, touching ones joined: a member's shifts as they live them."""
    return merge(list(intervals))


def nights_touched(span: Span, tz: ZoneInfo) -> list[date]:
    """The local dates whose night (that date 23:00 to the next day 06:00) `span` overlaps."""
    a, b = span
    out: list[date] = []
    day = local_date(a, tz) - timedelta(days=1)
    last = local_date(b, tz)
    while day <= last:
        lo = wall_to_ts(datetime.combine(day, NIGHT_FROM), tz)
        hi = wall_to_ts(datetime.combine(day + timedelta(days=1), NIGHT_TO), tz)
        if a < hi and b > lo:
            out.append(day)
        day += timedelta(days=1)
    return out


def night_streaks(periods: Sequence[Span], tz: ZoneInfo, limit: int) -> list[list[Span]]:
    """Runs of more than `limit` successive night shifts without a night off between them."""
    runs: list[list[Span]] = []
    run: list[Span] = []
    last_night: date | None = None
    for span in periods:
        nights = nights_touched(span, tz) if span[1] - span[0] > 0 else []
        if not nights:
            run, last_night = _close(runs, run, limit), None
            continue
        if last_night is not None and nights[0] > last_night + timedelta(days=1):
            run = _close(runs, run, limit)
        run.append(span)
        last_night = nights[-1]
    _close(runs, run, limit)
    return runs


def _close(runs: list[list[Span]], run: list[Span], limit: int) -> list[Span]:
    if len(run) > limit:
        runs.append(run)
    return []


def long_shifts(periods: Sequence[Span], max_seconds: float) -> list[Span]:
    """Shifts longer than `max_seconds`."""
    return [p for p in periods if p[1] - p[0] > max_seconds]


def short_rests(periods: Sequence[Span], min_seconds: float) -> list[tuple[Span, Span]]:
    """Successive shifts with less than `min_seconds` of rest between them."""
    return [(x, y) for x, y in pairwise(periods) if y[0] - x[1] < min_seconds]


def heavy_shares(
    periods: Sequence[Span], windows: Sequence[Span], max_share: float
) -> list[tuple[Span, float]]:
    """The windows in which the member is on call more than `max_share` of the time."""
    out: list[tuple[Span, float]] = []
    for lo, hi in windows:
        busy = sum(max(0, min(b, hi) - max(a, lo)) for a, b in periods)
        share = busy / (hi - lo)
        if share > max_share:
            out.append(((lo, hi), share))
    return out


def share_windows(start: int, end: int) -> list[Span]:
    """4-week windows laid end to end from `start`, enough to cover `[start, end)`."""
    step = int(SHARE_WINDOW.total_seconds())
    out = [(start, start + step)]
    while out[-1][1] < end:
        out.append((out[-1][1], out[-1][1] + step))
    return out


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:g} h"


def fatigue_warnings(
    rota: RotaSpec | CompiledRota,
    start: datetime,
    end: datetime,
    settings: FatigueSpec | None = None,
) -> list[RotaWarning]:
    """Every fatigue warning for shifts overlapping `[start, end)`, member by member."""
    compiled = rota if isinstance(rota, CompiledRota) else compile_rota(rota)
    spec = compiled.spec
    rules = settings or spec.team.fatigue
    s, e = to_ts(start), to_ts(end)
    windows = share_windows(s, e)
    reach = max(e, windows[-1][1])
    by_member: dict[str, list[Span]] = {}
    for a, b, who, _, _ in compiled.pieces(s, reach):
        if b >= FOREVER:  # an endless last shift: no end to judge
            continue
        by_member.setdefault(who, []).append((a, b))
    out: list[RotaWarning] = []
    for member in spec.members:
        periods = duty_periods(by_member.get(member.id, []))
        if not periods:
            continue
        tz = zone(member.tz)
        inside = [p for p in periods if p[1] > s and p[0] < e]

        def warn(rule: str, spans: Iterable[Span], message: str, m: MemberSpec = member) -> None:
            times = tuple((from_ts(a), from_ts(b)) for a, b in spans)
            out.append(RotaWarning(rule, m.id, m.name, m.tz, times, message))

        for streak in night_streaks(inside, tz, rules.night_streak):
            warn(
                "night_streak",
                streak,
                f"{len(streak)} shifts in a row touch their local night (23:00–06:00), "
                f"more than {rules.night_streak}",
            )
        for span in long_shifts(inside, rules.max_shift_hours * 3600):
            warn(
                "long_shift",
                [span],
                f"a {_hours(span[1] - span[0])} shift, longer than {rules.max_shift_hours:g} h",
            )
        for x, y in short_rests(inside, rules.min_rest_hours * 3600):
            warn(
                "short_rest",
                [x, y],
                f"only {_hours(y[0] - x[1])} of rest between two shifts, "
                f"less than {rules.min_rest_hours:g} h",
            )
        for (lo, hi), share in heavy_shares(periods, windows, rules.max_share):
            warn(
                "heavy_share",
                [(lo, hi)],
                f"on call {share:.0%} of the 4 weeks from {fmt_utc(from_ts(lo))}, "
                f"more than {rules.max_share:.0%}",
            )
    return out


@dataclass(frozen=True)
class Away:
    """A member away over `[start, end)` (vacation, sick leave); `id` names it to people."""

    id: int
    member: str
    start: datetime
    end: datetime
    reason: str = ""


def away_warnings(
    rota: RotaSpec | CompiledRota, aways: Iterable[Away], start: datetime, end: datetime
) -> list[RotaWarning]:
    """Every shift in `[start, end)` that its member holds while they are away."""
    compiled = rota if isinstance(rota, CompiledRota) else compile_rota(rota)
    spec = compiled.spec
    members = {m.id: m for m in spec.members}
    out: list[RotaWarning] = []
    for away in aways:
        lo, hi = max(away.start, start), min(away.end, end)
        member = members.get(away.member)
        if lo >= hi or member is None:
            continue
        clash = compiled.shifts(lo, hi, member=away.member)
        if not clash:
            continue
        out.append(
            RotaWarning(
                "away",
                member.id,
                member.name,
                member.tz,
                tuple((x.start, x.end) for x in clash),
                f"{len(clash)} shift(s) while away (#{away.id}, {fmt_utc(away.start)} – "
                f"{fmt_utc(away.end)}{': ' + away.reason if away.reason else ''})",
            )
        )
    return out
