"""The exposure budget: how long each member spends on graphic cases, per local day.

A span runs while a member holds a graphic case (their team's `exposure.graphic` types): from
taking, acknowledging or being assigned it, to resolving it, its passing to someone else
(reassign, someone else taking it) or their handoff being accepted (they went off shift; a
later note, escalation or edit of theirs on the case starts a new span). Spans are rows written
in the transaction of the case change that starts or ends them (docs/architecture.md,
invariant 7), so the accounting survives restarts and is the same on every replica.

Time is counted once however many cases a member holds at once, and split at the member's
local midnights (DST-exact: `rota.wallclock`). The figures are personal: callers show them to
the member and the managers only, and they never go to a channel, a log line or an audit detail.

`case_id` carries no foreign key: purging a case after its retention keeps the time it cost,
which holds nothing of the case itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, Index, or_, text
from sqlmodel import Field, Session, SQLModel, col, select

from chatops.blockkit import mention
from chatops.cases.exposure_settings import ExposureSpec, load_exposure
from chatops.cases.models import Case, CaseStatus
from chatops.errors import Refused
from chatops.team import Actor, get_team, member_of, require_member
from rota.models import utc_column
from rota.wallclock import (
    from_ts,
    local_date,
    local_day_bounds,
    merge,
    split_by_local_day,
    to_ts,
    zone,
)

#: How far back a span may have started and still touch a member's current local day
#: (a local day lasts at most 25 hours, and zones differ from UTC by at most 14).
DAY_REACH = timedelta(hours=27)


class ExposureSpan(SQLModel, table=True):
    """`member` held graphic case `case_id` over [started, ended); `ended` None: still does."""

    __tablename__ = "exposure_span"
    __table_args__ = (
        Index("ix_exposure_span_team_member_started", "team_id", "member", "started"),
        # At most one running span per case: the one of whoever holds it now.
        Index(
            "ux_exposure_span_running_case",
            "case_id",
            unique=True,
            sqlite_where=text("ended IS NULL"),
            postgresql_where=text("ended IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id")
    case_id: int = Field(index=True)
    member: str  # Slack user id
    started: datetime = utc_column(nullable=False)
    ended: datetime | None = utc_column(nullable=True, index=True)


def _running(session: Session, *where: ColumnElement[bool]) -> list[ExposureSpan]:
    query = select(ExposureSpan).where(col(ExposureSpan.ended).is_(None), *where)
    return list(session.exec(query.with_for_update()))


def _close(session: Session, spans: Iterable[ExposureSpan], at: datetime) -> int:
    closed = 0
    for span in spans:
        span.ended = max(at, span.started)
        session.add(span)
        closed += 1
    return closed


def holds(
    session: Session,
    *,
    case: Case,
    member: str | None,
    at: datetime,
    settings: ExposureSpec | None = None,
) -> None:
    """`member` holds `case` from `at` (took, acknowledged, was assigned it, or worked on it
    again after going off shift): anyone else's running span on it ends, theirs starts unless
    it runs already. Nothing happens for a case that is not graphic or is resolved."""
    assert case.id is not None
    settings = settings or load_exposure(session, team_id=case.team_id)
    if not settings.is_graphic(case.type) or case.status == CaseStatus.resolved:
        end_case(session, case_id=case.id, at=at)
        return
    running = _running(session, col(ExposureSpan.case_id) == case.id)
    _close(session, [s for s in running if s.member != member], at)
    if member is None or any(s.member == member for s in running):
        return
    session.add(ExposureSpan(team_id=case.team_id, case_id=case.id, member=member, started=at))
    session.flush()


def retyped(session: Session, *, case: Case, old_type: str, at: datetime) -> None:
    """The case's type was corrected: its assignee's span starts if it became graphic, and
    ends if it stopped being graphic."""
    settings = load_exposure(session, team_id=case.team_id)
    if settings.is_graphic(case.type) != settings.is_graphic(old_type):
        holds(session, case=case, member=case.assignee, at=at, settings=settings)


def end_case(session: Session, *, case_id: int, at: datetime) -> int:
    """The case is resolved or no longer graphic: its running span ends at `at`."""
    return _close(session, _running(session, col(ExposureSpan.case_id) == case_id), at)


def end_member(session: Session, *, team_id: int, member: str, at: datetime) -> int:
    """`member` went off shift (their handoff was accepted): each of their spans ends."""
    where = (col(ExposureSpan.team_id) == team_id, col(ExposureSpan.member) == member)
    return _close(session, _running(session, *where), at)


def _intervals(
    session: Session,
    *,
    team_id: int,
    start: datetime,
    end: datetime,
    members: Iterable[str] | None = None,
) -> dict[str, list[tuple[int, int]]]:
    """Each member's spans overlapping [start, end), clipped to it, in epoch seconds; a
    running span counts up to `end`."""
    query = select(ExposureSpan).where(
        col(ExposureSpan.team_id) == team_id,
        col(ExposureSpan.started) < end,
        or_(col(ExposureSpan.ended).is_(None), col(ExposureSpan.ended) > start),
    )
    if members is not None:
        query = query.where(col(ExposureSpan.member).in_(list(members)))
    lo, hi = to_ts(start), to_ts(end)
    out: dict[str, list[tuple[int, int]]] = {}
    for span in session.exec(query):
        a = max(lo, to_ts(span.started))
        b = min(hi, to_ts(span.ended) if span.ended is not None else hi)
        if a < b:
            out.setdefault(span.member, []).append((a, b))
    return out


def exposure_by_member(
    session: Session, *, team_id: int, start: datetime, end: datetime
) -> dict[str, timedelta]:
    """Time each member spent on graphic cases in [start, end) (Slack id → time); members with
    none are left out. A span still running counts up to `end`, so pass an `end` not later
    than now. Time on two cases at once counts once."""
    return {
        member: timedelta(seconds=sum(b - a for a, b in merge(spans)))
        for member, spans in _intervals(session, team_id=team_id, start=start, end=end).items()
    }


def daily_exposure(
    session: Session, *, team_id: int, member: str, tz: str, start: datetime, end: datetime
) -> dict[date, timedelta]:
    """`member`'s time on graphic cases in [start, end) per local calendar day of zone `tz`
    (a span crossing local midnight counts on both days); days with none are left out."""
    spans = _intervals(session, team_id=team_id, start=start, end=end, members=[member])
    per_day = split_by_local_day(spans.get(member, []), zone(tz))
    return {day: timedelta(seconds=s) for day, s in sorted(per_day.items()) if s}


def day_of(tz: str, now: datetime) -> tuple[date, datetime, datetime]:
    """The local day of zone `tz` that `now` falls in, and its bounds as UTC instants."""
    day = local_date(to_ts(now), zone(tz))
    a, b = local_day_bounds(day, zone(tz))
    return day, from_ts(a), from_ts(b)


def today(session: Session, *, team_id: int, member: str, tz: str, now: datetime) -> timedelta:
    """`member`'s time on graphic cases so far in their local day."""
    day, start, _ = day_of(tz, now)
    return daily_exposure(session, team_id=team_id, member=member, tz=tz, start=start, end=now).get(
        day, timedelta(0)
    )


