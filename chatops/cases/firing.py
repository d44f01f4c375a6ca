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
from chatops.cases import held, ladder, timers
from chatops.cases.models import Case, CaseStatus
from chatops.cases.timeline import add_event
from chatops.db import Database
from chatops.escalation.policy import Step
from chatops.logs import correlated
from rota.models import Team

log = logging.getLogger(__name__)


def fire_due_timers(db: Database, *, now: datetime, worker_id: str, limit: int) -> int:
    """Fire up to `limit` due escalation timers, each in its own transaction; returns how many
    (held pages now due are released first, so delivery sends them to whoever is on call)."""
    released = held.release_held_pages(db, now=now, limit=limit)
    with db.transaction() as session:
        candidates = timers.due_candidates(session, now=now, limit=limit)
    fired = released
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
        if repeat:
            target = last
        else:
            target, due = _catch_up(
                session, case=case, steps=steps, step=timer.step, due=due, now=now
            )
        caught_up = target > timer.step
        if target == last and every is not None:
            if not repeat and due + every <= now:
                # the admins' own page was missed too: the ladder is in its repeats by now
                _missed(session, case=case, step=steps[last], due=due, now=now, to="repeats")
                repeat, due = True, due + every
            due = _skip_missed_repeats(session, case=case, due=due, every=every, now=now)
        reason = _reason(case, steps, now=now, repeat=repeat, every=every, caught_up=caught_up)
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
        _missed(session, case=case, step=steps[step], due=due, now=now, to=steps[step + 1].level)
        step, due = step + 1, due + wait
    return step, due


def _missed(
    session: Session, *, case: Case, step: Step, due: datetime, now: datetime, to: str
) -> None:
    """Record that `step`, due at `due`, was never paged: the worker was down."""
    add_event(
        session,
        case=case,
        at=now,
        actor="system",
        kind="missed",
        level=step.level,
        targets=", ".join(t.short() for t in step.targets),
        due=due.isoformat(),
        to_level=to,
    )
    log.warning("escalation level missed", extra={"case": case.key, "step": step.index})


def _skip_missed_repeats(
    session: Session, *, case: Case, due: datetime, every: timedelta, now: datetime
) -> datetime:
    """The latest final repeat due by `now`, starting from one due at `due`; the repeats
    before it that an outage swallowed go into the timeline as one line (paged once, now)."""
    first, count = due, 0
    while due + every <= now:
        due, count = due + every, count + 1
    if count:
        add_event(
            session,
            case=case,
            at=now,
            actor="system",
            kind="missed_repeats",
            count=count,
            first=first.isoformat(),
            last=(due - every).isoformat(),
            every=int(every.total_seconds() // 60),
        )
        log.warning("final repeats missed", extra={"case": case.key, "count": count})
    return due


def _reason(
    case: Case,
    steps: list[Step],
    *,
    now: datetime,
    repeat: bool,
    every: timedelta | None,
    caught_up: bool,
) -> str:
    """Why people are paged, as the page says it: true after an outage too."""
    waited = _duration(now - case.opened_at)
    if repeat:
        return (
            f"Unacknowledged for {waited}, past the last level: paging the admins and the "
            f"on-call every {_minutes(every)} until someone acknowledges"
        )
    if caught_up:
        return (
            f"Unacknowledged for {waited}: the escalation was late (the bot's worker was down) "
            "and the levels it missed are in the case timeline"
        )
    wait = steps[case.step].wait
    return f"No acknowledgement within {_minutes(wait)} at level {steps[case.step].level}"


def _duration(span: timedelta) -> str:
    minutes = max(0, int(span.total_seconds() // 60))
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def _minutes(wait: timedelta | None) -> str:
    if wait is None:
        return "the timeout"
    minutes = int(wait.total_seconds() // 60)
    return f"{minutes} min" if minutes else f"{int(wait.total_seconds())} s"
