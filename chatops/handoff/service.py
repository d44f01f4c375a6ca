"""Handoffs as database state: planned from the rota, fired by the worker, accepted by people.

Life of a boundary (one `Handoff` row, unique per team, rotation and instant):

1. `plan` materialises the boundaries near `now` (from `catch_up` ago to the reminder lead
   ahead) with INSERT … ON CONFLICT DO NOTHING, so replicas and restarts add each one once.
2. The worker fires a row when its `due_at` passes, each in its own transaction holding the row
   (`FOR UPDATE SKIP LOCKED` on PostgreSQL; BEGIN IMMEDIATE on SQLite). Firing re-checks the
   boundary against the current rota first: an edit that removed it marks it `moved`; one that
   changed the incoming updates it; a boundary missed so long that the rotation's next one has
   passed is `superseded`. Otherwise it queues the reminder DM (before the boundary), then the
   channel post (at it), then, if still unaccepted at `accept_by`, the escalation DMs to the
   outgoing responders and the managers. Each step queues its outbox messages and moves the
   row's state in the same transaction, so a step happens exactly once; the outbox then
   delivers them (see `chatops.outbox.delivery`).
3. The incoming accepts (button or `/ts handoff accept`, in `chatops.handoff.verbs`), before or
   after the deadline; until then the outgoing responders are `holdovers`: still on call for new
   cases (`chatops.oncall.now`).

Every change writes its audit event in its transaction. Note texts never reach audit or logs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from chatops import metrics
from chatops.db import Database, as_utc
from chatops.handoff.posts import audit_handoff, escalate_unaccepted, post, remind
from chatops.logs import correlated
from chatops.oncall.boundaries import Boundary, Outgoing, boundaries, boundary_at, next_boundary
from chatops.oncall.cache import Rotas, team_rota
from chatops.oncall.models import FINAL, Handoff, HandoffState
from chatops.outbox.models import OutboxMessage
from chatops.outbox.queue import cancel_pending, insert_ignore
from rota.models import Team
from rota.resolve import CompiledRota

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HandoffSettings:
    """Timing of handoffs; the defaults are the issue's. A zero `reminder` sends none."""

    reminder: timedelta = timedelta(minutes=15)
    accept_within: timedelta = timedelta(minutes=10)
    #: A boundary missed while no worker ran is still posted this long after it.
    catch_up: timedelta = timedelta(hours=2)


DEFAULT = HandoffSettings()


def _outgoing_json(outgoing: Sequence[Outgoing]) -> str:
    return json.dumps([[o.member, o.rotation, o.off_at.isoformat()] for o in outgoing])


def _first_due(b_at: datetime, settings: HandoffSettings) -> datetime:
    return b_at - settings.reminder if settings.reminder > timedelta(0) else b_at


def materialise(
    session: Session, *, team_id: int, boundary: Boundary, now: datetime, settings: HandoffSettings
) -> Handoff:
    """The row of `boundary`, inserted unless it exists (several replicas: one insert wins)."""
    insert_ignore(
        session,
        Handoff,
        {
            "team_id": team_id,
            "rotation": boundary.rotation,
            "layer": boundary.layer,
            "at": boundary.at,
            "incoming": boundary.incoming,
            "outgoing": _outgoing_json(boundary.outgoing),
            "until": boundary.until,
            "state": HandoffState.scheduled.value,
            "due_at": _first_due(boundary.at, settings),
            "remind_at": boundary.at - settings.reminder if settings.reminder else None,
            "accept_within_s": int(settings.accept_within.total_seconds()),
            "created_at": now,
        },
    )
    row = session.exec(
        select(Handoff).where(
            Handoff.team_id == team_id,
            Handoff.rotation == boundary.rotation,
            Handoff.at == boundary.at,
        )
    ).one()
    return row


def plan(
    session: Session, *, team: Team, rota: CompiledRota, now: datetime, settings: HandoffSettings
) -> int:
    """Materialise the team's boundaries from `catch_up` ago to just past the reminder lead.

    A row marked `moved` whose boundary came back (the edit was undone) is scheduled again.
    Returns how many rows were added or revived.
    """
    assert team.id is not None
    start = now - settings.catch_up
    end = now + settings.reminder + timedelta(minutes=1)
    found = boundaries(rota, start, end)
    if not found:
        return 0
    existing = {
        (h.rotation, h.at): h
        for h in session.exec(
            select(Handoff).where(
                Handoff.team_id == team.id, col(Handoff.at) >= start, col(Handoff.at) < end
            )
        )
    }
    changed = 0
    for b in found:
        row = existing.get((b.rotation, b.at))
        if row is None:
            materialise(session, team_id=team.id, boundary=b, now=now, settings=settings)
            changed += 1
        elif row.state == HandoffState.moved.value and row.posted_at is None:
            row.state = HandoffState.scheduled.value
            row.incoming, row.outgoing = b.incoming, _outgoing_json(b.outgoing)
            row.reminded_at = None
            row.due_at = _first_due(b.at, settings)
            session.add(row)
            changed += 1
    return changed


