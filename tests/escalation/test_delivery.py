"""Pages to the fake Slack Web API: retries, Retry-After, and privacy.

Every test runs through the worker's one Web API client (httpx, connections kept open).
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from sqlmodel import select

from chatops.audit import AuditEvent
from chatops.cases import lookup
from chatops.db import Database
from chatops.outbox.models import OutboxMessage, OutboxState, SlackRateLimit
from chatops.outbox.notifier import SlackNotifier
from chatops.outbox.ratelimits import RATE_SCOPE
from commands.registry import dispatch
from tests.support.case_world import ANN, BEN, CAT, CHANNEL, NOW, World, escalation_pass, make_world
from tests.support.fakeslack import FakeSlack, fake_slack, ok, rate_limited, server_error

__all__ = ["fake_slack"]  # the fixture, imported for pytest


@pytest.fixture(params=["httpx"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def slack_world(db: Database, fake: FakeSlack, transport: str) -> tuple[World, SlackNotifier]:
    world = make_world(db)
    assert transport == "httpx"
    return world, SlackNotifier(token="xoxb-test", base_url=fake.api_url)


def drain(world: World, notifier: SlackNotifier) -> None:
    while escalation_pass(world.db, world.clock, notifier, worker_id="w1"):
        pass


def dm_calls(fake: FakeSlack, who: str) -> int:
    return sum(c.args.get("channel") == who for c in fake.calls_to("chat.postMessage"))


def test_429_then_500_then_ok_delivers_once_and_late(
    sqlite_db: Database, fake_slack: FakeSlack, transport: str
) -> None:
    world, notifier = slack_world(sqlite_db, fake_slack, transport)
    fake_slack.script("chat.postMessage", rate_limited(30), server_error(500))
    dispatch("case open harassment sev1 Pile-on", world.context(ANN))
    drain(world, notifier)
    assert dm_calls(fake_slack, ANN) == 1  # 429: the channel post waits too
    assert fake_slack.calls_to("chat.postMessage")[0].args["channel"] == ANN
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    with sqlite_db.transaction() as session:
        page = session.exec(select(OutboxMessage).where(OutboxMessage.recipient == ANN)).one()
        assert page.state == OutboxState.pending.value
        assert page.due_at is not None and page.due_at <= NOW  # keeps its place: first at 30 s
        assert page.failures == 0  # a 429 is not a failure
        limit = session.get(SlackRateLimit, RATE_SCOPE)
        assert limit is not None and limit.until == NOW + timedelta(seconds=30)
    world.clock.advance(timedelta(seconds=29))
    drain(world, notifier)
    assert len(fake_slack.calls_to("chat.postMessage")) == 1  # not before Retry-After
    world.clock.advance(timedelta(seconds=1))
    drain(world, notifier)
    # The 500, then the channel post is ok: Slack is back, so the DM is due at once again
    # (not after its 5 s backoff) and goes in the same pass.
    assert dm_calls(fake_slack, ANN) == 3
    assert dm_calls(fake_slack, CHANNEL) == 1  # the channel post, ok
    world.clock.advance(timedelta(minutes=4))  # still inside level 1's 5 minutes
    drain(world, notifier)
    assert dm_calls(fake_slack, ANN) == 3  # delivered once: no more sends
    with sqlite_db.transaction() as session:
        page = session.exec(select(OutboxMessage).where(OutboxMessage.recipient == ANN)).one()
        assert page.state == OutboxState.sent.value
        assert page.sent_at == NOW + timedelta(seconds=30)
        assert page.attempts == 3 and page.failures == 0  # reset by the recovery
        retries = session.exec(select(AuditEvent).where(AuditEvent.action == "page.retry")).all()
        assert [json.loads(r.detail)["error"] for r in retries] == ["ratelimited", "http 500"]


def test_ok_false_is_not_delivered(
    sqlite_db: Database, fake_slack: FakeSlack, transport: str
) -> None:
    from tests.support.fakeslack import error

    world, notifier = slack_world(sqlite_db, fake_slack, transport)
    fake_slack.script("chat.postMessage", error("channel_not_found"), ok())
    dispatch("case open harassment sev1 Pile-on", world.context(ANN))
    drain(world, notifier)
    with sqlite_db.transaction() as session:
        page = session.exec(select(OutboxMessage).where(OutboxMessage.recipient == ANN)).one()
        assert page.state == OutboxState.pending.value and page.last_error == "channel_not_found"
    world.clock.advance(timedelta(seconds=5))
    drain(world, notifier)
    with sqlite_db.transaction() as session:
        page = session.exec(select(OutboxMessage).where(OutboxMessage.recipient == ANN)).one()
        assert page.state == OutboxState.sent.value


SECRET_SUMMARY = "Kid-in-danger-SUMMARY-7731"
SECRET_DETAILS = "home-address-DETAILS-4410"
SECRET_NOTE = "police-ref-NOTE-9902"
SECRET_REASON = "school-name-REASON-5512"


def test_restricted_case_text_never_reaches_a_channel_or_a_log(
    sqlite_db: Database, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture, transport: str
) -> None:
    caplog.set_level(logging.DEBUG)
    world, notifier = slack_world(sqlite_db, fake_slack, transport)
    opened = dispatch(
        f'case open child-safety sev1 {SECRET_SUMMARY} details:"{SECRET_DETAILS}"',
        world.context(ANN),
    )
    assert opened.ok
    drain(world, notifier)
    dispatch(f"case note TS-2027-0001 {SECRET_NOTE}", world.context(ANN))
    dispatch(f"escalate TS-2027-0001 {SECRET_REASON}", world.context(ANN))
    fake_slack.script("chat.postMessage", server_error(500))
    drain(world, notifier)
    world.clock.advance(timedelta(minutes=30))
    drain(world, notifier)
    shown = dispatch("case show TS-2027-0001", world.context(CAT))
    assert SECRET_DETAILS in shown.text  # managers may read it…
    with sqlite_db.transaction() as session:
        case = lookup.get_case(session, team_id=world.team_id, key="TS-2027-0001")
        assert case.restricted
        audit = [a.detail + a.subject for a in session.exec(select(AuditEvent))]
    posts = fake_slack.calls_to("chat.postMessage")
    assert {c.args["channel"] for c in posts} >= {ANN, BEN, CAT, CHANNEL}
    channel = [c for c in posts if c.args["channel"] == CHANNEL]
    assert channel and all("TS-2027-0001 · child-safety · sev1" in c.args["text"] for c in channel)
    secrets = (SECRET_SUMMARY, SECRET_DETAILS, SECRET_NOTE, SECRET_REASON)
    for call in posts:  # not in channel posts, and not in DMs either: they point to `case show`
        assert not any(s in json.dumps(call.args) for s in secrets)
    assert not any(s in caplog.text for s in secrets)
    assert not any(
        s in json.dumps(r.__dict__, default=str) for r in caplog.records for s in secrets
    )
    assert not any(s in row for row in audit for s in secrets)


def test_unrestricted_channel_post_carries_the_summary_only(
    sqlite_db: Database, fake_slack: FakeSlack, transport: str
) -> None:
    world, notifier = slack_world(sqlite_db, fake_slack, transport)
    dispatch('case open harassment sev2 Pile-on details:"private-ish"', world.context(ANN))
    drain(world, notifier)
    channel = fake_slack.calls_to("chat.postMessage")[-1]
    assert channel.args["channel"] == CHANNEL
    assert "Pile-on" in json.dumps(channel.args) and "private-ish" not in json.dumps(channel.args)
    assert [e["action_id"] for e in channel.json_arg("blocks")[-1]["elements"]] == [
        "case.ack",
        "case.escalate",
        "case.take",
    ]