def over_cap(session: Session, *, team_id: int, zones: dict[str, str], now: datetime) -> set[str]:
    """Which of the members in `zones` (Slack id → IANA zone) reached the team's daily cap in
    their own local day by `now`."""
    settings = load_exposure(session, team_id=team_id)
    if not settings.graphic or not zones:
        return set()
    spans = _intervals(
        session, team_id=team_id, start=now - DAY_REACH, end=now, members=list(zones)
    )
    spent: set[str] = set()
    for member, intervals in spans.items():
        day = local_date(to_ts(now), zone(zones[member]))
        seconds = split_by_local_day(intervals, zone(zones[member])).get(day, 0)
        if timedelta(seconds=seconds) >= settings.cap:
            spent.add(member)
    return spent


def recent_holders(session: Session, *, now: datetime) -> list[tuple[int, str]]:
    """(team, member) of every span that may touch its member's current local day."""
    rows = session.exec(
        select(ExposureSpan.team_id, ExposureSpan.member)
        .where(or_(col(ExposureSpan.ended).is_(None), col(ExposureSpan.ended) > now - DAY_REACH))
        .distinct()
    )
    return sorted({(team_id, member) for team_id, member in rows})


def holding(session: Session, *, member: str) -> bool:
    """Whether `member` holds a graphic case right now (a span of theirs is running)."""
    query = select(ExposureSpan.id).where(
        col(ExposureSpan.member) == member, col(ExposureSpan.ended).is_(None)
    )
    return session.exec(query).first() is not None


@dataclass(frozen=True)
class Figures:
    """One member's exposure over their last `days` local days, for them or a manager."""

    member: str
    tz: str
    days: dict[date, timedelta]  # every day of the window, oldest first, zero included
    cap: timedelta
    today: timedelta

    @property
    def total(self) -> timedelta:
        return sum(self.days.values(), timedelta(0))


def figures(
    session: Session,
    *,
    team_id: int,
    actor: Actor | None,
    member: str,
    days: int,
    now: datetime,
) -> Figures:
    """`member`'s time on graphic cases per local day, the last `days` days up to `now`.

    Only the member and the managers may see it: anyone else is refused in one line, and the
    figures are not audited or logged (they would leave the two people they belong to).
    """
    team = get_team(session, team_id)
    who = require_member(session, team, actor)
    if member != who.slack_id and not who.is_manager:
        raise Refused(
            f"exposure figures are private: only {mention(member)} and the managers see them"
        )
    row = member_of(session, team, member)
    if row is None:
        raise Refused(f"{mention(member)} is not a member of the team")
    day, _, _ = day_of(row.tz, now)
    first = day - timedelta(days=days - 1)
    window_start = from_ts(local_day_bounds(first, zone(row.tz))[0])
    spent = daily_exposure(
        session, team_id=team_id, member=member, tz=row.tz, start=window_start, end=now
    )
    every = {
        first + timedelta(days=i): spent.get(first + timedelta(days=i), timedelta(0))
        for i in range(days)
    }
    settings = load_exposure(session, team_id=team_id)
    return Figures(member=member, tz=row.tz, days=every, cap=settings.cap, today=every[day])
