"""The timer worker: fire due escalation timers, deliver due pages, sleep until the next one.

`run_due` is one pass and is what tests and the console call; `Worker` loops it in `chatops
worker` (and inside `chatops serve`), sleeping until the nearest `due_at` but never more than a
few seconds, so a timer written by another process is noticed soon. Several workers may run on
PostgreSQL (claims skip locked rows); on SQLite run one.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from types import FrameType

from sqlalchemy import Connection, func
from sqlmodel import col, select

from chatops.cases.models import CaseStatus
from chatops.cases.timeline import add_event
from chatops.clock import system_clock
from chatops.db import Database
from chatops.escalation import ladder, timers
from chatops.escalation.models import EscalationTimer, Page
from chatops.escalation.notifier import ConsoleNotifier, Notifier
from chatops.escalation.pages import (
    Claim,
    claim_due_pages,
    release,
    settle_delivered,
    settle_failed,
)
from chatops.handoff.runner import run_handoffs_due
from chatops.handoff.service import DEFAULT as DEFAULT_HANDOFFS
from chatops.handoff.service import HandoffSettings
from chatops.handoff.service import next_due as next_handoff_due
from chatops.handoff.watch import DEFAULT_WATCH, WatchSettings
from chatops.leases import deliver_claimed, send_claimed
from chatops.logs import correlated
from commands.reply import Reply
from rota.models import Team

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

#: Pages claimed per transaction. Small enough that a batch is sent well within its lease.
BATCH = 50
#: Longest sleep between passes, so rows written by other processes are seen soon.
MAX_SLEEP = 5.0


def new_worker_id() -> str:
    """Unique per process and start: the fencing of claims relies on it."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


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


def deliver_due_pages(
    db: Database, *, clock: Clock, notifier: Notifier, worker_id: str, limit: int
) -> int:
    """Claim and send up to `limit` due pages on one connection; how many were attempted."""
    with db.engine.connect() as connection:
        return deliver_claimed(
            claim=lambda now, n: claim_due_pages(connection, now=now, worker_id=worker_id, limit=n),
            send=lambda claim: _send_one(
                connection, claim=claim, clock=clock, notifier=notifier, worker_id=worker_id
            ),
            release=lambda claims, due_at: release(
                connection, claims=list(claims), worker_id=worker_id, due_at=due_at
            ),
            clock=clock,
            limit=limit,
            batch=BATCH,
        )


def _send_one(
    connection: Connection, *, claim: Claim, clock: Clock, notifier: Notifier, worker_id: str
) -> datetime | None:
    """Send one claimed page and settle it; returns the retry instant after a 429."""
    return send_claimed(
        claim,
        notifier=notifier,
        clock=clock,
        settle_sent=lambda at, ts: settle_delivered(
            connection, claim=claim, worker_id=worker_id, at=at, message_ts=ts
        ),
        settle_failed=lambda at, error, retry: settle_failed(
            connection, claim=claim, worker_id=worker_id, at=at, error=error, retry_at=retry
        ),
        what="page",
        log_extra={"page": claim.id, "case_id": claim.case_id},
    )


def run_due(
    db: Database,
    clock: Clock,
    notifier: Notifier,
    *,
    worker_id: str,
    limit: int = 100,
    handoffs: HandoffSettings = DEFAULT_HANDOFFS,
    watch: WatchSettings = DEFAULT_WATCH,
) -> int:
    """One pass: fire due timers, deliver due pages (the new ones too), then run the handoffs
    and the coverage watch; returns how much was done (0: quiet)."""
    fired = fire_due_timers(db, now=clock(), worker_id=worker_id, limit=limit)
    fired += deliver_due_pages(db, clock=clock, notifier=notifier, worker_id=worker_id, limit=limit)
    return fired + run_handoffs_due(
        db, clock, notifier, worker_id=worker_id, settings=handoffs, watch=watch, limit=limit
    )


