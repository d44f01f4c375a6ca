"""What each handoff step sends: the reminder DM, the channel post, the escalation DMs.

Each queues its outbox rows and moves the handoff row in the caller's transaction, with its
audit event, so a step happens exactly once (docs/architecture.md, invariants 4 and 7).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from chatops import audit
from chatops.cases.queries import open_cases
from chatops.handoff import messages
from chatops.handoff.models import HandoffNote, MessageKind
from chatops.oncall.boundaries import next_boundary
from chatops.oncall.models import UNACCEPTED, Handoff, HandoffState
from chatops.outbox.models import OutboxMessage, OutboxState, Topic
from chatops.outbox.queue import enqueue
from chatops.team import managers, members_by_slack_id
from rota.models import Member, Team
from rota.resolve import CompiledRota

log = logging.getLogger(__name__)


#: A post this long after its boundary says it is late.
LATE_AFTER = timedelta(minutes=2)
#: Longest note accepted (Slack sections hold 3,000 characters; a handoff carries several).
NOTE_MAX = 1500


def _person(members: dict[str, Member], slack_id: str) -> messages.Person:
    m = members.get(slack_id)
    return messages.Person(slack_id, m.tz if m else "UTC")


def audit_handoff(
    session: Session, h: Handoff, *, at: datetime, actor: str, action: str, detail: dict[str, Any]
) -> None:
    """The handoff's audit event, in the same transaction as its state change."""
    audit.record(
        session,
        at=at,
        actor=actor,
        action=action,
        subject=f"handoff:{h.id}",
        team_id=h.team_id,
        detail=detail,
    )


def remind(session: Session, h: Handoff, rota: CompiledRota, now: datetime) -> None:
    assert h.id is not None
    members = members_by_slack_id(session, h.team_id)
    text, blocks = messages.reminder_dm(
        handoff_id=h.id,
        rotation=h.rotation,
        at=h.at,
        incoming=_person(members, h.incoming),
        outgoing=[_person(members, m) for m, _, _ in h.outgoing_members()],
        open_cases=len(open_cases(session, team_id=h.team_id)),
    )
    enqueue(
        session,
        topic=Topic.handoff,
        team_id=h.team_id,
        handoff_id=h.id,
        key=f"handoff:{h.id}:reminder:{h.incoming}",
        kind=MessageKind.reminder,
        recipient=h.incoming,
        text=text,
        blocks=blocks,
        at=now,
    )
    h.reminded_at = now
    audit_handoff(
        session,
        h,
        at=now,
        actor="system",
        action="handoff.reminded",
        detail={"rotation": h.rotation, "incoming": h.incoming},
    )


