"""The team as the services see it: who is acting, its members and roles, and the rules on them.

Every service asks here "which team", "is this a member", "who are the managers", so those rules
exist once (docs/architecture.md, "Team and roles").
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from chatops.blockkit import user_text
from chatops.errors import Refused
from rota.models import Member, Team
from rota.spec import Role


@dataclass(frozen=True)
class Actor:
    """A member of the team, with the role that decides what they may do."""

    member_id: int
    slack_id: str
    name: str
    tz: str
    role: Role

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @property
    def is_manager(self) -> bool:
        return self.role in {Role.manager, Role.admin}

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin


def actor_from_member(member: Member) -> Actor:
    assert member.id is not None
    return Actor(
        member_id=member.id,
        slack_id=member.slack_id,
        name=member.name,
        tz=member.tz,
        role=Role(member.role),
    )


def actor_for_slack_id(session: Session, team: Team, slack_id: str) -> Actor | None:
    member = member_of(session, team, slack_id)
    return actor_from_member(member) if member else None


def team_members(session: Session, team: Team) -> list[Member]:
    return list(
        session.exec(select(Member).where(Member.team_id == team.id).order_by(col(Member.position)))
    )


def default_console_member(session: Session, team: Team) -> Member | None:
    """The console acts as the first manager (then admin, then anyone) unless told otherwise."""
    members = team_members(session, team)
    for role in (Role.manager, Role.admin, Role.responder):
        for m in members:
            if m.role == role:
                return m
    return None


def members_by_slack_id(session: Session, team_id: int) -> dict[str, Member]:
    rows = session.exec(
        select(Member).where(Member.team_id == team_id).order_by(col(Member.position))
    )
    return {m.slack_id: m for m in rows}


def managers(members: dict[str, Member]) -> list[str]:
    """Managers; a team with none falls back to its admins (as escalation does)."""
    found = [s for s, m in members.items() if m.role == Role.manager]
    return found or [s for s, m in members.items() if m.role == Role.admin]


def get_team(session: Session, team_id: int) -> Team:
    """The team by id; a team deleted under a request is a refusal, not an internal error."""
    team = session.get(Team, team_id)
    if team is None:
        raise Refused(f"no team with id {team_id}")
    return team


def member_of(session: Session, team: Team, slack_id: str) -> Member | None:
    """The team's member with this Slack id, or None."""
    return session.exec(
        select(Member).where(Member.team_id == team.id, Member.slack_id == slack_id)
    ).first()


def require_member(session: Session, team: Team, actor: Actor | None) -> Actor:
    """The actor, when they are a member of `team`; otherwise the one-line refusal."""
    if actor is None or member_of(session, team, actor.slack_id) is None:
        raise Refused(f"only members of the {user_text(team.name)} team can do that")
    return actor
