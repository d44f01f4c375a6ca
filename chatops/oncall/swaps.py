"""Shift swaps from chat: a member asks for cover, the first eligible member to take it gets it.

A request is a row with a status. Taking it is a conditional `UPDATE … WHERE status = 'open'`
in the same transaction that saves the new rota and writes the audit event, so however many
people press Take at once, exactly one wins and the others are told who did (on PostgreSQL the
losers' UPDATE waits on the winner's row lock and then matches nothing; SQLite serialises
writers with `BEGIN IMMEDIATE`). A take that would open a coverage gap is refused with the exact
gap and rolls back, leaving the request open for someone else. No manager role is needed to
take, but the permissions are checked here, not only in the command layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import update
from sqlmodel import Field, Session, SQLModel, col, select

from chatops import audit
from chatops.blockkit import user_text
from chatops.errors import Refused
from chatops.oncall.edits import Plan
from chatops.team import Actor
from rota import edits
from rota.cover import cover, covered_shifts
from rota.edits import EditError
from rota.models import utc_column
from rota.resolve import Shift
from rota.spec import RotaSpec
from rota.store import UnknownTeam, save_rota, team_rota

#: How far ahead a swap request may reach: cover is asked for the coming weeks, and a window to
#: the year 2400 would list every shift of four centuries in one channel post.
MAX_SWAP_AHEAD = timedelta(days=90)


class SwapStatus(StrEnum):
    open = "open"
    taken = "taken"
    cancelled = "cancelled"


class SwapRequest(SQLModel, table=True):
    """A request for cover over [start, end); `taker` is set once, when it is taken."""

    __tablename__ = "swap_request"

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    requester: str  # Slack user id
    start: datetime = utc_column(nullable=False)
    end: datetime = utc_column(nullable=False)
    reason: str = ""
    status: str = SwapStatus.open.value
    taker: str | None = None  # Slack user id
    created_at: datetime = utc_column(nullable=False)
    taken_at: datetime | None = utc_column(nullable=True)


@dataclass(frozen=True)
class OpenedSwap:
    request: SwapRequest
    shifts: list[Shift]  # the requester's shifts that the taker will cover


@dataclass(frozen=True)
class TakenSwap:
    request: SwapRequest
    plan: Plan


def _team_rota(session: Session, team_id: int, *, lock: bool = False) -> RotaSpec:
    # Locked for a take, so a concurrent rota save (another take) waits instead of being lost.
    try:
        return team_rota(session, team_id, lock=lock)[1]
    except UnknownTeam:
        raise Refused("this team is no longer in the database") from None


def _require_member(spec: RotaSpec, actor: Actor | None) -> Actor:
    if actor is None or actor.slack_id not in {m.id for m in spec.members}:
        raise Refused(f"only members of the {user_text(spec.team.name)} team can do that")
    return actor


#: How far back a typed start still means "now" (it was typed a moment ago).
NOW_GRACE = timedelta(minutes=5)


def asked_from_now(request: SwapRequest) -> bool:
    """A request whose window had begun when it was asked: someone needs cover right away."""
    return request.created_at >= request.start


def expired(request: SwapRequest, now: datetime) -> bool:
    """A request expires when its window begins, so that nobody takes shifts already worked;
    one asked from now stays open until its window ends, and a take covers from the take on."""
    return now >= (request.end if asked_from_now(request) else request.start)


#: The action id of a swap request's Take button (the `/ts swap` verb registers its handler).
TAKE_ACTION = "swap_take"


def request_swap(
    session: Session,
    *,
    team_id: int,
    actor: Actor | None,
    start: datetime,
    end: datetime,
    reason: str,
    now: datetime,
) -> OpenedSwap:
    """Open a request for cover of the actor's own shifts in [start, end), audited."""
    if end <= start:
        raise Refused("the window must end after it starts")
    if end <= now:
        raise Refused("that window is already over")
    if now - NOW_GRACE <= start <= now:
        start = now  # asked "from now": open until taken or over (`expired`)
    elif start < now:
        raise Refused(
            "that window has already begun; ask from now (`/ts swap request now 8h …`) or "
            "from a time still to come"
        )
    if end > now + MAX_SWAP_AHEAD or end - start > MAX_SWAP_AHEAD:
        days = MAX_SWAP_AHEAD.days
        raise Refused(
            f"a swap request may cover at most the next {days} days; ask for the rest later"
        )
    spec = _team_rota(session, team_id)
    requester = _require_member(spec, actor)
    for other in session.exec(
        select(SwapRequest).where(
            SwapRequest.team_id == team_id,
            SwapRequest.requester == requester.slack_id,
            SwapRequest.status == SwapStatus.open.value,
            col(SwapRequest.start) < end,
            col(SwapRequest.end) > start,
        )
    ):
        if not expired(other, now):
            raise Refused(
                f"you already asked for cover of that time (swap request {other.id}); "
                f"withdraw it first with `/ts swap cancel {other.id}`"
            )
    return open_swap(
        session,
        team_id=team_id,
        spec=spec,
        requester=requester.slack_id,
        start=start,
        end=end,
        reason=reason,
        now=now,
        actor=requester.slack_id,
    )


