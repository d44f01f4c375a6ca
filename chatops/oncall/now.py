"""Who is on call at an instant, as the pager sees it: the rota engine's answer plus holdovers.

An outgoing responder whose incoming has not accepted the handoff yet stays on call with them
(docs/architecture.md, "Handoffs"), so everything that pages asks here rather than the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from chatops.oncall.cache import team_rota
from chatops.oncall.models import UNACCEPTED, Handoff
from rota.models import Team
from rota.resolve import CompiledRota


@dataclass(frozen=True)
class OnCall:
    slack_id: str
    rotation: str | None  # None for a team-wide override
    layer: str


@dataclass(frozen=True)
class Holdover:
    """An outgoing responder still on call because the incoming has not accepted yet."""

    slack_id: str
    rotation: str
    layer: str
    handoff_id: int


@dataclass(frozen=True)
class PendingHandoff:
    """A handoff whose incoming has not accepted: its outgoing responders are still on call."""

    rotation: str
    incoming: str
    outgoing: list[str]
    handoff_id: int


def on_call(rota: CompiledRota, at: datetime) -> list[OnCall]:
    """The only call into the rota engine."""
    return [OnCall(s.member, s.rotation, s.layer) for s in rota.on_call(at)]


def on_call_now(session: Session, team: Team, at: datetime) -> list[OnCall]:
    """Who is on call at `at`, per rotation."""
    return on_call(team_rota(session, team), at)


def on_call_slack_ids(session: Session, team: Team, rotation_name: str, at: datetime) -> list[str]:
    return [o.slack_id for o in on_call_now(session, team, at) if o.rotation == rotation_name]


def holdovers(session: Session, *, team_id: int, at: datetime) -> list[Holdover]:
    """Outgoing responders still on call at `at` because their incoming has not accepted.

    For the pager's target resolution: they are paged for new cases alongside the incoming.
    """
    rows = session.exec(
        select(Handoff).where(
            Handoff.team_id == team_id,
            col(Handoff.state).in_([s.value for s in UNACCEPTED]),
            col(Handoff.at) <= at,
        )
    )
    out: list[Holdover] = []
    for h in rows:
        assert h.id is not None
        for member, _, _ in h.outgoing_members():
            if member != h.incoming:
                out.append(Holdover(member, h.rotation, h.layer, h.id))
    return out


def pending_handoffs(session: Session, *, team_id: int, at: datetime) -> list[PendingHandoff]:
    """The unaccepted handoffs behind `holdovers`, one per handoff, for `/ts who`."""
    found: dict[int, PendingHandoff] = {}
    for held in holdovers(session, team_id=team_id, at=at):
        if held.handoff_id not in found:
            h = session.get(Handoff, held.handoff_id)
            assert h is not None
            found[held.handoff_id] = PendingHandoff(h.rotation, h.incoming, [], held.handoff_id)
        found[held.handoff_id].outgoing.append(held.slack_id)
    return list(found.values())
