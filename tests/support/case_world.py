"""A small team for the case and escalation tests, built in code so on-call is obvious.

Ann is primary, Ben secondary (both around the clock), Cat the manager, Dan the admin, Eve
speaks Arabic and is on no rotation. `NOW` is inside both rotations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, SQLModel, select

from chatops.audit import AuditEvent
from chatops.cases.models import Case, CaseEvent
from chatops.clock import Clock, ManualClock
from chatops.db import Database
from chatops.escalation.models import EscalationTimer
from chatops.oncall.watch import WatchSettings
from chatops.outbox.models import OutboxMessage
from chatops.outbox.notifier import ConsoleNotifier, Notifier
from chatops.team import actor_for_slack_id
from chatops.worker import run_due
from commands.context import Actor, Context
from rota.spec import RotaSpec, RotationSpec, TeamSpec
from rota.store import save_rota

# The cast, re-exported: tests name the people through their world.
from tests.support.cast import ANN as ANN
from tests.support.cast import BEN as BEN
from tests.support.cast import CAT as CAT
from tests.support.cast import CHANNEL as CHANNEL
from tests.support.cast import DAN as DAN
from tests.support.cast import EVE as EVE
from tests.support.cast import MEMBERS as MEMBERS

NOW = datetime(2027, 3, 20, 12, 0, tzinfo=UTC)
OUTSIDER = "U0NOBODY"


def rotation(
    name: str, layer: str, who: Sequence[str], start: datetime | None = None
) -> RotationSpec:
    return RotationSpec(
        name=name,
        tz="UTC",
        handoff="0 9 * * mon",
        start=start or datetime(2027, 1, 4, 9, 0, tzinfo=UTC),
        participants=tuple(who),
        layer=layer,
    )


def team_spec(rotations: Sequence[RotationSpec] | None = None) -> RotaSpec:
    return RotaSpec(
        team=TeamSpec(name="T&S", channel=CHANNEL),
        members=MEMBERS,
        rotations=tuple(
            rotations
            if rotations is not None
            else (rotation("day", "primary", [ANN]), rotation("backup", "secondary", [BEN]))
        ),
    )


#: These tests are about escalation: the daily coverage watch (tested in tests/handoff) is off.
QUIET_WATCH = WatchSettings(enabled=False)


def escalation_pass(db: Database, clock: Clock, notifier: Notifier, *, worker_id: str) -> int:
    """One worker pass, as the real worker runs it, minus the coverage watch."""
    return run_due(db, clock, notifier, worker_id=worker_id, watch=QUIET_WATCH)


@dataclass
class World:
    db: Database
    team_id: int
    clock: ManualClock
    notifier: ConsoleNotifier

    def actor(self, slack_id: str) -> Actor:
        with self.db.transaction() as session:
            from rota.models import Team

            team = session.get(Team, self.team_id)
            assert team is not None
            found = actor_for_slack_id(session, team, slack_id)
        assert found is not None
        return found

    def context(self, slack_id: str | None) -> Context:
        return Context(
            db=self.db,
            team_id=self.team_id,
            team_name="T&S",
            actor=self.actor(slack_id) if slack_id else None,
            clock=self.clock,
            channel=CHANNEL,
        )

    def tick(self, worker_id: str = "w1") -> int:
        """Run the worker until nothing is due now."""
        total = 0
        while done := escalation_pass(self.db, self.clock, self.notifier, worker_id=worker_id):
            total += done
        return total

    def dms(self) -> list[str]:
        """Recipients of the DMs sent so far (drains the notifier)."""
        sent, self.notifier.sent = self.notifier.sent, []
        return [s.channel for s in sent if s.channel != CHANNEL]


def make_world(db: Database, spec: RotaSpec | None = None, now: datetime = NOW) -> World:
    with db.transaction() as session:
        team = save_rota(session, spec or team_spec())
    assert team.id is not None
    return World(db=db, team_id=team.id, clock=ManualClock(now), notifier=ConsoleNotifier())


def counts(db: Database) -> dict[str, int]:
    """Rows per table that a refused command must not change."""
    tables: list[type[SQLModel]] = [Case, CaseEvent, OutboxMessage, EscalationTimer, AuditEvent]
    with db.transaction() as session:
        return {t.__name__: _count(session, t) for t in tables}


def _count(session: Session, table: Any) -> int:
    return int(session.exec(select(func.count()).select_from(table)).one())


def snapshot(db: Database) -> list[tuple[Any, ...]]:
    """Every case row's state, to compare before and after a refused command."""
    with db.transaction() as session:
        return [
            (c.key, c.status, c.step, c.assignee, c.pagings)
            for c in session.exec(select(Case).order_by(Case.id))  # type: ignore[arg-type]
        ]
