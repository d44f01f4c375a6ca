"""The worker: every background duty in one pass, looped until stopped.

A pass fires due escalation timers, delivers the due outbox, plans and fires handoffs, runs
the coverage watch, asks for cover ahead of away periods, delivers what they queued and seals
the new audit events, then sleeps until the next one is due.

`run_due` is one pass and is what tests and the console call; `Worker` loops it in `chatops
worker` (and inside `chatops serve`), sleeping until the nearest `due_at` but never more than a
few seconds, so a timer written by another process is noticed soon. Several workers may run on
PostgreSQL (claims skip locked rows); on SQLite run one.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from threading import Event

from sqlalchemy import func
from sqlmodel import col, select

from chatops import audit
from chatops.blockkit import Reply
from chatops.cases import legal, wellbeing
from chatops.cases.firing import fire_due_timers
from chatops.clock import Clock, system_clock
from chatops.db import Database, as_utc
from chatops.escalation.models import EscalationTimer
from chatops.handoff.service import DEFAULT as DEFAULT_HANDOFFS
from chatops.handoff.service import HandoffSettings, fire_due, plan_all
from chatops.handoff.service import next_due as next_handoff_due
from chatops.heartbeat import Heartbeat
from chatops.oncall.away import run_cover_requests
from chatops.oncall.boundaries import next_boundary
from chatops.oncall.cache import Rotas, team_rota
from chatops.oncall.usergroup import OncallGroup
from chatops.oncall.usergroup import sync as sync_oncall_group
from chatops.oncall.watch import DEFAULT_WATCH, WatchSettings, next_firing, run_watch
from chatops.outbox import queue as outbox
from chatops.outbox.delivery import SEND_TIMEOUT, deliver_due
from chatops.outbox.notifier import ConsoleNotifier, Notifier, SlackNotifier
from chatops.outbox.ratelimits import limited_until
from chatops.outbox.usergroups import SlackGroups
from chatops.settings import Settings
from rota.models import Team

log = logging.getLogger(__name__)

#: Longest sleep between passes, so rows written by other processes are seen soon.
MAX_SLEEP = 5.0


def new_worker_id() -> str:
    """Unique per process and start: the fencing of claims relies on it."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def run_due(
    db: Database,
    clock: Clock,
    notifier: Notifier,
    *,
    worker_id: str,
    limit: int = 100,
    handoffs: HandoffSettings = DEFAULT_HANDOFFS,
    watch: WatchSettings = DEFAULT_WATCH,
    stopping: Callable[[], bool] | None = None,
    oncall_group: OncallGroup | None = None,
) -> int:
    """One pass: fire due timers, queue due reporting reminders and exposure cap notes, deliver
    the due outbox (the new pages too), then run the handoffs and the coverage watch and deliver
    again what they queued, and last seal the audit events written so far (not counted: sealing
    makes no new work); returns how much was done (0: quiet). Delivering before the handoff
    steps keeps pages from waiting on them. Once `stopping()` is true (SIGTERM) delivery hands
    back what it has not sent and the pass ends after its current step."""
    fired = fire_due_timers(db, now=clock(), worker_id=worker_id, limit=limit)
    fired += legal.queue_due_reminders(db, now=clock(), limit=limit)
    fired += wellbeing.send_cap_notes(db, now=clock())
    fired += deliver_due(
        db, clock=clock, notifier=notifier, worker_id=worker_id, limit=limit, stopping=stopping
    )
    if stopping is not None and stopping():
        return fired
    done = fired + run_handoffs_due(
        db,
        clock,
        notifier,
        worker_id=worker_id,
        settings=handoffs,
        watch=watch,
        limit=limit,
        stopping=stopping,
    )
    if oncall_group is not None:
        done += sync_oncall_group(db, oncall_group, now=clock())
    audit.seal_quietly(db, now=clock())
    return done


