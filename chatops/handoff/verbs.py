"""What people do with handoffs: accept one, leave a note for the next, post one early.

The worker's side of a handoff's life (plan, remind, post, escalate) is in
`chatops.handoff.service`; these verbs change the same rows, each in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from chatops import audit
from chatops.cases import exposure
from chatops.errors import Refused
from chatops.handoff.models import HandoffNote
from chatops.handoff.posts import NOTE_MAX, audit_handoff, post
from chatops.handoff.service import DEFAULT, HandoffSettings, materialise
from chatops.oncall.boundaries import Boundary, next_boundary
from chatops.oncall.cache import team_rota
from chatops.oncall.models import FINAL, UNACCEPTED, Handoff, HandoffState
from chatops.team import Actor, get_team, require_member


def acceptable(session: Session, *, team_id: int, slack_id: str, at: datetime) -> list[Handoff]:
    """Handoffs `slack_id` may accept now: theirs, not accepted, posted or already reminded."""
    rows = session.exec(
        select(Handoff)
        .where(
            Handoff.team_id == team_id,
            Handoff.incoming == slack_id,
            col(Handoff.accepted_at).is_(None),
            col(Handoff.state).in_([HandoffState.scheduled.value, *(s.value for s in UNACCEPTED)]),
        )
        .order_by(col(Handoff.at))
    )
    return [h for h in rows if h.posted_at is not None or h.reminded_at is not None]


def accept(
    session: Session,
    *,
    team_id: int,
    actor: Actor | None,
    at: datetime,
    handoff_id: int | None = None,
) -> Handoff:
    """The incoming takes over (before the boundary, or after the deadline: late)."""
    team = get_team(session, team_id)
    who = require_member(session, team, actor)
    if handoff_id is None:
        mine = acceptable(session, team_id=team_id, slack_id=who.slack_id, at=at)
        if not mine:
            raise Refused("you have no handoff waiting for you to accept")
        handoff_id = mine[0].id
    h = session.exec(
        select(Handoff)
        .where(Handoff.id == handoff_id, Handoff.team_id == team_id)
        .with_for_update()
    ).first()
    if h is None:
        raise Refused("that handoff no longer exists")
    if h.incoming != who.slack_id:
        raise Refused(f"this handoff is <@{h.incoming}>'s to accept, not yours")
    if h.accepted_at is not None:
        raise Refused("you have already accepted this handoff")
    if h.state in {s.value for s in FINAL}:
        raise Refused(f"this handoff is over ({h.state}); nothing to accept")
    if h.posted_at is None and h.reminded_at is None:
        raise Refused("this handoff has not started yet; accept it when you are reminded")
    late = h.escalated_at is not None
    h.accepted_at, h.accepted_by = at, who.slack_id
    h.state = HandoffState.accepted.value
    h.due_at = h.at if h.posted_at is None else None
    session.add(h)
    # The outgoing hands over: the graphic cases they hold stop counting against them now.
    for outgoing, _, _ in h.outgoing_members():
        if outgoing != who.slack_id:
            exposure.end_member(session, team_id=team_id, member=outgoing, at=at)
    audit_handoff(
        session,
        h,
        at=at,
        actor=who.slack_id,
        action="handoff.accepted",
        detail={"rotation": h.rotation, "at": h.at, "late": late, "early": at < h.at},
    )
    return h


def add_note(
    session: Session,
    *,
    team_id: int,
    actor: Actor | None,
    at: datetime,
    text: str,
    rotation: str | None = None,
) -> tuple[HandoffNote, Boundary]:
    """Keep a note for one handoff: the next of `rotation` when named, else the asker's own next
    (where they go off if on call, else where they come on or go off), else the team's next.

    The note is pinned to that boundary, so no other handoff's post can show it.
    """
    team = get_team(session, team_id)
    who = require_member(session, team, actor)
    body = text.strip()
    if not body:
        raise Refused("a note needs some text")
    if len(body) > NOTE_MAX:
        raise Refused(f"a note holds at most {NOTE_MAX} characters (this one has {len(body)})")
    rota = team_rota(session, team)
    target: Boundary | None
    if rotation is not None:
        names = [r.name for r in rota.spec.rotations]
        if rotation not in names:
            raise Refused(f"there is no rotation '{rotation}'; rotations: {', '.join(names)}")
        target = next_boundary(rota, at, rotation=rotation)
    elif any(s.member == who.slack_id for s in rota.on_call(at)):
        target = next_boundary(rota, at, outgoing=who.slack_id)
    else:
        target = next_boundary(rota, at, involving=who.slack_id)
    if target is None and rotation is None:
        target = next_boundary(rota, at)
    if target is None:
        raise Refused("there is no handoff in the next weeks to keep the note for")
    note = HandoffNote(
        team_id=team_id,
        author=who.slack_id,
        rotation=target.rotation,
        handoff_at=target.at,
        text=body,
        created_at=at,
    )
    session.add(note)
    session.flush()
    audit.record(
        session,
        at=at,
        actor=who.slack_id,
        action="handoff.note",
        subject=f"handoff_note:{note.id}",
        team_id=team_id,
        detail={"rotation": target.rotation, "handoff_at": target.at, "length": len(body)},
    )
    return note, target


def post_now(
    session: Session,
    *,
    team_id: int,
    actor: Actor | None,
    at: datetime,
    settings: HandoffSettings = DEFAULT,
) -> Handoff:
    """The outgoing posts their next handoff message early (the boundary itself is unchanged)."""
    team = get_team(session, team_id)
    who = require_member(session, team, actor)
    rota = team_rota(session, team)
    mine = {s.rotation for s in rota.on_call(at) if s.member == who.slack_id and s.rotation}
    if not mine:
        raise Refused("you are not on call, so you have no handoff to post")
    target = next_boundary(rota, at, outgoing=who.slack_id)
    if target is None:
        raise Refused("you have no handoff coming in the next weeks")
    h = materialise(session, team_id=team_id, boundary=target, now=at, settings=settings)
    h = session.exec(select(Handoff).where(Handoff.id == h.id).with_for_update()).one()
    if h.posted_at is not None:
        raise Refused(f"the {h.rotation} handoff was already posted")
    if h.state in {s.value for s in FINAL}:
        raise Refused(f"that handoff is over ({h.state})")
    post(session, handoff=h, team=team, rota=rota, now=at, actor=who.slack_id)
    return h
