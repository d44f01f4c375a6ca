"""The team report's figures: cases by type and severity, how fast they were acknowledged and
resolved, and who carried the pager, split into local nights and weekends.

The arithmetic is pure (`case_figures`, `hour_figures`) so a hand-built data set can check it;
`team_report` only reads the rows for one window. Cases are counted, never quoted: a restricted
case adds to a count like any other, and nothing here reads a summary, a detail or a note
(invariant 6 in docs/architecture.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session, col

from chatops.cases.exposure import exposure_by_member
from chatops.casetypes import CaseType, Severity
from chatops.db import as_utc
from chatops.errors import Refused
from chatops.oncall.cache import compiled_rota
from chatops.team import get_team
from rota.fatigue import NIGHT_FROM, NIGHT_TO
from rota.load import load
from rota.resolve import CompiledRota

#: The longest window one report covers (a leap year and a day of slack for zones).
MAX_WINDOW = timedelta(days=366)
#: The percentiles reported for time to acknowledge and to resolve.
PERCENTILES = (50, 90)


@dataclass(frozen=True)
class CaseTimes:
    """What the report reads of one case: no text, only its kind and its clock."""

    type: str
    severity: str
    restricted: bool
    opened_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None


@dataclass(frozen=True)
class Durations:
    """How long something took over `count` cases (`p50`, `p90`: None when there were none)."""

    count: int
    p50: timedelta | None
    p90: timedelta | None


@dataclass(frozen=True)
class CaseFigures:
    total: int
    restricted: int
    #: type → severity → cases opened in the window; every known type and severity is present.
    by_type: dict[str, dict[str, int]]
    acknowledge: Durations
    resolve: Durations
    unacknowledged: int  # opened in the window and never acknowledged (nor resolved)
    unresolved: int  # opened in the window and still open at the report's end

    def type_total(self, case_type: str) -> int:
        return sum(self.by_type[case_type].values())

    def severity_total(self, severity: str) -> int:
        return sum(row.get(severity, 0) for row in self.by_type.values())


@dataclass(frozen=True)
class MemberHours:
    """One member's on-call time in the window, split without counting an hour twice:
    `weekday_day + weekday_night + weekend == hours`; `night` is every local night hour,
    weekend nights included."""

    member: str
    name: str
    tz: str
    hours: float
    night: float
    weekend: float
    weekday_night: float
    weekday_day: float


@dataclass(frozen=True)
class TeamReport:
    team: str
    start: datetime
    end: datetime
    cases: CaseFigures
    on_call: list[MemberHours]
    #: Exposure hours per member (Slack id → hours; chatops/cases/exposure.py): for managers
    #: only. None when not computed (a report built by hand).
    exposure_hours: dict[str, float] | None = field(default=None)


def check_window(start: datetime, end: datetime) -> None:
    """`Refused` (one line) for a window that ends before it starts or spans over a year."""
    if end <= start:
        raise Refused("the report's end is before its start")
    if end - start > MAX_WINDOW:
        raise Refused("a report covers a year at most")


def percentile(values: Sequence[timedelta], p: int) -> timedelta | None:
    """The nearest-rank percentile: the smallest value with at least p% of them at or below it
    (an observed duration, never an interpolated one). None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def _durations(values: list[timedelta]) -> Durations:
    p50, p90 = (percentile(values, p) for p in PERCENTILES)
    return Durations(count=len(values), p50=p50, p90=p90)