def open_swap(
    session: Session,
    *,
    team_id: int,
    spec: RotaSpec,
    requester: str,
    start: datetime,
    end: datetime,
    reason: str,
    now: datetime,
    actor: str,
) -> OpenedSwap:
    """The request row and its audit event in the caller's transaction (`actor` asks for
    `requester`: themselves, or "system" when the worker asks for someone who is away)."""
    shifts = covered_shifts(spec, requester, start, end)
    if not shifts:
        raise Refused(
            "you have no rotation shift in that window, so there is nothing to swap; "
            "see yours with `/ts shifts`"
        )
    request = SwapRequest(
        team_id=team_id,
        requester=requester,
        start=start,
        end=end,
        reason=reason,
        created_at=now,
    )
    session.add(request)
    session.flush()
    detail: dict[str, object] = {"start": start, "end": end, "shifts": len(shifts)}
    if actor != requester:
        detail["for"] = requester
    audit.record(
        session,
        at=now,
        actor=actor,
        action="swap.request",
        subject=f"swap:{request.id}",
        team_id=team_id,
        detail=detail,
    )
    return OpenedSwap(request, shifts)


def _refuse_closed(request: SwapRequest | None, actor: Actor) -> None:
    if request is None:
        raise Refused("this swap request no longer exists")
    if request.status == SwapStatus.taken.value:
        who = "you" if request.taker == actor.slack_id else f"<@{request.taker}>"
        raise Refused(f"thanks, but this swap was already taken by {who}")
    if request.status == SwapStatus.cancelled.value:
        raise Refused("this swap request was cancelled by the person who asked")
    if request.status != SwapStatus.open.value:
        raise Refused("this swap request is closed")


def take_swap(
    session: Session,
    *,
    team_id: int,
    request_id: int,
    actor: Actor | None,
    now: datetime,
    horizon_days: int,
) -> TakenSwap:
    """Give the request to `actor` if it is still open and coverage stays complete.

    Coverage is checked from now to the end of the horizon or of the window, whichever is later,
    so a window beyond the horizon is still proved.
    """
    found = session.get(SwapRequest, request_id)
    request = found if found is not None and found.team_id == team_id else None
    if actor is None:
        raise Refused("only members of the team can take a swap")
    _refuse_closed(request, actor)
    assert request is not None
    if request.requester == actor.slack_id:
        raise Refused("that is your own request; wait for someone to take it")
    if expired(request, now):
        raise Refused(
            "this swap request has expired: its window has begun, so the shifts stay with "
            f"<@{request.requester}>; ask a manager for a rota override instead"
        )
    claimed = session.connection().execute(
        update(SwapRequest)
        .where(
            col(SwapRequest.id) == request_id,
            col(SwapRequest.status) == SwapStatus.open.value,
        )
        .values(status=SwapStatus.taken.value, taker=actor.slack_id, taken_at=now)
    )
    if claimed.rowcount != 1:
        session.expire(request)
        _refuse_closed(session.get(SwapRequest, request_id), actor)
        raise Refused("this swap request is closed")
    spec = _team_rota(session, team_id, lock=True)
    _require_member(spec, actor)
    try:
        new = cover(
            spec,
            requester=request.requester,
            taker=actor.slack_id,
            start=max(request.start, now),  # a request asked from now: what is still to come
            end=request.end,
            reason=request.reason or f"swap request {request_id}",
            author=actor.slack_id,
        )
    except EditError as error:
        raise Refused(str(error)) from None
    check_end = max(now + timedelta(days=horizon_days), request.end)
    params = {
        "request": request_id,
        "requester": request.requester,
        "taker": actor.slack_id,
        "start": request.start.isoformat(),
        "end": request.end.isoformat(),
    }
    plan = Plan(
        spec,
        new,
        edits.impact(spec, new, now, check_end),
        now,
        check_end,
        "cover",
    )
    if plan.impact.new_gaps:
        count = len(plan.impact.new_gaps)
        raise Refused(
            f"refused: if you take this swap, {count} interval(s) would be left uncovered "
            f"in the next {(check_end - now).days} days:\n{plan.gap_report}"
        )
    save_rota(session, new)
    audit.record(
        session,
        at=now,
        actor=actor.slack_id,
        action="swap.take",
        subject=f"swap:{request_id}",
        team_id=team_id,
        detail={
            **params,
            "shifts_removed": len(plan.impact.removed),
            "shifts_added": len(plan.impact.added),
        },
    )
    session.refresh(request)
    return TakenSwap(request, plan)


def cancel_swap(
    session: Session, *, team_id: int, request_id: int, actor: Actor | None, now: datetime
) -> SwapRequest:
    """Withdraw an open request: only its requester may, and only while nobody has taken it.

    The same conditional UPDATE as a take, so a cancel and a take racing end with one winner.
    """
    found = session.get(SwapRequest, request_id)
    request = found if found is not None and found.team_id == team_id else None
    if actor is None:
        raise Refused("only members of the team can cancel a swap request")
    if request is None:
        raise Refused(f"there is no swap request {request_id}")
    if request.requester != actor.slack_id:
        raise Refused(f"only <@{request.requester}>, who asked, can cancel this swap request")
    _refuse_closed(request, actor)
    if expired(request, now):
        raise Refused(
            f"swap request {request_id} expired when its window began; nobody took it, so "
            "there is nothing to cancel"
        )
    claimed = session.connection().execute(
        update(SwapRequest)
        .where(
            col(SwapRequest.id) == request_id,
            col(SwapRequest.status) == SwapStatus.open.value,
        )
        .values(status=SwapStatus.cancelled.value)
    )
    if claimed.rowcount != 1:
        session.expire_all()
        _refuse_closed(session.get(SwapRequest, request_id), actor)
        raise Refused("this swap request is closed")
    audit.record(
        session,
        at=now,
        actor=actor.slack_id,
        action="swap.cancel",
        subject=f"swap:{request_id}",
        team_id=team_id,
        detail={"expired": request is not None and request.start <= now},
    )
    session.refresh(request)
    assert request is not None
    return request