def plan_all(
    db: Database, *, now: datetime, settings: HandoffSettings, rotas: Rotas | None = None
) -> int:
    """`plan` for every team, one transaction each (a broken team does not stop the others).

    The rotas read are left in `rotas` for the rest of the pass: firing a moment later re-checks
    against the same reading, which is as if an edit landing in between landed just after.
    """
    with db.transaction() as session:
        team_ids = [t for t in session.exec(select(Team.id)) if t is not None]
    added = 0
    for team_id in team_ids:
        try:
            with db.transaction() as session:
                team = session.get(Team, team_id)
                if team is not None:
                    added += plan(
                        session,
                        team=team,
                        rota=team_rota(session, team, rotas),
                        now=now,
                        settings=settings,
                    )
        except Exception:
            log.exception("handoff planning failed", extra={"team_id": team_id})
    return added


# -- firing ------------------------------------------------------------------------------------


def fire_due(
    db: Database, *, now: datetime, worker_id: str, limit: int, rotas: Rotas | None = None
) -> int:
    """Fire up to `limit` due handoffs, each in its own transaction; returns how many."""
    with db.transaction() as session:
        ids = [
            i
            for i in session.exec(
                select(Handoff.id)
                .where(col(Handoff.due_at) <= now)
                .order_by(col(Handoff.due_at), col(Handoff.id))
                .limit(limit)
            )
            if i is not None
        ]
    fired = 0
    for handoff_id in ids:
        with correlated():
            try:
                fired += _fire(db, handoff_id=handoff_id, now=now, worker_id=worker_id, rotas=rotas)
            except Exception:
                log.exception("handoff timer failed", extra={"handoff": handoff_id})
    return fired


def _fire(
    db: Database, *, handoff_id: int, now: datetime, worker_id: str, rotas: Rotas | None
) -> int:
    with db.transaction() as session:
        h = session.exec(
            select(Handoff)
            .where(Handoff.id == handoff_id, col(Handoff.due_at) <= now)
            .with_for_update(skip_locked=True)
        ).first()
        if h is None:
            return 0  # fired by another worker meanwhile, or busy there
        team = session.get(Team, h.team_id)
        assert team is not None
        metrics.timer_lag("handoff", (now - h.due_at).total_seconds() if h.due_at else 0.0)
        step(session, handoff=h, team=team, now=now, actor="system", rotas=rotas)
        log.info(
            "handoff step",
            extra={"handoff": h.id, "rotation": h.rotation, "state": h.state, "worker": worker_id},
        )
    return 1


def step(
    session: Session,
    *,
    handoff: Handoff,
    team: Team,
    now: datetime,
    actor: str,
    rotas: Rotas | None = None,
) -> None:
    """Do whatever is due for a locked handoff row, and set its next `due_at`."""
    h = handoff
    if h.state in FINAL:
        h.due_at = None
        return
    if h.posted_at is None:
        rota = team_rota(session, team, rotas)
        if not _recheck(session, h, rota, now):
            return
        if now < h.at:
            if h.remind_at is not None and h.reminded_at is None and h.accepted_at is None:
                remind(session, h, rota, now)
            h.due_at = h.at
            session.add(h)
            return
        post(session, handoff=h, team=team, rota=rota, now=now, actor=actor)
        return
    if (
        h.accepted_at is None
        and h.escalated_at is None
        and h.accept_by is not None
        and now >= h.accept_by
    ):
        escalate_unaccepted(session, h, now)
        return
    h.due_at = h.accept_by if h.state == HandoffState.awaiting.value else None
    session.add(h)


def _recheck(session: Session, h: Handoff, rota: CompiledRota, now: datetime) -> bool:
    """Bring an unposted handoff in line with the current rota; False when it is finished."""
    current = boundary_at(rota, h.rotation, h.at)
    if current is None:
        _close(session, h, HandoffState.moved, now)
        return False
    if current.incoming != h.incoming:
        h.incoming, h.reminded_at = current.incoming, None
        if h.accepted_at is not None:
            h.accepted_at = h.accepted_by = None
            h.state = HandoffState.scheduled.value
    h.outgoing, h.until = _outgoing_json(current.outgoing), current.until
    later = next_boundary(rota, h.at, rotation=h.rotation, ahead=now - h.at + timedelta(seconds=1))
    if later is not None and later.at <= now:
        _close(session, h, HandoffState.superseded, now)
        return False
    return True


def _close(session: Session, h: Handoff, state: HandoffState, now: datetime) -> None:
    assert h.id is not None
    h.state, h.due_at = state.value, None
    session.add(h)
    cancelled = cancel_pending(session, col(OutboxMessage.handoff_id) == h.id)
    audit_handoff(
        session,
        h,
        at=now,
        actor="system",
        action=f"handoff.{state.value}",
        detail={"rotation": h.rotation, "at": h.at, "cancelled_messages": cancelled},
    )


def next_due(db: Database) -> datetime | None:
    """The nearest instant a handoff row needs the worker (its messages are the outbox's)."""
    with db.transaction() as session:
        found = [session.exec(select(func.min(col(Handoff.due_at)))).one()]
    # Aggregates bypass the column type, so SQLite hands back naive UTC (or text).
    aware = [as_utc(d) for d in found if d is not None]
    return min(aware) if aware else None
