"""Away periods: a member says when they are away, and the team is asked to cover in time.

`/ts away` writes an `AwayPeriod` (audited). `rota check` and edit previews warn about every
shift inside someone's away time (`rota.fatigue.away_warnings`). The worker asks the team channel
for cover through the ordinary swap flow (a swap request with a Take button) two weeks and again
three days before each away period that overlaps the member's shifts.

Each ask is one `CoverRequestRun` row, unique per (away period, stage), inserted with ON CONFLICT
DO NOTHING in the same transaction as the swap request and its channel message: whichever worker
inserts it asks, every other pass (or a restarted worker) finds the row and does not ask again.
A period entered less than two weeks ahead asks at once (a missed stage is recorded as skipped,
so the team is not asked twice in one minute). A period already under way (`/ts away today`, a
member taken ill mid-shift) is asked about at once too, for the shifts still to come.

A reason is typed text (invariant 9): every message that shows it passes it through
`user_text`, and `aways_between` hands it to the warnings already made safe, since they are
posted as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from chatops import audit
from chatops.blockkit import actions, button, context, section, user_text
from chatops.db import Database
from chatops.errors import Refused
from chatops.oncall.models import OnCallMessage
from chatops.oncall.swaps import TAKE_ACTION, open_swap
from chatops.outbox.models import Topic
from chatops.outbox.queue import enqueue, insert_ignore
from chatops.team import Actor, get_team, require_member
from rota.cover import covered_shifts
from rota.fatigue import Away
from rota.models import Team, utc_column
from rota.store import load_rota
from rota.timefmt import fmt_local

log = logging.getLogger(__name__)

MAX_AWAY = timedelta(days=90)
#: How much of a reason a message shows: enough to tell a holiday from a conference.
REASON_SHOWN = 200
#: When the team is asked to cover, before an away period starts.
STAGES: tuple[tuple[str, timedelta], ...] = (("14d", timedelta(days=14)), ("3d", timedelta(days=3)))


class AwayPeriod(SQLModel, table=True):
    """`member` is away over [start, end); cancelled ones stay, for the record."""

    __tablename__ = "away_period"

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    member: str  # Slack user id
    start: datetime = utc_column(nullable=False, index=True)
    end: datetime = utc_column(nullable=False)
    reason: str = ""
    created_by: str
    created_at: datetime = utc_column(nullable=False)
    cancelled_at: datetime | None = utc_column(nullable=True)
    cancelled_by: str | None = None


class CoverRequestRun(SQLModel, table=True):
    """One ask for cover (or its skip) for one away period at one stage: done exactly once."""

    __tablename__ = "cover_request_run"
    __table_args__ = (UniqueConstraint("away_id", "stage"),)

    id: int | None = Field(default=None, primary_key=True)
    away_id: int = Field(foreign_key="away_period.id", index=True)
    stage: str  # "14d" | "3d"
    fire_at: datetime = utc_column(nullable=False)
    ran_at: datetime = utc_column(nullable=False)
    swap_request_id: int | None = None
    outcome: str = ""  # asked | skipped | nothing to cover
    worker: str | None = None


def add_away(
    session: Session,
    *,
    team_id: int,
    actor: Actor | None,
    start: datetime,
    end: datetime,
    reason: str,
    now: datetime,
) -> AwayPeriod:
    """Record the actor away over [start, end), audited; refused when the window is wrong."""
    if end == start:
        raise Refused("that away period is empty: it ends when it starts")
    if end < start:
        raise Refused("that away period ends before it starts")
    if end <= now:
        raise Refused("that away period lies in the past; give one that starts from now on")
    if start < now - timedelta(minutes=1):
        raise Refused("that away period starts in the past; give a start from now on")
    if end - start > MAX_AWAY:
        raise Refused("an away period may last 90 days at most; enter a longer one in parts")
    team = get_team(session, team_id)
    who = require_member(session, team, actor)
    overlap = session.exec(
        select(AwayPeriod).where(
            AwayPeriod.team_id == team_id,
            AwayPeriod.member == who.slack_id,
            col(AwayPeriod.cancelled_at).is_(None),
            col(AwayPeriod.start) < end,
            col(AwayPeriod.end) > start,
        )
    ).first()
    if overlap is not None:
        raise Refused(
            f"that overlaps your away #{overlap.id}; cancel it first (`/ts away cancel "
            f"{overlap.id}`) or give a window around it"
        )
    away = AwayPeriod(
        team_id=team_id,
        member=who.slack_id,
        start=start,
        end=end,
        reason=reason,
        created_by=who.slack_id,
        created_at=now,
    )
    session.add(away)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=who.slack_id,
        action="away.add",
        subject=f"away:{away.id}",
        team_id=team_id,
        detail={"start": start, "end": end},
    )
    return away


def list_away(session: Session, *, team_id: int, now: datetime) -> list[AwayPeriod]:
    """The team's current and coming away periods, soonest first."""
    return list(
        session.exec(
            select(AwayPeriod)
            .where(
                AwayPeriod.team_id == team_id,
                col(AwayPeriod.cancelled_at).is_(None),
                col(AwayPeriod.end) > now,
            )
            .order_by(col(AwayPeriod.start), col(AwayPeriod.id))
        )
    )