def next_due(db: Database) -> datetime | None:
    """The nearest instant at which a message, a timer or a handoff needs the worker."""
    with db.transaction() as session:
        message = outbox.next_due(session)
        timer = session.exec(select(func.min(col(EscalationTimer.due_at)))).one()
        reminder = legal.next_due(session)
    if message is not None:
        # While Slack's rate limit holds, due messages wait for its end (no worker calls).
        limit = limited_until(db, now=as_utc(message))
        message = limit if limit is not None else message
    found = [d for d in (message, timer, reminder, next_handoff_due(db)) if d is not None]
    if not found:
        return None
    return min(as_utc(d) for d in found)


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
        oncall_group: OncallGroup | None = None,
    ) -> None:
        self.db, self.notifier, self.clock = db, notifier, clock
        self.handoffs, self.watch = handoffs, watch
        self.oncall_group = oncall_group
        self.worker_id = worker_id or new_worker_id()
        self.batch, self.max_sleep = batch, max_sleep
        self.heartbeat = Heartbeat(db, self.worker_id)  # for /readyz on every replica
        self.stopping = threading.Event()
        self._wake = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Stop claiming; the pass under way finishes the message in flight and hands the rest
        of its batch back (graceful SIGTERM), then `run` returns."""
        self.stopping.set()
        self._wake.set()

    def run(self) -> None:
        log.info("worker started", extra={"worker": self.worker_id})
        while not self.stopping.is_set():
            self._wake.clear()
            self.heartbeat(self.clock())
            try:
                done = run_due(
                    self.db,
                    self.clock,
                    self.notifier,
                    worker_id=self.worker_id,
                    limit=self.batch,
                    handoffs=self.handoffs,
                    watch=self.watch,
                    stopping=self.stopping.is_set,
                    oncall_group=self.oncall_group,
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


def run_handoffs_due(
    db: Database,
    clock: Clock,
    notifier: Notifier,
    *,
    worker_id: str,
    settings: HandoffSettings = DEFAULT_HANDOFFS,
    watch: WatchSettings = DEFAULT_WATCH,
    limit: int = 100,
    stopping: Callable[[], bool] | None = None,
) -> int:
    """One pass; returns how many steps fired and messages were attempted (0: quiet)."""
    now = clock()
    rotas: Rotas = {}
    plan_all(db, now=now, settings=settings, rotas=rotas)
    done = fire_due(db, now=now, worker_id=worker_id, limit=limit, rotas=rotas)
    done += run_watch(db, now=now, worker_id=worker_id, settings=watch)
    done += len(run_cover_requests(db, now=now, worker_id=worker_id))
    return done + deliver_due(
        db, clock=clock, notifier=notifier, worker_id=worker_id, limit=limit, stopping=stopping
    )


def next_wakeup(
    db: Database,
    *,
    now: datetime,
    settings: HandoffSettings = DEFAULT_HANDOFFS,
    watch: WatchSettings = DEFAULT_WATCH,
    rotas: Rotas | None = None,
) -> datetime | None:
    """The nearest instant at which a pass has work: a due row, a boundary to plan, a watch.

    `rotas` may carry rotas already read (a caller that knows the rota has not changed).
    """
    found = [
        d
        for d in (
            next_due(db),
            next_firing(db, now=now, settings=watch),
            wellbeing.next_cap_at(db, now=now),
        )
        if d is not None
    ]
    with db.transaction() as session:
        for team in session.exec(select(Team)):
            b = next_boundary(team_rota(session, team, rotas), now + settings.reminder)
            if b is not None:
                found.append(max(b.at - settings.reminder, now + timedelta(seconds=1)))
    return min(found) if found else None


def handoff_settings(settings: Settings) -> HandoffSettings:
    return HandoffSettings(
        reminder=settings.duration(settings.handoff_reminder),
        accept_within=settings.duration(settings.handoff_accept_within),
        catch_up=settings.duration(settings.handoff_catch_up),
    )


def watch_settings(settings: Settings) -> WatchSettings:
    return WatchSettings(
        cron=settings.coverage_watch_cron,
        days=settings.coverage_watch_days,
        quiet=settings.coverage_watch_quiet,
        enabled=settings.coverage_watch,
    )


def slack_notifier(settings: Settings) -> SlackNotifier:
    assert settings.slack_bot_token is not None
    return SlackNotifier(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=SEND_TIMEOUT,  # below the lease margin: a claim outlives its message's call
    )


def make_worker(
    settings: Settings, db: Database, notifier: Notifier, *, clock: Clock = system_clock
) -> Worker:
    return Worker(
        db,
        notifier,
        clock=clock,
        handoffs=handoff_settings(settings),
        watch=watch_settings(settings),
        oncall_group=oncall_group_of(settings, notifier),
    )


def oncall_group_of(settings: Settings, notifier: Notifier) -> OncallGroup | None:
    """The @ts-oncall group to keep, when CHATOPS_ONCALL_GROUP is set and Slack is there."""
    if settings.oncall_group is None or not isinstance(notifier, SlackNotifier):
        return None
    return OncallGroup(
        group_id=settings.oncall_group,
        writer=SlackGroups(notifier),
        layer=settings.oncall_group_layer,
        team=settings.team,
    )


def run_worker_until(settings: Settings, db: Database) -> Callable[[Event], None]:
    """For `serve(run_worker=...)`: run a Slack worker in this thread until `stop` is set."""

    def run(stop: Event) -> None:
        worker = make_worker(settings, db, slack_notifier(settings))
        thread = worker.start()
        stop.wait()
        worker.stop()
        thread.join(timeout=10)

    return run
