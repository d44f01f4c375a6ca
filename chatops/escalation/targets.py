"""From a level's targets to Slack user ids, at an instant.

Who is on call comes from `chatops.oncall.now` (the engine plus holdovers). Rotation and layer
targets that exist but resolve to nobody are a *gap*: the caller then pages the managers instead
(docs/architecture.md, invariant 3).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from chatops.escalation.hours import awake, next_working_instant
from chatops.escalation.policy import TargetSpec
from chatops.oncall.cache import team_rota
from chatops.oncall.now import OnCall, holdovers, on_call
from rota.models import Member, Team
from rota.spec import Role
from rota.store import working_hours_of


@dataclass
class Roster:
    """What target resolution needs about a team at one instant, read once."""

    members: list[Member]
    on_call: list[OnCall]
    rotations: dict[str, str]  # rotation name → layer

    def with_role(self, role: Role) -> list[str]:
        return [m.slack_id for m in self.members if m.role == role]

    def managers(self) -> list[str]:
        """Managers; a team with none falls back to its admins, so somebody is always named."""
        return self.with_role(Role.manager) or self.with_role(Role.admin)

    def admins(self) -> list[str]:
        return self.with_role(Role.admin) or self.with_role(Role.manager)

    def member(self, slack_id: str) -> Member | None:
        return next((m for m in self.members if m.slack_id == slack_id), None)

    def working_from(self, slack_id: str, at: datetime) -> datetime:
        """When a page held for working hours may reach `slack_id`: `at` itself inside their
        hours, else the next start of them (the defaults for someone unknown)."""
        member = self.member(slack_id)
        return next_working_instant(member.tz if member else "UTC", at, working_hours_of(member))


@dataclass
class Resolution:
    people: list[str] = field(default_factory=list)  # in target order, without repeats
    gap: bool = False  # some rotation target exists but nobody is on call in it


def load_roster(session: Session, team: Team, at: datetime) -> Roster:
    members = list(
        session.exec(select(Member).where(Member.team_id == team.id).order_by(col(Member.position)))
    )
    rota = team_rota(session, team)
    on_call_now = on_call(rota, at)
    # An outgoing responder whose incoming has not accepted the handoff yet stays on call.
    assert team.id is not None
    for held in holdovers(session, team_id=team.id, at=at):
        entry = OnCall(held.slack_id, held.rotation, held.layer)
        if entry not in on_call_now:
            on_call_now.append(entry)
    return Roster(members, on_call_now, {r.name: r.layer for r in rota.spec.rotations})


def resolve_targets(roster: Roster, targets: Iterable[TargetSpec]) -> Resolution:
    result = Resolution()

    def add(ids: Iterable[str]) -> None:
        for slack_id in ids:
            if slack_id not in result.people:
                result.people.append(slack_id)

    for target in targets:
        if target.rotation is not None:
            found = [o.slack_id for o in roster.on_call if o.rotation == target.rotation]
            result.gap |= target.rotation in roster.rotations and not found
            add(found)
        elif target.layer is not None:
            found = [o.slack_id for o in roster.on_call if o.rotation and o.layer == target.layer]
            result.gap |= target.layer in roster.rotations.values() and not found
            add(found)
        elif target.member is not None:
            add([target.member] if roster.member(target.member) else [])
        elif target.managers:
            add(roster.managers())
        else:
            add(roster.admins())
    return result


def prefer_rested(people: list[str], spent: Collection[str]) -> list[str]:
    """A level's people for a graphic case: those who have not reached their daily exposure
    cap, when the level has any; else all of them, so a level is never left with nobody
    (docs/architecture.md, invariant 3). A spared member can still take the case."""
    rested = [p for p in people if p not in spent]
    return rested or people


def speaks(member: Member, language: str) -> bool:
    """Whether `member` lists `language` (primary subtag, case-insensitive: pt-BR ~ pt)."""
    wanted = language.lower().split("-")[0]
    return any(x.strip().lower().split("-")[0] == wanted for x in member.languages.split(","))


def find_advisor(roster: Roster, language: str, exclude: Sequence[str], at: datetime) -> str | None:
    """A member who speaks `language`: one on call (in another rotation) first, then one for
    whom it is a decent hour (08:00–22:00 local), then anyone, rather than whoever the file
    happens to list first (which woke a speaker at 03:00 while another was in her day)."""
    speakers = [m for m in roster.members if m.slack_id not in exclude and speaks(m, language)]
    on_call = {o.slack_id for o in roster.on_call}
    for tier in (
        [m for m in speakers if m.slack_id in on_call],
        [m for m in speakers if awake(m.tz, at)],
        speakers,
    ):
        if tier:
            return tier[0].slack_id
    return None
