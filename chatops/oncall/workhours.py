"""A member sets their own working hours from chat (`/ts hours`).

Working hours only decide when a routine (`hours: working`) page reaches its recipient
(chatops/escalation/hours.py); they never change who is on call, so no coverage check is
needed and anyone may set their own. The change and its audit event share the caller's
transaction (docs/architecture.md, invariant 7); the team's rota version is bumped so that
every cached copy of the rota, and any rota preview taken before, sees the new setting.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from chatops import audit
from chatops.errors import Refused
from chatops.team import Actor
from rota.models import Member, Team
from rota.spec import DEFAULT_WORKING_HOURS, WorkingHours
from rota.store import working_hours_of


def _member(session: Session, team_id: int, actor: Actor | None, *, lock: bool) -> Member:
    query = select(Member).where(
        Member.team_id == team_id, Member.slack_id == (actor.slack_id if actor else "")
    )
    found = session.exec(query.with_for_update() if lock else query).first()
    if actor is None or found is None:
        raise Refused("only members of the team have working hours here")
    return found


def working_hours(session: Session, *, team_id: int, actor: Actor | None) -> WorkingHours:
    """The asker's working hours (the default when they never set any)."""
    return working_hours_of(_member(session, team_id, actor, lock=False))


def set_working_hours(
    session: Session,
    *,
    team_id: int,
    actor: Actor | None,
    hours: WorkingHours,
    now: datetime,
) -> WorkingHours:
    """Set the asker's own working hours; returns the ones they replace."""
    member = _member(session, team_id, actor, lock=True)
    assert actor is not None
    before = working_hours_of(member)
    member.working_hours = (
        "" if hours == DEFAULT_WORKING_HOURS else hours.model_dump_json(by_alias=True)
    )
    session.add(member)
    team = session.get(Team, team_id, with_for_update=True)
    assert team is not None
    team.rota_version = (team.rota_version or 0) + 1
    session.add(team)
    audit.record(
        session,
        at=now,
        actor=actor.slack_id,
        action="member.working_hours",
        subject=f"member:{actor.slack_id}",
        team_id=team_id,
        detail={"before": before.describe(), "after": hours.describe()},
    )
    return before
