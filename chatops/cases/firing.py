"""Escalation timers that fire: a due timer moves its open case one level up and pages it.

Each timer fires in its own transaction under a row lock, and a timer whose case has moved on is
marked fired without effect, so a restart or a second worker never fires one twice
(docs/architecture.md, invariants 4 and 5).

A worker that was down works out from the due times where the ladder should be by now (each
level's timeout counted from when the level before it was due), pages that level, and writes
the levels it missed into the case timeline rather than pretending no time had passed.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import Session

from chatops import metrics
from chatops.cases import ladder, timers
from chatops.cases.models import Case, CaseStatus
from chatops.cases.timeline import add_event
from chatops.db import Database
from chatops.escalation.policy import Step
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
        due = timer.due_at
        assert due is not None
        metrics.timer_lag("escalation", (now - due).total_seconds())
        timers.mark_fired(timer, at=now, worker_id=worker_id)
        policy = ladder.policy_of(case)
        steps = ladder.ladder(policy)
        last = len(steps) - 1
        every = policy.repeat_every(case.severity)
        repeat = timer.step == case.step == last and every is not None
        if case.status != CaseStatus.open or timer.step >= len(steps):
            return 1  # stale: the case moved on without cancelling this timer
        if timer.step <= case.step and not repeat:
            return 1
        team = session.get(Team, case.team_id)
        assert team is not None
        target, due = _catch_up(session, case=case, steps=steps, step=timer.step, due=due, now=now)
        if target == last and every is not None:
            repeat = repeat or case.step == last
            while due + every <= now:  # final repeats missed in an outage: page once, now
                due += every
        if repeat:
            reason = (
                f"Still unacknowledged after the last level: paging the admins and the on-call "
                f"every {_minutes(every)} until someone acknowledges"
            )
        else:
            wait = steps[case.step].wait
            reason = f"No acknowledgement within {_minutes(wait)} at level {steps[case.step].level}"
        add_event(
            session,
            case=case,
            at=now,
            actor="system",
            kind="repeated" if repeat else "escalated",
            auto=True,
            from_step=case.step,
            to_step=target,
        )
        paging = ladder.page_step(
            session,
            case=case,
            team=team,
            step=target,
            at=now,
            actor="system",
            reason=reason,
            due_from=due,
            repeat=repeat,
        )
        log.info(
            "escalated", extra={"case": case.key, "level": paging.level, "paged": len(paging.paged)}
        )
    return 1


def _catch_up(
    session: Session, *, case: Case, steps: list[Step], step: int, due: datetime, now: datetime
) -> tuple[int, datetime]:
    """The step the ladder should be at by `now` and when it was due, starting from `step`
    due at `due`; each step passed over goes into the timeline as missed."""
    while step + 1 < len(steps):
        wait = steps[step].wait
        if wait is None or due + wait > now:
            break
        add_event(
            session,
            case=case,
            at=now,
            actor="system",
            kind="missed",
            level=steps[step].level,
            targets=", ".join(t.short() for t in steps[step].targets),
            due=due.isoformat(),
            to_level=steps[step + 1].level,
        )
        log.warning("escalation level missed", extra={"case": case.key, "step": step})
        step, due = step + 1, due + wait
    return step, due


def _minutes(wait: timedelta | None) -> str:
    if wait is None:
        return "the timeout"
    minutes = int(wait.total_seconds() // 60)
    return f"{minutes} min" if minutes else f"{int(wait.total_seconds())} s"