def cancel_away(
    session: Session, *, team_id: int, actor: Actor | None, away_id: int, now: datetime
) -> AwayPeriod:
    """Cancel an away period: its member's own, or any one for a manager; audited."""
    team = get_team(session, team_id)
    who = require_member(session, team, actor)
    away = session.get(AwayPeriod, away_id)
    if away is None or away.team_id != team_id:
        raise Refused(f"there is no away period #{away_id}; see them with `/ts away list`")
    if away.member != who.slack_id and not who.is_manager:
        raise Refused("only its member or a manager can cancel that away period")
    if away.cancelled_at is not None:
        raise Refused(f"away period #{away_id} is already cancelled")
    away.cancelled_at, away.cancelled_by = now, who.slack_id
    session.add(away)
    audit.record(
        session,
        at=now,
        actor=who.slack_id,
        action="away.cancel",
        subject=f"away:{away_id}",
        team_id=team_id,
        detail={"member": away.member},
    )
    return away


def aways_between(session: Session, team_id: int, start: datetime, end: datetime) -> list[Away]:
    """The team's live away periods overlapping [start, end), as the rota checks read them.

    Each reason is already `user_text` (escaped, defanged, no control characters): the warnings
    quote it and are posted to Slack as they are."""
    rows = session.exec(
        select(AwayPeriod)
        .where(
            AwayPeriod.team_id == team_id,
            col(AwayPeriod.cancelled_at).is_(None),
            col(AwayPeriod.end) > start,
            col(AwayPeriod.start) < end,
        )
        .order_by(col(AwayPeriod.start), col(AwayPeriod.id))
    )
    return [Away(r.id or 0, r.member, r.start, r.end, shown_reason(r.reason)) for r in rows]


def away_at(
    session: Session, team_id: int, at: datetime, members: Iterable[str]
) -> dict[str, datetime]:
    """Which of `members` said they are away at `at`, and when each is back.

    Away is advice, not a rota edit: they stay on call and are paged. Whoever reads who is on
    call, or whom a case paged, is told, so they can page the next level at once."""
    wanted = set(members)
    back: dict[str, datetime] = {}
    if not wanted:
        return back
    for row in aways_between(session, team_id, at, at + timedelta(microseconds=1)):
        if row.member in wanted:
            back[row.member] = max(back.get(row.member, row.end), row.end)
    return back


def when_asked(start: datetime, now: datetime) -> str:
    """When the team will be asked to cover a period starting at `start`, in words for its
    member ("now, and again three days before it starts")."""
    later = [offset for _, offset in STAGES if start - offset > now]
    befores = " and again ".join(f"{_lead(offset)} before it starts" for offset in later)
    if len(later) == len(STAGES):
        return befores
    return "now" + (f", and again {befores}" if befores else "")


def _lead(offset: timedelta) -> str:
    weeks, days = divmod(offset.days, 7)
    if days == 0 and weeks:
        return f"{_WORDS.get(weeks, str(weeks))} week{'s' * (weeks != 1)}"
    return f"{_WORDS.get(offset.days, str(offset.days))} day{'s' * (offset.days != 1)}"


_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}


def shown_reason(reason: str) -> str:
    """An away reason as any message may show it (invariant 9)."""
    return user_text(reason, REASON_SHOWN)


@dataclass(frozen=True)
class Asked:
    away_id: int
    stage: str
    swap_request_id: int | None


