"""Delivery when Slack or a worker misbehaves (issue #13), with real workers and the fake Slack.

Each test drives `deliver_due` (the worker's delivery step) on a real database against
tests/support/fakeslack.py with scripted 429s and 500s, on an injected clock.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlmodel import col, select

from chatops.blockkit import Block
from chatops.cases import opening
from chatops.clock import ManualClock
from chatops.db import Database, make_engine
from chatops.escalation.pages import URGENT_MAX_BACKOFF_S
from chatops.outbox.claims import LEASE, claim
from chatops.outbox.delivery import deliver_due
from chatops.outbox.models import OutboxMessage, OutboxState
from chatops.outbox.notifier import Lookup, Outcome, SlackNotifier
from chatops.outbox.ratelimits import RATE_SCOPE, hold
from chatops.outbox.settle import retry_delay
from chatops.worker import next_due
from tests.support.case_world import ANN, NOW, make_world
from tests.support.fakeslack import FakeSlack, fake_slack, rate_limited, server_error
from tests.support.pages import seed_due_pages

__all__ = ["fake_slack"]

POST = "chat.postMessage"


@pytest.fixture
def notifiers(fake_slack: FakeSlack) -> Iterator[list[SlackNotifier]]:
    made = [SlackNotifier(token="xoxb-test", base_url=fake_slack.api_url) for _ in range(3)]
    yield made
    for n in made:
        n.close()


def _deliver(db: Database, clock: ManualClock, notifier: SlackNotifier, worker: str) -> int:
    return deliver_due(db, clock=clock, notifier=notifier, worker_id=worker, limit=100)


def _rows(db: Database) -> list[OutboxMessage]:
    with db.transaction() as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))


def _texts(fake: FakeSlack) -> list[str]:
    return [c.args["text"] for c in fake.calls_to(POST)]


def test_a_429_seen_by_one_worker_holds_all_three_until_retry_after(
    postgres_url: str, fake_slack: FakeSlack, notifiers: list[SlackNotifier]
) -> None:
    from chatops.schema.migrate import upgrade

    db = Database(make_engine(postgres_url))
    upgrade(db.engine)
    seed_due_pages(db, 20, at=NOW)
    clock = ManualClock(NOW)
    fake_slack.script(POST, rate_limited(2))
    assert _deliver(db, clock, notifiers[0], "w1") == 1  # the 429 ends its pass
    assert len(fake_slack.calls_to(POST)) == 1
    assert next_due(db) == NOW + timedelta(seconds=2)  # every worker sleeps until it ends

    clock.advance(timedelta(milliseconds=1900))
    start = threading.Barrier(3)

    def race(n: int) -> int:
        start.wait()
        return _deliver(db, clock, notifiers[n], f"w{n + 1}")

    results: list[int] = []
    threads = [threading.Thread(target=lambda n=n: results.append(race(n))) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [0, 0, 0]
    assert len(fake_slack.calls_to(POST)) == 1  # no worker called Slack inside the 2 s

    clock.advance(timedelta(milliseconds=100))
    for n in range(3):
        _deliver(db, clock, notifiers[n], f"w{n + 1}")
    texts = _texts(fake_slack)
    # The 429'd page goes first again, then the rest in order: the oldest never go last.
    assert texts[1:] == [f"page-{i}" for i in range(20)]
    assert texts[0] == "page-0"
    assert {r.state for r in _rows(db)} == {OutboxState.sent.value}
    db.dispose()


def test_a_limit_stored_between_passes_holds_the_next_pass(
    db: Database, fake_slack: FakeSlack, notifiers: list[SlackNotifier]
) -> None:
    """A settle reads the shared limit for the next send; a later pass reads it afresh."""
    seed_due_pages(db, 1, at=NOW)
    clock = ManualClock(NOW)
    assert _deliver(db, clock, notifiers[0], "w1") == 1  # its settle saw no limit
    with db.engine.connect() as connection:  # another worker's 429, between the passes
        hold(connection, scope=RATE_SCOPE, until=NOW + timedelta(seconds=2))
    seed_due_pages(db, 1, at=NOW)
    assert _deliver(db, clock, notifiers[0], "w1") == 0
    assert len(fake_slack.calls_to(POST)) == 1


def test_429s_then_a_500_back_off_for_the_500_only(
    sqlite_db: Database, fake_slack: FakeSlack, notifiers: list[SlackNotifier]
) -> None:
    seed_due_pages(sqlite_db, 1, at=NOW)
    clock = ManualClock(NOW)
    fake_slack.script(POST, *[rate_limited(1)] * 4, server_error(500))
    for _ in range(4):
        assert _deliver(sqlite_db, clock, notifiers[0], "w1") == 1
        clock.advance(timedelta(seconds=1))
    assert _deliver(sqlite_db, clock, notifiers[0], "w1") == 1  # the 500
    (page,) = _rows(sqlite_db)
    assert (page.attempts, page.failures, page.last_error) == (5, 1, "http 500")
    assert page.due_at == clock() + timedelta(seconds=5)  # first backoff, not the fifth's 80 s


def test_after_an_outage_every_waiting_page_goes_in_the_pass_that_sees_slack_back(
    db: Database, fake_slack: FakeSlack, notifiers: list[SlackNotifier]
) -> None:
    seed_due_pages(db, 5, at=NOW)
    clock = ManualClock(NOW)
    for wait in (5, 10, 20):  # three failed passes: backoff 5 s, 10 s, then 20 s
        fake_slack.script(POST, *[server_error(500)] * 5)
        assert _deliver(db, clock, notifiers[0], "w1") == 5
        if wait < 20:
            clock.advance(timedelta(seconds=wait))
    assert {r.due_at for r in _rows(db)} == {clock() + timedelta(seconds=20)}
    # Slack is back. A new page (a new case) is queued and goes out; the five waiting pages,
    # due 20 s on, go in the same pass instead of after their backoff.
    clock.advance(timedelta(seconds=1))
    seed_due_pages(db, 1, at=clock())
    assert _deliver(db, clock, notifiers[0], "w1") == 6
    assert len(fake_slack.calls_to(POST)) == 15 + 6
    rows = _rows(db)
    assert Counter(r.state for r in rows) == {OutboxState.sent.value: 6}
    assert {r.sent_at for r in rows} == {clock()}
    assert all(r.failures == 0 for r in rows)


def test_a_message_wrong_in_itself_keeps_its_backoff_when_others_go(
    sqlite_db: Database, fake_slack: FakeSlack, notifiers: list[SlackNotifier]
) -> None:
    from tests.support.fakeslack import error

    seed_due_pages(sqlite_db, 1, at=NOW)
    clock = ManualClock(NOW)
    fake_slack.script(POST, error("channel_not_found"))
    assert _deliver(sqlite_db, clock, notifiers[0], "w1") == 1
    seed_due_pages(sqlite_db, 1, at=clock())
    assert _deliver(sqlite_db, clock, notifiers[0], "w1") == 1  # only the new one
    first = _rows(sqlite_db)[0]
    assert first.state == OutboxState.pending.value
    assert first.due_at == NOW + timedelta(seconds=5)


def test_a_claim_abandoned_mid_batch_is_taken_over_after_the_short_lease(
    postgres_url: str, fake_slack: FakeSlack, notifiers: list[SlackNotifier]
) -> None:
    from chatops.schema.migrate import upgrade

    db = Database(make_engine(postgres_url))
    upgrade(db.engine)
    seed_due_pages(db, 6, at=NOW)
    clock = ManualClock(NOW)
    fake_slack.clock = lambda: clock().timestamp()

    class Dies(Exception):
        pass

    class DiesAfterTwo:
        """Sends two messages, then the worker dies (its pass is cut off mid-batch)."""

        def __init__(self) -> None:
            self.sent = 0

        def send(
            self, *, channel: str, text: str, blocks: list[Block], outbox_id: int | None = None
        ) -> Outcome:
            if self.sent == 2:
                raise Dies
            self.sent += 1
            return notifiers[0].send(channel=channel, text=text, blocks=blocks, outbox_id=outbox_id)

        def find_sent(self, *, channel: str, outbox_id: int, oldest: datetime) -> Lookup:
            return notifiers[0].find_sent(channel=channel, outbox_id=outbox_id, oldest=oldest)

    with pytest.raises(Dies):
        deliver_due(db, clock=clock, notifier=DiesAfterTwo(), worker_id="dead", limit=100)
    assert len(fake_slack.calls_to(POST)) == 2
    clock.advance(LEASE - timedelta(milliseconds=1))
    assert _deliver(db, clock, notifiers[1], "w2") == 0  # still leased
    clock.advance(timedelta(milliseconds=1))
    assert timedelta(seconds=10) >= LEASE
    assert _deliver(db, clock, notifiers[1], "w2") == 4  # taken over ~10 s on, not 60 s
    texts = Counter(_texts(fake_slack))
    assert len(texts) == 6 and set(texts.values()) == {1}  # no duplicates
    # Of the four left "sending" only the first can have been in flight (a worker sends its
    # batch in id order): it alone is looked for in its DM before being sent.
    (lookup,) = fake_slack.calls_to("conversations.history")
    assert lookup.args["channel"] == "D0000002"  # page-2's DM
    db.dispose()


def test_pages_of_urgent_cases_back_off_at_most_30_seconds(sqlite_db: Database) -> None:
    world = make_world(sqlite_db)
    actor = world.actor(ANN)
    with sqlite_db.transaction() as session:
        for severity in ("sev1", "sev3"):
            opening.open_case(
                session,
                team_id=world.team_id,
                actor=actor,
                at=NOW,
                case_type="harassment",
                severity=severity,
                summary="report",
            )
    caps = {(r.case_id, r.max_backoff_s) for r in _rows(sqlite_db)}
    assert caps == {(1, URGENT_MAX_BACKOFF_S), (2, None)}
    assert retry_delay(8, URGENT_MAX_BACKOFF_S) == timedelta(seconds=30)
    assert retry_delay(5) == timedelta(seconds=80)  # the outbox's own cap is 5 minutes


def test_claims_take_the_oldest_due_first(sqlite_db: Database) -> None:
    seed_due_pages(sqlite_db, 3, at=NOW + timedelta(seconds=2))
    seed_due_pages(sqlite_db, 3, at=NOW)
    taken = claim(sqlite_db, now=NOW + timedelta(seconds=5), worker_id="w1", limit=3)
    assert [c.text for c in taken] == ["page-0", "page-1", "page-2"]
    assert {c.id for c in taken} == {4, 5, 6}


def test_of_a_dead_workers_rows_only_the_first_can_be_in_doubt(db: Database) -> None:
    seed_due_pages(db, 6, at=NOW)
    dead = claim(db, now=NOW, worker_id="dead", limit=6)
    later = NOW + LEASE
    taken = [c for _ in range(3) for c in claim(db, now=later, worker_id="w2", limit=2)]
    assert sorted(c.id for c in taken) == sorted(c.id for c in dead)
    doubted = [c.id for c in taken if c.doubt_at is not None]
    # The lowest id is the one that may have been in flight; each claim of part of the batch
    # marks at most its own lowest (an extra lookup, never a missed one).
    assert min(c.id for c in dead) in doubted and len(doubted) <= 3
    assert {c.doubt_at for c in taken if c.doubt_at is not None} == {NOW + LEASE}
