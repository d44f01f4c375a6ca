"""Durable timers and claims: restarts, crashes, concurrent workers and concurrent openers."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlmodel import select

from chatops.audit import AuditEvent
from chatops.cases import opening
from chatops.cases.firing import fire_due_timers
from chatops.db import Database, make_engine
from chatops.escalation.models import EscalationTimer, TimerState
from chatops.outbox.claims import LEASE, claim
from chatops.outbox.models import OutboxMessage, OutboxState
from chatops.outbox.notifier import ConsoleNotifier
from tests.support.case_world import ANN, BEN, CAT, CHANNEL, NOW, escalation_pass, make_world
from tests.support.fakeslack import FakeSlack, fake_slack
from tests.support.pages import run_workers, seed_due_pages

__all__ = ["fake_slack"]


def _url(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def test_worker_killed_mid_ladder_loses_nothing_and_doubles_nothing(db: Database) -> None:
    world = make_world(db)
    sent = world.notifier
    with db.transaction() as session:
        opening.open_case(
            session,
            team_id=world.team_id,
            actor=world.actor(ANN),
            at=NOW,
            case_type="terrorism",
            severity="sev1",
            summary="plan posted",
        )
    world.tick("A")
    world.clock.advance(timedelta(minutes=5))
    # Worker A fires level 2, claims its two pages, sends the first and dies before settling.
    assert fire_due_timers(db, now=world.clock(), worker_id="A", limit=10) == 1
    claims = claim(db, now=world.clock(), worker_id="A", limit=10)
    assert [c.recipient for c in claims] == [BEN, CHANNEL]
    sent.send(channel=claims[0].recipient, text=claims[0].text, blocks=claims[0].blocks)
    db.dispose()

    fresh = Database(make_engine(_url(db)))  # a new process: new engine, new worker id
    assert escalation_pass(fresh, world.clock, sent, worker_id="B") == 0  # leases still held
    world.clock.advance(LEASE)
    assert escalation_pass(fresh, world.clock, sent, worker_id="B") == 2  # expired leases: retried
    world.clock.advance(timedelta(minutes=5))
    while escalation_pass(fresh, world.clock, sent, worker_id="B"):
        pass
    counted = Counter(s.channel for s in sent.sent)
    assert counted[ANN] == 1
    assert counted[BEN] == 2  # the one message in flight at the crash, and only it
    assert counted[CAT] == 1
    assert counted[CHANNEL] == 3  # one announcement per level, none doubled
    with fresh.transaction() as session:
        timers = list(session.exec(select(EscalationTimer).order_by(EscalationTimer.id)))
        assert [t.state for t in timers] == [TimerState.fired] * 2 + [TimerState.pending]
        assert [t.fired_by for t in timers[:2]] == ["A", "B"]
        pages = list(session.exec(select(OutboxMessage)))
        assert all(p.state == OutboxState.sent.value for p in pages)
        audits = [a.action for a in session.exec(select(AuditEvent))]
        assert audits.count("case.page") == 3
    fresh.dispose()


def test_a_due_timer_fires_once_among_racing_workers(db: Database) -> None:
    world = make_world(db)
    with db.transaction() as session:
        opening.open_case(
            session,
            team_id=world.team_id,
            actor=world.actor(ANN),
            at=NOW,
            case_type="terrorism",
            severity="sev1",
            summary="plan posted",
        )
    world.clock.advance(timedelta(minutes=5))
    start = threading.Barrier(4)

    def race(n: int) -> int:
        start.wait()
        return fire_due_timers(db, now=world.clock(), worker_id=f"w{n}", limit=10)

    with ThreadPoolExecutor(4) as pool:
        fired = list(pool.map(race, range(4)))
    assert sum(fired) == 1
    with db.transaction() as session:
        to_ben = session.exec(select(OutboxMessage).where(OutboxMessage.recipient == BEN)).all()
    assert len(to_ben) == 1


def test_fifty_concurrent_opens_get_fifty_distinct_ids(db: Database) -> None:
    world = make_world(db)
    actor = world.actor(ANN)

    def open_one(n: int) -> str:
        with db.transaction() as session:
            case, _ = opening.open_case(
                session,
                team_id=world.team_id,
                actor=actor,
                at=NOW,
                case_type="harassment",
                severity="sev3",
                summary=f"report {n}",
            )
            return case.key

    with ThreadPoolExecutor(10) as pool:
        keys = list(pool.map(open_one, range(50)))
    assert len(set(keys)) == 50
    assert sorted(keys) == [f"TS-2027-{n:04d}" for n in range(1, 51)]


def test_three_postgres_workers_send_each_of_1000_pages_exactly_once(
    postgres_url: str, fake_slack: FakeSlack
) -> None:
    from chatops.schema.migrate import upgrade

    db = Database(make_engine(postgres_url))
    upgrade(db.engine)
    seed_due_pages(db, 1000, at=NOW)
    attempts, _ = run_workers(postgres_url, fake_slack.api_url, 3, now=NOW)
    texts = Counter(c.args["text"] for c in fake_slack.calls_to("chat.postMessage"))
    assert attempts == 1000
    assert len(texts) == 1000 and set(texts.values()) == {1}
    with db.transaction() as session:
        states = Counter(p.state for p in session.exec(select(OutboxMessage)))
        workers = Counter(p.claimed_by for p in session.exec(select(OutboxMessage)))
    assert states == {OutboxState.sent.value: 1000}
    assert len(workers) == 3  # all three took a share
    db.dispose()


def test_console_notifier_collects_what_the_console_prints(sqlite_db: Database) -> None:
    from chatops.worker import console_hook

    world = make_world(sqlite_db)
    notifier = ConsoleNotifier()
    tick = console_hook(sqlite_db, world.clock, notifier)
    with sqlite_db.transaction() as session:
        opening.open_case(
            session,
            team_id=world.team_id,
            actor=world.actor(ANN),
            at=NOW,
            case_type="other",
            severity="sev2",
            summary="odd report",
        )
    replies = tick()
    assert [r.text.split(")")[0] for r in replies] == ["(to <@U0ANN>", "(to #C0TEAM"]
    assert tick() == []
