"""Escalation timers that fire: a due timer moves its open case one level up and pages it.

Each timer fires in its own transaction under a row lock, and a timer whose case has moved on is
marked fired without effect, so a restart or a second worker never fires one twice
(docs/architecture.md, invariants 4 and 5).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from chatops.cases import ladder, timers
from chatops.cases.models import CaseStatus
from chatops.cases.timeline import add_event
from chatops.db import Database
from chatops.logs import correlated
from rota.models import Team

log = logging.getLogger(__name__)


def fire_due_timers(db: Database, *, now: datetime, worker_id: str, limit: int) -> int:
    """Fire up to `limit` due escalation timers, each in its own transaction; returns how many."""
    with db.transaction() as session:
        candidates = timers.due_candidates(session, now=now, limit=limit)
    fired = 0
    for timer_id, case_id in candidates:
        with correlated():
            try:
                fired += _fire(db, timer_id=timer_id, case_id=case_id, now=now, worker_id=worker_id)
            except Exception:
                log.exception("escalation timer failed", extra={"timer": timer_id})
    return fired


def _fire(db: Database, *, timer_id: int, case_id: int, now: datetime, worker_id: str) -> int:
    with db.transaction() as session:
        locked = timers.lock_due(session, timer_id=timer_id, case_id=case_id, now=now)
        if locked is None:
            return 0
        case, timer = locked
        timers.mark_fired(timer, at=now, worker_id=worker_id)
        steps = ladder.steps_of(case)
        if case.status != CaseStatus.open or timer.step <= case.step or timer.step >= len(steps):
            return 1  # stale: the case moved on without cancelling this timer
        team = session.get(Team, case.team_id)
        assert team is not None
        wait = steps[case.step].wait
        reason = f"No acknowledgement within {_minutes(wait)} at level {steps[case.step].level}"
        add_event(
            session,
            case=case,
            at=now,
            actor="system",
            kind="escalated",
            auto=True,
            from_step=case.step,
            to_step=timer.step,
        )
        paging = ladder.page_step(
            session, case=case, team=team, step=timer.step, at=now, actor="system", reason=reason
        )
        log.info(
            "escalated", extra={"case": case.key, "level": paging.level, "paged": len(paging.paged)}
        )
    return 1


def _minutes(wait: timedelta | None) -> str:
    if wait is None:
        return "the timeout"
    minutes = int(wait.total_seconds() // 60)
    return f"{minutes} min" if minutes else f"{int(wait.total_seconds())} s"
