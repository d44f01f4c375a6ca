"""Who is asking: Slack user ids and console names mapped to team members."""

from __future__ import annotations

from sqlmodel import Session, col, select

from chatops.actors import Actor
from commands.names import match
from rota.models import Member, Team


def actor_from_member(member: Member) -> Actor:
    assert member.id is not None
    return Actor(
        member_id=member.id,
        slack_id=member.slack_id,
        name=member.name,
        tz=member.tz,
        role=member.role,
    )


def actor_for_slack_id(session: Session, team: Team, slack_id: str) -> Actor | None:
    member = session.exec(
        select(Member).where(Member.team_id == team.id, Member.slack_id == slack_id)
    ).first()
    return actor_from_member(member) if member else None


def team_members(session: Session, team: Team) -> list[Member]:
    return list(
        session.exec(select(Member).where(Member.team_id == team.id).order_by(col(Member.position)))
    )


def find_member(session: Session, team: Team, who: str) -> Member:
    """The member `who` names, read as `/ts` reads names (`sofia`, `@Sofía Martínez`, an id);
    `NameNotFound` says in one line why nobody, or not just one, matched."""
    return match(who, team_members(session, team), team=team.name)


def default_console_member(session: Session, team: Team) -> Member | None:
    """The console acts as the first manager (then admin, then anyone) unless told otherwise."""
    members = team_members(session, team)
    for role in ("manager", "admin", "responder"):
        for m in members:
            if m.role == role:
                return m
    return None