def case_figures(cases: Iterable[CaseTimes], *, end: datetime) -> CaseFigures:
    """Counts and timings of the cases opened in a window that closes at `end`.

    A time counts when it happened by `end`: a case acknowledged after the window is
    unacknowledged in this report, as it was when the window closed. Resolving acknowledges
    nothing: a case resolved without an acknowledgement has a time to resolve only.
    """
    by_type: dict[str, dict[str, int]] = {t.value: {s.value: 0 for s in Severity} for t in CaseType}
    total = restricted = unacknowledged = unresolved = 0
    ack: list[timedelta] = []
    done: list[timedelta] = []
    for case in cases:
        total += 1
        restricted += case.restricted
        row = by_type.setdefault(case.type, {s.value: 0 for s in Severity})
        row[case.severity] = row.get(case.severity, 0) + 1
        acked = (
            case.acknowledged_at if case.acknowledged_at and case.acknowledged_at <= end else None
        )
        resolved = case.resolved_at if case.resolved_at and case.resolved_at <= end else None
        if acked is not None:
            ack.append(acked - case.opened_at)
        elif resolved is None:
            unacknowledged += 1
        if resolved is not None:
            done.append(resolved - case.opened_at)
        else:
            unresolved += 1
    return CaseFigures(
        total=total,
        restricted=restricted,
        by_type=by_type,
        acknowledge=_durations(ack),
        resolve=_durations(done),
        unacknowledged=unacknowledged,
        unresolved=unresolved,
    )


def _hours(delta: timedelta) -> float:
    return delta / timedelta(hours=1)


def hour_figures(compiled: CompiledRota, start: datetime, end: datetime) -> list[MemberHours]:
    """Each member's on-call hours from the rota engine (every kind of shift, unioned), with
    their local nights (23:00–06:00, as the fatigue rules read them) and weekends (local
    Saturday and Sunday), read in each member's own zone with its DST rules."""
    loads = load(compiled, start, end, night_from=NIGHT_FROM, night_to=NIGHT_TO)
    out: list[MemberHours] = []
    for member in compiled.spec.members:
        x = loads[member.id]
        weekday_night = x.night - x.weekend_night
        out.append(
            MemberHours(
                member=member.id,
                name=member.name,
                tz=member.tz,
                hours=_hours(x.on_call),
                night=_hours(x.night),
                weekend=_hours(x.weekend),
                weekday_night=_hours(weekday_night),
                weekday_day=_hours(x.on_call - x.weekend - weekday_night),
            )
        )
    return out


def _case_times(session: Session, team_id: int, start: datetime, end: datetime) -> list[CaseTimes]:
    # Imported here: the case tables' module pulls in the rest of the case schema.
    from chatops.cases.models import Case

    rows = session.execute(
        select(
            col(Case.type),
            col(Case.severity),
            col(Case.restricted),
            col(Case.opened_at),
            col(Case.acknowledged_at),
            col(Case.resolved_at),
        ).where(
            col(Case.team_id) == team_id,
            col(Case.opened_at) >= start,
            col(Case.opened_at) < end,
        )
    ).all()
    return [
        CaseTimes(
            type=t,
            severity=s,
            restricted=r,
            opened_at=as_utc(o),
            acknowledged_at=as_utc(a) if a is not None else None,
            resolved_at=as_utc(d) if d is not None else None,
        )
        for t, s, r, o, a, d in rows
    ]


def team_report(
    session: Session, *, team_id: int, start: datetime, end: datetime, now: datetime | None = None
) -> TeamReport:
    """The report of [start, end): cases opened in it, and the on-call hours the rota gives.

    The hours come from the rota as it stands now (its overrides included), so a past window
    shows the shifts as planned after every edit made since. Exposure on a case still held
    counts up to `now` (default: `end`), never into the future.
    """
    check_window(start, end)
    team = get_team(session, team_id)
    cases = case_figures(_case_times(session, team_id, start, end), end=end)
    hours = hour_figures(compiled_rota(session, team_id), start, end)
    # Hours on graphic cases (chatops/cases/exposure.py): the report shows them to managers
    # only (and in the CLI).
    until = min(end, now) if now is not None else end
    spent = (
        exposure_by_member(session, team_id=team_id, start=start, end=until)
        if until > start
        else {}
    )
    exposure_hours = {member: t.total_seconds() / 3600 for member, t in sorted(spent.items())}
    return TeamReport(
        team=team.name,
        start=start,
        end=end,
        cases=cases,
        on_call=hours,
        exposure_hours=exposure_hours,
    )
