"""Test worlds for handoffs: a team in the database, a manual clock, and a recording notifier.

`World.run_until` jumps the clock from one wake-up to the next (`next_wakeup`) and runs a pass
at each, so a week of handoffs takes a few hundred passes and no sleeping.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlmodel import col, select

from chatops.clock import ManualClock
from chatops.db import Database
from chatops.handoff.service import HandoffSettings
from chatops.oncall.cache import Rotas
from chatops.oncall.models import Handoff
from chatops.oncall.watch import WatchSettings
from chatops.outbox.models import OutboxMessage, Topic
from chatops.outbox.notifier import ConsoleNotifier, Sent
from chatops.team import actor_for_slack_id
from chatops.worker import next_wakeup, run_handoffs_due
from commands.context import Actor, Context
from rota.models import Team
from rota.spec import OverrideSpec, RotaSpec, RotationSpec, TeamSpec
from rota.store import save_rota

# The cast, re-exported: tests name the people through their world.
from tests.support.cast import ANN as ANN
from tests.support.cast import BEN as BEN
from tests.support.cast import CAT as CAT
from tests.support.cast import CHANNEL as CHANNEL
from tests.support.cast import DAN as DAN
from tests.support.cast import EVE as EVE
from tests.support.cast import MEMBERS as MEMBERS

START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)  # a Monday


def daily_team(
    *, overrides: Sequence[OverrideSpec] = (), required: int = 1, tz: str = "UTC"
) -> RotaSpec:
    """Ann and Ben swap the primary pager daily at 09:00 UTC; Eve is the weekly secondary."""
    return RotaSpec(
        team=TeamSpec(name="T&S", channel=CHANNEL, required=required, tz=tz),
        members=MEMBERS,
        rotations=(
            RotationSpec(
                name="primary",
                tz="UTC",
                handoff="0 9 * * *",
                start=START,
                participants=(ANN, BEN),
                layer="primary",
            ),
            RotationSpec(
                name="secondary",
                tz="UTC",
                handoff="0 9 * * mon",
                start=START,
                participants=(EVE,),
                layer="secondary",
            ),
        ),
        overrides=tuple(overrides),
    )


@dataclass
class World:
    db: Database
    team_id: int
    clock: ManualClock
    notifier: ConsoleNotifier = field(default_factory=ConsoleNotifier)
    settings: HandoffSettings = field(default_factory=HandoffSettings)
    watch: WatchSettings = field(default_factory=lambda: WatchSettings(enabled=False))
    worker_id: str = "w1"
    log: list[tuple[datetime, Sent]] = field(default_factory=list)
    rotas: Rotas = field(default_factory=dict)  # for next_wakeup only; cleared by `save`

    def one_pass(self) -> int:
        done = run_handoffs_due(
            self.db,
            self.clock,
            self.notifier,
            worker_id=self.worker_id,
            settings=self.settings,
            watch=self.watch,
        )
        sent, self.notifier.sent = self.notifier.sent, []
        self.log.extend((self.clock(), s) for s in sent)
        return done

    def tick(self) -> int:
        """Passes until quiet; what was sent is logged with the instant."""
        total = 0
        for _ in range(50):
            done = self.one_pass()
            total += done
            if not done:
                break
        return total

    def advance_to(self, when: datetime) -> None:
        if when > self.clock():
            self.clock.advance(when - self.clock())

    def run_until(self, end: datetime) -> None:
        """One pass at every wake-up up to `end` (inclusive), then quiet at `end`."""
        self.one_pass()
        for _ in range(10_000):
            wake = next_wakeup(
                self.db,
                now=self.clock(),
                settings=self.settings,
                watch=self.watch,
                rotas=self.rotas,
            )
            if wake is None or wake > end:
                break
            self.advance_to(wake)
            self.one_pass()
        self.advance_to(end)
        self.tick()

    def posts(self) -> list[Sent]:
        """Channel messages of the handoffs (the one outbox also delivers the cases' pages)."""
        with self.db.transaction() as session:
            pages = set(
                session.exec(
                    select(OutboxMessage.text).where(OutboxMessage.topic == Topic.page.value)
                )
            )
        return [s for _, s in self.log if not s.channel.startswith("U") and s.text not in pages]

    def dms(self, to: str | None = None) -> list[Sent]:
        return [s for _, s in self.log if s.channel.startswith("U") and to in (None, s.channel)]

    def actor(self, slack_id: str) -> Actor:
        with self.db.transaction() as session:
            team = session.get(Team, self.team_id)
            assert team is not None
            found = actor_for_slack_id(session, team, slack_id)
        assert found is not None
        return found

    def context(self, slack_id: str) -> Context:
        return Context(
            db=self.db,
            team_id=self.team_id,
            team_name="T&S",
            actor=self.actor(slack_id),
            clock=self.clock,
            channel=CHANNEL,
        )

    def handoffs(self) -> list[Handoff]:
        with self.db.transaction() as session:
            return list(session.exec(select(Handoff).order_by(col(Handoff.at), col(Handoff.id))))

    def messages(self) -> list[OutboxMessage]:
        """The handoff's outbox rows (pages are the escalation world's)."""
        with self.db.transaction() as session:
            return list(
                session.exec(
                    select(OutboxMessage)
                    .where(OutboxMessage.topic == Topic.handoff.value)
                    .order_by(col(OutboxMessage.id))
                )
            )

    def save(self, spec: RotaSpec) -> None:
        with self.db.transaction() as session:
            save_rota(session, spec)
        self.rotas.clear()


def make_world(db: Database, spec: RotaSpec, now: datetime, **kwargs: object) -> World:
    with db.transaction() as session:
        team = save_rota(session, spec)
    assert team.id is not None
    return World(db=db, team_id=team.id, clock=ManualClock(now), **kwargs)  # type: ignore[arg-type]
