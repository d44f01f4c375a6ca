"""Exactly once across a timeout (issue #13, finding 4): a send in doubt is looked up first.

The worker's delivery step on a real database against tests/support/fakeslack.py, which posts a
message when it receives it and can hold its answer past the client's timeout, as a slow Slack
does. Every message carries its outbox id as metadata; the fake keeps each conversation's
history with it, so a lookup finds what a held answer hid.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import update
from sqlmodel import col, select

from chatops.audit import AuditEvent
from chatops.clock import ManualClock
from chatops.db import Database
from chatops.outbox.delivery import deliver_due
from chatops.outbox.models import OutboxMessage, OutboxState
from chatops.outbox.notifier import METADATA_EVENT, SlackNotifier
from tests.support.case_world import NOW
from tests.support.fakeslack import FakeSlack, delayed, error, fake_slack, rate_limited
from tests.support.pages import seed_due_pages

__all__ = ["fake_slack"]

POST = "chat.postMessage"
HISTORY = "conversations.history"
TIMEOUT = 0.3  # the client's; a held answer comes after it
HELD = 0.8


@pytest.fixture
def notifier(fake_slack: FakeSlack) -> Iterator[SlackNotifier]:
    made = SlackNotifier(token="xoxb-test", base_url=fake_slack.api_url, timeout=TIMEOUT)
    yield made
    made.close()


def _drain(db: Database, clock: ManualClock, notifier: SlackNotifier) -> None:
    """Run delivery passes (moving the clock past backoff) until every row is sent."""
    for _ in range(50):
        deliver_due(db, clock=clock, notifier=notifier, worker_id="w1", limit=100)
        with db.transaction() as session:
            left = session.exec(
                select(OutboxMessage).where(col(OutboxMessage.state) != OutboxState.sent.value)
            ).all()
        if not left:
            return
        clock.advance(timedelta(seconds=5))
    raise AssertionError("messages still unsent")


def _count(name: str) -> float:
    """A page counter's value as /metrics would show it."""
    value = REGISTRY.get_sample_value(f"chatops_outbox_{name}_total", {"topic": "page"})
    return value or 0.0


def _posted(fake: FakeSlack, count: int) -> Counter[str]:
    """How many times each page's text is in its DM's history."""
    return Counter(
        m["text"] for i in range(count) for m in fake.messages_in(f"U{i:07d}") if m.get("text")
    )


def test_held_answers_double_no_page(
    sqlite_db: Database, fake_slack: FakeSlack, notifier: SlackNotifier
) -> None:
    seed_due_pages(sqlite_db, 10, at=NOW)
    clock = ManualClock(NOW)
    fake_slack.clock = lambda: clock().timestamp()
    fake_slack.script(POST, *[delayed(HELD)] * 5)  # posted, answered after the timeout
    before = {name: _count(name) for name in ("in_doubt", "deduplicated")}
    _drain(sqlite_db, clock, notifier)
    # /metrics shows them: five looked up, five found already delivered
    assert {name: _count(name) - before[name] for name in before} == {
        "in_doubt": 5,
        "deduplicated": 5,
    }

    assert _posted(fake_slack, 10) == {f"page-{i}": 1 for i in range(10)}  # 0 duplicates
    assert len(fake_slack.calls_to(POST)) == 10  # no second post of a held one
    posts = fake_slack.calls_to(POST)
    assert all(c.args["metadata"]["event_type"] == METADATA_EVENT for c in posts)
    lookups = fake_slack.calls_to(HISTORY)
    assert len(lookups) == 5  # only the five in doubt were looked up
    assert all(c.args["include_all_metadata"] == "true" for c in lookups)
    assert {c.args["channel"][:1] for c in lookups} == {"D"}  # the DM, opened first
    assert len(fake_slack.calls_to("conversations.open")) == 5
    with sqlite_db.transaction() as session:
        rows = session.exec(select(OutboxMessage)).all()
        delivered = session.exec(
            select(AuditEvent).where(col(AuditEvent.action) == "page.delivered")
        ).all()
    assert {r.state for r in rows} == {OutboxState.sent.value}
    assert all(r.doubt_at is None and r.message_ts for r in rows)
    dedup = [json.loads(a.detail) for a in delivered if "deduplicated" in a.detail]
    assert len(delivered) == 10 and len(dedup) == 5


def test_the_lookup_searches_from_a_little_before_the_send_in_doubt(
    sqlite_db: Database, fake_slack: FakeSlack, notifier: SlackNotifier
) -> None:
    seed_due_pages(sqlite_db, 1, at=NOW)
    clock = ManualClock(NOW)
    fake_slack.clock = lambda: clock().timestamp()
    fake_slack.script(POST, delayed(HELD))
    deliver_due(sqlite_db, clock=clock, notifier=notifier, worker_id="w1", limit=100)
    with sqlite_db.transaction() as session:
        (row,) = session.exec(select(OutboxMessage)).all()
    assert row.doubt_at == NOW and row.state == OutboxState.pending.value
    clock.advance(timedelta(minutes=1))
    _drain(sqlite_db, clock, notifier)
    (lookup,) = fake_slack.calls_to(HISTORY)
    assert float(lookup.args["oldest"]) == (NOW - timedelta(minutes=2)).timestamp()
    assert len(fake_slack.calls_to(POST)) == 1


