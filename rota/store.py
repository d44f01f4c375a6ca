"""Moving a `RotaSpec` into and out of the rota tables.

`save_rota` replaces a team's whole rota in the caller's transaction, so an import either lands
entirely or not at all; `load_rota` reads it back into the same shape the YAML file holds, which
is what makes import and export round-trip.
"""

from __future__ import annotations

import json
from datetime import time

from sqlmodel import Session, col, delete, select

from rota.models import (
    Member,
    Override,
    Participant,
    Restriction,
    ReviewerGroupMember,
    Rotation,
    Team,
)
from rota.spec import (
    DEFAULT_WORKING_HOURS,
    EarlierOrder,
    FatigueSpec,
    GroupSpec,
    MemberSpec,
    OverrideSpec,
    RestrictionSpec,
    Role,
    RotaSpec,
    RotationSpec,
    TeamSpec,
    Weekday,
    WorkingHours,
)


class UnknownTeam(LookupError):
    pass


def find_team(session: Session, name: str | None = None) -> Team:
    """The team called `name`, or the only team when `name` is None."""
    if name is not None:
        team = session.exec(select(Team).where(Team.name == name)).first()
        if team is None:
            raise UnknownTeam(f"no team called {name!r} in the database")
        return team
    teams = list(session.exec(select(Team).order_by(col(Team.id))))
    if not teams:
        raise UnknownTeam("the database holds no team yet; import a rota first")
    if len(teams) > 1:
        names = ", ".join(repr(t.name) for t in teams)
        raise UnknownTeam(
            f"the database holds several teams ({names}); choose one with CHATOPS_TEAM=NAME"
        )
    return teams[0]


def team_rota(session: Session, team_id: int, *, lock: bool = False) -> tuple[Team, RotaSpec]:
    """A team and its rota. With `lock`, the team row is locked (FOR UPDATE) until the
    transaction ends, so a concurrent rota save waits instead of being silently overwritten."""
    query = select(Team).where(Team.id == team_id)
    team = session.exec(query.with_for_update() if lock else query).first()
    if team is None:
        raise UnknownTeam(f"team {team_id} is no longer in the database")
    return team, load_rota(session, team)


