"""Escalation timers in the database: "page step N at T unless someone acknowledges first".

A case has at most one pending timer. Every change to a case's timers happens while holding the
case row (`SELECT … FOR UPDATE` on PostgreSQL, BEGIN IMMEDIATE on SQLite), always case first and
timer second, so an acknowledgement and a firing timer serialise instead of deadlocking, and a
timer fires in the very transaction that pages the next step: exactly once (docs/architecture.md,
invariants 4, 5).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from chatops.cases.models import Case
from chatops.escalation.models import EscalationTimer, TimerState


def schedule(session: Session, *, case: Case, step: int, due_at: datetime, at: datetime) -> None:
    """Replace the case's pending timer with one that pages `step` at `due_at`."""
    assert case.id is not None
    cancel(session, case_id=case.id)
    session.add(
        EscalationTimer(
            team_id=case.team_id, case_id=case.id, step=step, due_at=due_at, created_at=at
        )
    )


def cancel(session: Session, *, case_id: int) -> int:
    """Cancel the case's pending timers; returns how many."""
    result = session.execute(
        update(EscalationTimer)
        .where(
            col(EscalationTimer.case_id) == case_id,
            col(EscalationTimer.state) == TimerState.pending.value,
        )
        .values(state=TimerState.cancelled.value, due_at=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def pending_timer(session: Session, *, case_id: int) -> EscalationTimer | None:
    return session.exec(
        select(EscalationTimer).where(
            EscalationTimer.case_id == case_id,
            EscalationTimer.state == TimerState.pending.value,
        )
    ).first()


def due_candidates(session: Session, *, now: datetime, limit: int) -> list[tuple[int, int]]:
    """(timer id, case id) of due timers, oldest first; read without locks, re-checked later."""
    rows = session.exec(
        select(EscalationTimer.id, EscalationTimer.case_id)
        .where(col(EscalationTimer.due_at) <= now)
        .order_by(col(EscalationTimer.due_at), col(EscalationTimer.id))
        .limit(limit)
    )
    return [(int(t), int(c)) for t, c in rows if t is not None]


def lock_due(
    session: Session, *, timer_id: int, case_id: int, now: datetime
) -> tuple[Case, EscalationTimer] | None:
    """Take the case (skipping it if another worker holds it), then re-check the timer.

    None when the timer was fired, cancelled or moved meanwhile, or the case is busy elsewhere
    (that other transaction either fires this timer or changes it).
    """
    case = session.exec(
        select(Case).where(Case.id == case_id).with_for_update(skip_locked=True)
    ).first()
    if case is None:
        return None
    timer = session.exec(
        select(EscalationTimer)
        .where(
            EscalationTimer.id == timer_id,
            EscalationTimer.state == TimerState.pending.value,
            col(EscalationTimer.due_at) <= now,
        )
        .with_for_update()
    ).first()
    return (case, timer) if timer is not None else None


def mark_fired(timer: EscalationTimer, *, at: datetime, worker_id: str) -> None:
    timer.state = TimerState.fired.value
    timer.due_at = None
    timer.fired_at = at
    timer.fired_by = worker_id