def test_without_history_scopes_it_says_so_once_and_sends_anyway(
    sqlite_db: Database,
    fake_slack: FakeSlack,
    notifier: SlackNotifier,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    seed_due_pages(sqlite_db, 4, at=NOW)
    clock = ManualClock(NOW)
    fake_slack.clock = lambda: clock().timestamp()
    fake_slack.script(POST, delayed(HELD), delayed(HELD))
    fake_slack.script(HISTORY, error("missing_scope"))
    _drain(sqlite_db, clock, notifier)

    # Today's behaviour without lookups: each held answer makes one duplicate, no more (here
    # both hold page-0: its retry, sent without looking, is held too).
    assert _posted(fake_slack, 4) == {"page-0": 3, "page-1": 1, "page-2": 1, "page-3": 1}
    assert len(fake_slack.calls_to(HISTORY)) == 1  # asked once, then not again
    said = [r for r in caplog.records if "cannot look up messages in doubt" in r.getMessage()]
    assert len(said) == 1
    with sqlite_db.transaction() as session:
        assert {r.state for r in session.exec(select(OutboxMessage))} == {OutboxState.sent.value}


def test_a_lookup_that_fails_looks_again_later_and_never_posts_blind(
    sqlite_db: Database, fake_slack: FakeSlack, notifier: SlackNotifier
) -> None:
    seed_due_pages(sqlite_db, 1, at=NOW)
    clock = ManualClock(NOW)
    fake_slack.clock = lambda: clock().timestamp()
    fake_slack.script(POST, delayed(HELD))
    fake_slack.script(HISTORY, error("internal_error"))
    _drain(sqlite_db, clock, notifier)
    assert len(fake_slack.calls_to(HISTORY)) == 2  # failed, then found it
    assert len(fake_slack.calls_to(POST)) == 1
    assert _posted(fake_slack, 1) == {"page-0": 1}


def test_a_timeout_hands_the_rest_of_the_batch_to_other_workers_at_once(
    sqlite_db: Database, fake_slack: FakeSlack, notifier: SlackNotifier
) -> None:
    seed_due_pages(sqlite_db, 20, at=NOW)
    clock = ManualClock(NOW)
    fake_slack.clock = lambda: clock().timestamp()
    fake_slack.script(POST, delayed(HELD))
    assert deliver_due(sqlite_db, clock=clock, notifier=notifier, worker_id="w1", limit=100) == 1
    with sqlite_db.transaction() as session:
        states = Counter(r.state for r in session.exec(select(OutboxMessage)))
    assert states == {OutboxState.pending.value: 20}  # none held by the slow worker
    # Another worker (or this one's next pass) sends the other 19 at once, in order; Slack
    # answering again ends page-0's backoff, and it is found already posted, not sent again.
    assert deliver_due(sqlite_db, clock=clock, notifier=notifier, worker_id="w2", limit=100) == 20
    assert [c.args["text"] for c in fake_slack.calls_to(POST)] == [f"page-{i}" for i in range(20)]
    assert len(fake_slack.calls_to(HISTORY)) == 1


def test_a_channel_post_in_doubt_is_looked_up_in_the_channel_itself(
    sqlite_db: Database, fake_slack: FakeSlack, notifier: SlackNotifier
) -> None:
    seed_due_pages(sqlite_db, 1, at=NOW)
    with sqlite_db.transaction() as session:
        session.execute(update(OutboxMessage).values(recipient="C0TEAM"))
    clock = ManualClock(NOW)
    fake_slack.clock = lambda: clock().timestamp()
    fake_slack.script(POST, delayed(HELD))
    _drain(sqlite_db, clock, notifier)
    (lookup,) = fake_slack.calls_to(HISTORY)
    assert lookup.args["channel"] == "C0TEAM"
    assert fake_slack.calls_to("conversations.open") == []
    assert [m["text"] for m in fake_slack.messages_in("C0TEAM")] == ["page-0"]


def test_a_rate_limited_lookup_waits_for_retry_after_then_finds_the_message(
    sqlite_db: Database, fake_slack: FakeSlack, notifier: SlackNotifier
) -> None:
    seed_due_pages(sqlite_db, 1, at=NOW)
    clock = ManualClock(NOW)
    fake_slack.clock = lambda: clock().timestamp()
    fake_slack.script(POST, delayed(HELD))
    fake_slack.script(HISTORY, rate_limited(20))
    deliver_due(sqlite_db, clock=clock, notifier=notifier, worker_id="w1", limit=100)
    clock.advance(timedelta(seconds=5))  # the backoff after the timeout
    deliver_due(sqlite_db, clock=clock, notifier=notifier, worker_id="w1", limit=100)
    assert len(fake_slack.calls_to(HISTORY)) == 1  # 429: due again when it ends
    clock.advance(timedelta(seconds=19))
    deliver_due(sqlite_db, clock=clock, notifier=notifier, worker_id="w1", limit=100)
    assert len(fake_slack.calls_to(HISTORY)) == 1  # not before Retry-After
    clock.advance(timedelta(seconds=1))
    deliver_due(sqlite_db, clock=clock, notifier=notifier, worker_id="w1", limit=100)
    assert len(fake_slack.calls_to(HISTORY)) == 2
    assert len(fake_slack.calls_to(POST)) == 1
    with sqlite_db.transaction() as session:
        (row,) = session.exec(select(OutboxMessage)).all()
    assert (row.state, row.failures) == (OutboxState.sent.value, 1)  # the 429 was no failure


def test_a_conversation_that_cannot_be_read_is_sent_to_rather_than_held_back(
    sqlite_db: Database, fake_slack: FakeSlack, notifier: SlackNotifier
) -> None:
    seed_due_pages(sqlite_db, 1, at=NOW)
    clock = ManualClock(NOW)
    fake_slack.clock = lambda: clock().timestamp()
    fake_slack.script(POST, delayed(HELD))
    fake_slack.script(HISTORY, error("not_in_channel"))
    _drain(sqlite_db, clock, notifier)
    assert len(fake_slack.calls_to(POST)) == 2  # at most one duplicate, never silent
    assert notifier.history_unavailable is False  # only this conversation could not be read