def save_rota(session: Session, spec: RotaSpec) -> Team:
    """Create or replace the team named in `spec` with exactly what `spec` says."""
    team = session.exec(select(Team).where(Team.name == spec.team.name)).first()
    if team is None:
        team = Team(name=spec.team.name)
        session.add(team)
    team.tz, team.channel, team.required = spec.team.tz, spec.team.channel, spec.team.required
    team.fatigue = json.dumps(spec.team.fatigue.model_dump(exclude_defaults=True), sort_keys=True)
    team.rota_version = (team.rota_version or 0) + 1
    session.flush()
    assert team.id is not None
    _clear(session, team.id)

    by_slack: dict[str, int] = {}
    existing = {
        m.slack_id: m for m in session.exec(select(Member).where(Member.team_id == team.id))
    }
    for position, m in enumerate(spec.members):
        row = existing.pop(m.id, None) or Member(
            team_id=team.id, slack_id=m.id, name=m.name, tz=m.tz
        )
        row.name, row.tz, row.role, row.position = m.name, m.tz, m.role.value, position
        row.languages = ",".join(m.languages)
        row.working_hours = (
            ""
            if m.working_hours == DEFAULT_WORKING_HOURS
            else m.working_hours.model_dump_json(by_alias=True)
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        by_slack[m.id] = row.id
    for gone in existing.values():
        session.delete(gone)

    rotation_ids: dict[str, int] = {}
    for position, r in enumerate(spec.rotations):
        rotation = Rotation(
            team_id=team.id,
            name=r.name,
            tz=r.tz,
            handoff=r.handoff,
            start=r.start,
            shift_length=r.shift_length,
            layer=r.layer,
            position=position,
            previous=json.dumps(
                [
                    {"until": o.until.isoformat(), "participants": list(o.participants)}
                    for o in r.previous
                ]
            ),
        )
        session.add(rotation)
        session.flush()
        assert rotation.id is not None
        rotation_ids[r.name] = rotation.id
        for index, slack_id in enumerate(r.participants):
            session.add(
                Participant(rotation_id=rotation.id, position=index, member_id=by_slack[slack_id])
            )
        for index, w in enumerate(r.restrictions):
            session.add(
                Restriction(
                    rotation_id=rotation.id,
                    days=",".join(d.value for d in w.days),
                    start_local=w.start.strftime("%H:%M"),
                    end_local=w.end.strftime("%H:%M"),
                    position=index,
                )
            )
    for o in spec.overrides:
        session.add(
            Override(
                team_id=team.id,
                rotation_id=rotation_ids[o.rotation] if o.rotation else None,
                member_id=by_slack[o.member],
                start=o.start,
                end=o.end,
                reason=o.reason,
                author=o.author,
            )
        )
    for g in spec.groups:
        for position, slack_id in enumerate(g.members):
            session.add(
                ReviewerGroupMember(
                    team_id=team.id, name=g.name, member_id=by_slack[slack_id], position=position
                )
            )
    session.flush()
    return team


def working_hours_of(member: Member | None) -> WorkingHours:
    """A member row's working hours; the default for nobody or an unreadable value (only a
    validated rota file or `WorkingHours` itself writes the column: never fail a page on it)."""
    if member is None or not member.working_hours:
        return DEFAULT_WORKING_HOURS
    try:
        return WorkingHours.model_validate_json(member.working_hours)
    except ValueError:
        return DEFAULT_WORKING_HOURS


def _clear(session: Session, team_id: int) -> None:
    rotation_ids = list(session.exec(select(Rotation.id).where(Rotation.team_id == team_id)))
    session.exec(delete(Override).where(col(Override.team_id) == team_id))
    session.exec(delete(ReviewerGroupMember).where(col(ReviewerGroupMember.team_id) == team_id))
    if rotation_ids:
        session.exec(delete(Participant).where(col(Participant.rotation_id).in_(rotation_ids)))
        session.exec(delete(Restriction).where(col(Restriction.rotation_id).in_(rotation_ids)))
        session.exec(delete(Rotation).where(col(Rotation.id).in_(rotation_ids)))
    session.flush()


def load_rota(session: Session, team: Team) -> RotaSpec:
    """Read a team's rota back into the shape of the YAML file."""
    members = list(
        session.exec(select(Member).where(Member.team_id == team.id).order_by(col(Member.position)))
    )
    slack_of = {m.id: m.slack_id for m in members}
    rotations = list(
        session.exec(
            select(Rotation).where(Rotation.team_id == team.id).order_by(col(Rotation.position))
        )
    )
    name_of = {r.id: r.name for r in rotations}
    rotation_specs = []
    for r in rotations:
        participants = session.exec(
            select(Participant.member_id)
            .where(Participant.rotation_id == r.id)
            .order_by(col(Participant.position))
        )
        windows = session.exec(
            select(Restriction)
            .where(Restriction.rotation_id == r.id)
            .order_by(col(Restriction.position))
        )
        rotation_specs.append(
            RotationSpec(
                name=r.name,
                tz=r.tz,
                handoff=r.handoff,
                start=r.start,
                participants=tuple(slack_of[p] for p in participants),
                shift_length=r.shift_length,
                layer=r.layer,
                previous=tuple(
                    EarlierOrder.model_validate(o) for o in json.loads(r.previous or "[]")
                ),
                restrictions=tuple(
                    RestrictionSpec(
                        days=tuple(Weekday(d) for d in w.days.split(",") if d),
                        start=time.fromisoformat(w.start_local),
                        end=time.fromisoformat(w.end_local),
                    )
                    for w in windows
                ),
            )
        )
    overrides = session.exec(
        select(Override)
        .where(Override.team_id == team.id)
        .order_by(col(Override.start), col(Override.id))
    )
    grouped: dict[str, list[str]] = {}
    for row in session.exec(
        select(ReviewerGroupMember)
        .where(ReviewerGroupMember.team_id == team.id)
        .order_by(col(ReviewerGroupMember.id))
    ):
        grouped.setdefault(row.name, []).append(slack_of[row.member_id])
    return RotaSpec(
        team=TeamSpec(
            name=team.name,
            tz=team.tz,
            channel=team.channel,
            required=team.required,
            fatigue=FatigueSpec.model_validate(json.loads(team.fatigue or "{}")),
        ),
        members=tuple(
            MemberSpec(
                id=m.slack_id,
                name=m.name,
                tz=m.tz,
                languages=tuple(x for x in m.languages.split(",") if x),
                role=Role(m.role),
                working_hours=working_hours_of(m),
            )
            for m in members
        ),
        rotations=tuple(rotation_specs),
        overrides=tuple(
            OverrideSpec(
                member=slack_of[o.member_id],
                start=o.start,
                end=o.end,
                rotation=name_of[o.rotation_id] if o.rotation_id else None,
                reason=o.reason,
                author=o.author,
            )
            for o in overrides
        ),
        groups=tuple(GroupSpec(name=n, members=tuple(ids)) for n, ids in grouped.items()),
    )