def next_due(db: Database) -> datetime | None:
    """The nearest instant at which a page or a timer needs the worker."""
    with db.transaction() as session:
        page = session.exec(select(func.min(col(Page.due_at)))).one()
        timer = session.exec(select(func.min(col(EscalationTimer.due_at)))).one()
    found = [d for d in (page, timer, next_handoff_due(db)) if d is not None]
    if not found:
        return None
    return min(_aware(d) for d in found)


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class Worker:
    """Loops `run_due` until stopped; `wake()` makes it look again at once."""

    def __init__(
        self,
        db: Database,
        notifier: Notifier,
        *,
        clock: Clock = system_clock,
        worker_id: str | None = None,
        batch: int = 100,
        max_sleep: float = MAX_SLEEP,
        handoffs: HandoffSettings = DEFAULT_HANDOFFS,
        watch: WatchSettings = DEFAULT_WATCH,
    ) -> None:
        self.db, self.notifier, self.clock = db, notifier, clock
        self.handoffs, self.watch = handoffs, watch
        self.worker_id = worker_id or new_worker_id()
        self.batch, self.max_sleep = batch, max_sleep
        self.stopping = threading.Event()
        self._wake = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self.stopping.set()
        self._wake.set()

    def run(self) -> None:
        log.info("worker started", extra={"worker": self.worker_id})
        while not self.stopping.is_set():
            self._wake.clear()
            try:
                done = run_due(
                    self.db,
                    self.clock,
                    self.notifier,
                    worker_id=self.worker_id,
                    limit=self.batch,
                    handoffs=self.handoffs,
                    watch=self.watch,
                )
            except Exception:
                log.exception("worker pass failed")
                done = 0
            if done or self.stopping.is_set():
                continue
            self._wake.wait(self.seconds_to_sleep())
        log.info("worker stopped", extra={"worker": self.worker_id})

    def seconds_to_sleep(self) -> float:
        try:
            due = next_due(self.db)
        except Exception:
            log.exception("cannot read the next due instant")
            return self.max_sleep
        if due is None:
            return self.max_sleep
        return min(max((due - self.clock()).total_seconds(), 0.01), self.max_sleep)

    def start(self) -> threading.Thread:
        """Run in a daemon thread (how `chatops serve` runs it); `stop()` ends it."""
        thread = threading.Thread(target=self.run, name="chatops-worker", daemon=True)
        thread.start()
        return thread


def console_hook(
    db: Database,
    clock: Clock,
    notifier: ConsoleNotifier,
    *,
    worker_id: str = "console",
    handoffs: HandoffSettings = DEFAULT_HANDOFFS,
    watch: WatchSettings = DEFAULT_WATCH,
) -> Callable[[], list[Reply]]:
    """For `Console.on_advance`: run everything now due and return the messages "sent"."""

    def tick() -> list[Reply]:
        for _ in range(100):  # each pass may make new pages due; stop when quiet
            passed = run_due(
                db, clock, notifier, worker_id=worker_id, handoffs=handoffs, watch=watch
            )
            if not passed:
                break
        return notifier.drain()

    return tick


def add_worker_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`chatops worker`: registered through `chatops.cli.EXTENSIONS`."""
    parser = sub.add_parser("worker", help="fire escalation timers and deliver pages")
    parser.add_argument("--once", action="store_true", help="one pass, then exit")
    parser.set_defaults(func=cmd_worker)


def cmd_worker(args: argparse.Namespace, settings: object) -> int:
    from chatops.cli import CliError, open_database
    from chatops.settings import Settings

    assert isinstance(settings, Settings)
    if settings.slack_bot_token is None:
        raise CliError("SLACK_BOT_TOKEN must be set for the worker to send pages")
    from chatops.runtime import make_worker, slack_notifier

    db = open_database(settings)
    worker = make_worker(settings, db, slack_notifier(settings))
    if args.once:
        done = run_due(
            db,
            system_clock,
            worker.notifier,
            worker_id=worker.worker_id,
            handoffs=worker.handoffs,
            watch=worker.watch,
        )
        print(f"{done} done")
        return 0

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        worker.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker.run()
    return 0


def _register() -> None:
    from chatops.cli import EXTENSIONS

    if add_worker_command not in EXTENSIONS:
        EXTENSIONS.append(add_worker_command)


_register()