def post(
    session: Session, *, handoff: Handoff, team: Team, rota: CompiledRota, now: datetime, actor: str
) -> None:
    """Queue the handoff message, attach the pending notes, and start the acceptance clock."""
    h = handoff
    assert h.id is not None and team.id is not None
    members = members_by_slack_id(session, h.team_id)
    notes = list(
        session.exec(
            select(HandoffNote)
            .where(
                HandoffNote.team_id == h.team_id,
                col(HandoffNote.handoff_id).is_(None),
                col(HandoffNote.created_at) <= now,
                # a note is this handoff's when pinned to it, or to an earlier boundary of the
                # same rotation that never posted (moved by an edit); unpinned rows predate pins
                (
                    (col(HandoffNote.rotation) == h.rotation)
                    & (
                        col(HandoffNote.handoff_at).is_(None)
                        | (col(HandoffNote.handoff_at) <= h.at)
                    )
                )
                | col(HandoffNote.rotation).is_(None),
            )
            .order_by(col(HandoffNote.created_at), col(HandoffNote.id))
        )
    )
    for note in notes:
        note.handoff_id = h.id
        session.add(note)
    nxt = next_boundary(rota, h.at, layer=h.layer)
    accepted = h.accepted_at is not None
    text, blocks = messages.handoff_post(
        handoff_id=h.id,
        rotation=h.rotation,
        at=h.at,
        incoming=_person(members, h.incoming),
        outgoing=[(_person(members, m), off) for m, _, off in h.outgoing_members()],
        cases=open_cases(session, team_id=h.team_id),
        notes=[(n.author, n.text) for n in notes],
        next_handoff=(nxt.rotation, nxt.at) if nxt else None,
        accepted=accepted,
        late=now - h.at > LATE_AFTER,
    )
    if team.channel:
        enqueue(
            session,
            topic=Topic.handoff,
            team_id=h.team_id,
            handoff_id=h.id,
            key=f"handoff:{h.id}:post",
            kind=MessageKind.post,
            recipient=team.channel,
            text=text,
            blocks=blocks,
            at=now,
        )
    else:
        log.warning("team has no channel: handoff not posted", extra={"team_id": team.id})
    # Older handoffs of this rotation are over: unaccepted ones lapse (their outgoing is no
    # longer held on call), unposted ones are superseded.
    session.execute(
        update(Handoff)
        .where(
            col(Handoff.team_id) == h.team_id,
            col(Handoff.rotation) == h.rotation,
            col(Handoff.at) < h.at,
            col(Handoff.state).in_([s.value for s in UNACCEPTED]),
        )
        .values(state=HandoffState.lapsed.value, due_at=None)
    )
    h.posted_at, h.posted_by = now, actor
    h.accept_by = max(h.at, now) + timedelta(seconds=h.accept_within_s)
    if not accepted:
        h.state, h.due_at = HandoffState.awaiting.value, h.accept_by
    else:
        h.due_at = None
    session.add(h)
    audit_handoff(
        session,
        h,
        at=now,
        actor=actor,
        action="handoff.posted",
        detail={
            "rotation": h.rotation,
            "at": h.at,
            "incoming": h.incoming,
            "outgoing": [m for m, _, _ in h.outgoing_members()],
            "notes": len(notes),
            "late": now - h.at > LATE_AFTER,
        },
    )


def escalate_unaccepted(session: Session, h: Handoff, now: datetime) -> None:
    assert h.id is not None
    members = members_by_slack_id(session, h.team_id)
    outgoing = [m for m, _, _ in h.outgoing_members()]
    minutes = h.accept_within_s // 60
    recipients = [(m, True) for m in outgoing]
    recipients += [(m, False) for m in managers(members) if m not in outgoing and m != h.incoming]
    for person, as_outgoing in recipients:
        text, blocks = messages.escalation_dm(
            rotation=h.rotation,
            at=h.at,
            incoming=_person(members, h.incoming),
            reader=_person(members, person),
            outgoing=[_person(members, m) for m in outgoing],
            as_outgoing=as_outgoing,
            minutes=minutes,
        )
        enqueue(
            session,
            topic=Topic.handoff,
            team_id=h.team_id,
            handoff_id=h.id,
            key=f"handoff:{h.id}:escalation:{person}",
            kind=MessageKind.escalation,
            recipient=person,
            text=text,
            blocks=blocks,
            at=now,
        )
    h.state, h.escalated_at, h.due_at = HandoffState.escalated.value, now, None
    session.add(h)
    audit_handoff(
        session,
        h,
        at=now,
        actor="system",
        action="handoff.escalated",
        detail={"rotation": h.rotation, "paged": [p for p, _ in recipients]},
    )


def posted_ts(session: Session, *, handoff_id: int) -> str | None:
    """Slack's ts of a handoff's channel post once it was sent (to thread or update it)."""
    ts: str | None = session.exec(
        select(OutboxMessage.message_ts).where(
            OutboxMessage.handoff_id == handoff_id,
            OutboxMessage.kind == MessageKind.post.value,
            OutboxMessage.state == OutboxState.sent.value,
        )
    ).first()
    return ts