def run_cover_requests(db: Database, *, now: datetime, worker_id: str) -> list[Asked]:
    """Ask for cover for every away period whose stage is due and not yet done."""
    first = max(offset for _, offset in STAGES)
    with db.transaction() as session:
        due_ids = list(
            session.exec(
                select(AwayPeriod.id).where(
                    col(AwayPeriod.cancelled_at).is_(None),
                    col(AwayPeriod.end) > now,  # begun or not: what is still to come is asked
                    col(AwayPeriod.start) <= now + first,
                )
            )
        )
    done: list[Asked] = []
    for away_id in due_ids:
        assert away_id is not None
        try:
            with db.transaction() as session:
                asked = _ask(session, away_id=away_id, now=now, worker_id=worker_id)
            if asked is not None:
                done.append(asked)
        except Exception:
            log.exception("cover request failed", extra={"away_id": away_id})
    return done


def _ask(session: Session, *, away_id: int, now: datetime, worker_id: str) -> Asked | None:
    away = session.get(AwayPeriod, away_id)
    if away is None or away.cancelled_at is not None:
        return None
    due = [(stage, away.start - offset) for stage, offset in STAGES if away.start - offset <= now]
    if not due:
        return None
    *missed, (stage, fire_at) = due
    for old, old_at in missed:
        insert_ignore(
            session, CoverRequestRun, _run(away_id, old, old_at, now, "skipped", worker_id)
        )
    if not insert_ignore(
        session, CoverRequestRun, _run(away_id, stage, fire_at, now, "asked", worker_id)
    ):
        return None  # done already, by this worker before a restart or by another
    team = session.get(Team, away.team_id)
    assert team is not None and team.id is not None
    spec = load_rota(session, team)
    start = max(away.start, now)  # a period under way: only what is still to come is covered
    run = session.exec(
        select(CoverRequestRun).where(
            CoverRequestRun.away_id == away_id, CoverRequestRun.stage == stage
        )
    ).one()
    if not covered_shifts(spec, away.member, start, away.end):
        run.outcome = "nothing to cover"
        session.add(run)
        _audit_run(session, away, stage, None, now)
        return Asked(away_id, stage, None)
    reason = f"away #{away_id}" + (f": {away.reason}" if away.reason else "")
    opened = open_swap(
        session,
        team_id=team.id,
        spec=spec,
        requester=away.member,
        start=start,
        end=away.end,
        reason=reason,
        now=now,
        actor="system",
    )
    request_id = opened.request.id
    run.swap_request_id = request_id
    session.add(run)
    member = spec.member(away.member) if away.member in {m.id for m in spec.members} else None
    tz = member.tz if member else "UTC"
    window = f"{fmt_local(start, tz)} to {fmt_local(away.end, tz)}"
    text = (
        f":palm_tree: <@{away.member}> is away from {window}"
        + (f" ({shown_reason(away.reason)})" if away.reason else "")
        + f" and has {len(opened.shifts)} shift(s) then. Can someone take them?"
    )
    lines = [
        f"• *{s.rotation}*: {fmt_local(s.start, tz)} → {fmt_local(s.end, tz)}"
        for s in opened.shifts[:15]
    ]
    if team.channel:
        enqueue(
            session,
            topic=Topic.handoff,
            team_id=team.id,
            key=f"away:{away_id}:{stage}",
            kind=OnCallMessage.cover,
            recipient=team.channel,
            text=text,
            blocks=[
                section(text),
                section("\n".join(lines)),
                context("The first member who can take them without leaving a gap gets them."),
                actions(button("Take", TAKE_ACTION, str(request_id), style="primary")),
            ],
            at=now,
        )
    else:
        log.warning("team has no channel: cover request not posted", extra={"team_id": team.id})
    _audit_run(session, away, stage, request_id, now)
    return Asked(away_id, stage, request_id)


def _audit_run(
    session: Session, away: AwayPeriod, stage: str, request_id: int | None, now: datetime
) -> None:
    audit.record(
        session,
        at=now,
        actor="system",
        action="away.cover_request",
        subject=f"away:{away.id}",
        team_id=away.team_id,
        detail={"stage": stage, "member": away.member, "swap_request": request_id},
    )


def _run(
    away_id: int, stage: str, fire_at: datetime, now: datetime, outcome: str, worker: str
) -> dict[str, object]:
    return {
        "away_id": away_id,
        "stage": stage,
        "fire_at": fire_at,
        "ran_at": now,
        "outcome": outcome,
        "worker": worker,
    }
