"""One worker pass for handoffs and the coverage watch: what the lead wires into the worker.

`run_handoffs_due` plans the boundaries near now, fires due handoff steps, runs due coverage
watches, and delivers the handoff outbox, in that order (so what a pass makes due is sent in the
same pass). `next_wakeup` is the nearest instant a pass would do something, for the worker's
sleep and for tests that jump an injected clock instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlmodel import select

from chatops.db import Database
from chatops.escalation.notifier import Notifier
from chatops.handoff.outbox import deliver_due
from chatops.handoff.schedule import next_boundary
from chatops.handoff.service import (
    DEFAULT,
    HandoffSettings,
    Rotas,
    fire_due,
    next_due,
    plan_all,
    team_rota,
)
from chatops.handoff.watch import DEFAULT_WATCH, WatchSettings, next_firing, run_watch
from rota.models import Team

Clock = Callable[[], datetime]


def run_handoffs_due(
    db: Database,
    clock: Clock,
    notifier: Notifier,
    *,
    worker_id: str,
    settings: HandoffSettings = DEFAULT,
    watch: WatchSettings = DEFAULT_WATCH,
    limit: int = 100,
) -> int:
    """One pass; returns how many steps fired and messages were attempted (0: quiet)."""
    now = clock()
    rotas: Rotas = {}
    plan_all(db, now=now, settings=settings, rotas=rotas)
    done = fire_due(db, now=now, worker_id=worker_id, limit=limit, rotas=rotas)
    done += run_watch(db, now=now, worker_id=worker_id, settings=watch)
    return done + deliver_due(db, clock=clock, notifier=notifier, worker_id=worker_id, limit=limit)


def next_wakeup(
    db: Database,
    *,
    now: datetime,
    settings: HandoffSettings = DEFAULT,
    watch: WatchSettings = DEFAULT_WATCH,
    rotas: Rotas | None = None,
) -> datetime | None:
    """The nearest instant at which a pass has work: a due row, a boundary to plan, a watch.

    `rotas` may carry rotas already read (a caller that knows the rota has not changed).
    """
    found = [d for d in (next_due(db), next_firing(db, now=now, settings=watch)) if d is not None]
    with db.transaction() as session:
        for team in session.exec(select(Team)):
            b = next_boundary(team_rota(session, team, rotas), now + settings.reminder)
            if b is not None:
                found.append(max(b.at - settings.reminder, now + timedelta(seconds=1)))
    return min(found) if found else None
