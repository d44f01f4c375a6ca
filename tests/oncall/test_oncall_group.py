"""The @ts-oncall user group follows who is on call, counted at the fake Slack (issue #14).

Over two DST weeks of the example follow-the-sun team (the US change on 2027-03-14, the EU one
on 2027-03-28) the worker's timer is followed from boundary to boundary; a brute-force oracle
samples every minute. The group is pushed exactly once per change, with the oracle's members,
and never when nothing changed (a second pass, a restarted worker).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from chatops.clock import ManualClock
from chatops.db import Database, as_utc
from chatops.oncall.groupstate import OncallGroupState
from chatops.oncall.models import Handoff, HandoffState
from chatops.oncall.usergroup import OncallGroup, sync
from chatops.outbox.notifier import ConsoleNotifier, SlackNotifier
from chatops.outbox.usergroups import SlackGroups
from chatops.worker import run_due
from rota.resolve import compile_rota
from rota.store import save_rota
from tests.support.case_world import QUIET_WATCH
from tests.support.fakeslack import FakeSlack, rate_limited
from tests.support.fakeslack import fake_slack as fake_slack  # the fixture
from tests.support.served import example_rota

GROUP = "S0TSONCALL"
METHOD = "usergroups.users.update"


@pytest.fixture
def notifier(fake_slack: FakeSlack) -> Iterator[SlackNotifier]:
    client = SlackNotifier(token="xoxb-test", base_url=fake_slack.api_url)
    yield client
    client.close()


def oracle(start: datetime, end: datetime, layer: str | None) -> list[tuple[datetime, str]]:
    """Every minute where the on-call set changes, and the set then (brute force)."""
    rota = compile_rota(example_rota())
    out: list[tuple[datetime, str]] = []
    at = start
    while at < end:
        members = ",".join(
            sorted({s.member for s in rota.on_call(at) if layer is None or s.layer == layer})
        )
        if not out or out[-1][1] != members:
            out.append((at, members))
        at += timedelta(minutes=1)
    return out


def next_check(db: Database) -> datetime:
    with db.transaction() as session:
        state = session.exec(select(OncallGroupState)).one()
        assert state.next_check_at is not None
        return as_utc(state.next_check_at)


@pytest.mark.parametrize(
    ("start", "layer"),
    [
        (datetime(2027, 3, 8, tzinfo=UTC), None),
        (datetime(2027, 3, 22, tzinfo=UTC), None),
        (datetime(2027, 3, 22, tzinfo=UTC), "primary"),
    ],
)
def test_one_update_per_change_across_a_dst_week(
    sqlite_db: Database,
    fake_slack: FakeSlack,
    notifier: SlackNotifier,
    start: datetime,
    layer: str | None,
) -> None:
    with sqlite_db.transaction() as session:
        save_rota(session, example_rota())
    end = start + timedelta(days=7)
    group = OncallGroup(GROUP, SlackGroups(notifier), layer=layer, recheck=timedelta(days=30))

    pushed: list[tuple[datetime, str]] = []
    at = start
    while at < end:
        before = len(fake_slack.calls_to(METHOD))
        sync(sqlite_db, group, now=at)
        assert sync(sqlite_db, group, now=at) == 0  # a second pass at once: no call
        calls = fake_slack.calls_to(METHOD)
        assert len(calls) - before <= 1
        if len(calls) > before:
            assert calls[-1].args["usergroup"] == GROUP
            pushed.append((at, calls[-1].args["users"]))
        at = next_check(sqlite_db)

    assert pushed == oracle(start, end, layer)
    assert len(fake_slack.calls_to(METHOD)) == len(pushed)

    # A restarted worker (a new client, the same database) pushes nothing new.
    fresh = OncallGroup(GROUP, SlackGroups(notifier), layer=layer, recheck=timedelta(days=30))
    assert sync(sqlite_db, fresh, now=at - timedelta(seconds=1)) == 0
    assert len(fake_slack.calls_to(METHOD)) == len(pushed)


def test_a_refused_update_is_tried_again_and_only_a_success_is_remembered(
    sqlite_db: Database, fake_slack: FakeSlack, notifier: SlackNotifier
) -> None:
    with sqlite_db.transaction() as session:
        save_rota(session, example_rota())
    at = datetime(2027, 3, 10, 12, tzinfo=UTC)
    group = OncallGroup(GROUP, SlackGroups(notifier))
    fake_slack.script(METHOD, rate_limited(40))
    assert sync(sqlite_db, group, now=at) == 1
    assert sync(sqlite_db, group, now=at + timedelta(seconds=39)) == 0  # waits out Retry-After
    assert sync(sqlite_db, group, now=at + timedelta(seconds=40)) == 1
    assert sync(sqlite_db, group, now=at + timedelta(seconds=41)) == 0
    assert len(fake_slack.calls_to(METHOD)) == 2


def test_the_worker_pass_keeps_the_group(
    db: Database, fake_slack: FakeSlack, notifier: SlackNotifier
) -> None:
    with db.transaction() as session:
        save_rota(session, example_rota())
    clock = ManualClock(datetime(2027, 3, 10, 12, tzinfo=UTC))
    group = OncallGroup(GROUP, SlackGroups(notifier), layer="secondary")
    run_due(db, clock, ConsoleNotifier(), worker_id="w1", watch=QUIET_WATCH, oncall_group=group)
    run_due(db, clock, ConsoleNotifier(), worker_id="w2", watch=QUIET_WATCH, oncall_group=group)
    [call] = fake_slack.calls_to(METHOD)
    expected = oracle(clock(), clock() + timedelta(minutes=1), "secondary")[0][1]
    assert call.args["users"] == expected and call.token == "xoxb-test"


def test_an_outgoing_responder_not_yet_relieved_stays_in_the_group(
    sqlite_db: Database, fake_slack: FakeSlack, notifier: SlackNotifier
) -> None:
    """Secondary hands over on Monday 09:00 UTC; until the incoming accepts, both are in it."""
    with sqlite_db.transaction() as session:
        team = save_rota(session, example_rota())
    assert team.id is not None
    at = datetime(2027, 3, 15, 9, 0, tzinfo=UTC)
    rota = compile_rota(example_rota())
    [before] = [s.member for s in rota.on_call(at - timedelta(minutes=1)) if s.layer == "secondary"]
    [after] = [s.member for s in rota.on_call(at) if s.layer == "secondary"]
    assert before != after
    handoff = Handoff(
        team_id=team.id,
        rotation="secondary",
        layer="secondary",
        at=at,
        incoming=after,
        outgoing=json.dumps([[before, "secondary", at.isoformat()]]),
        until=at + timedelta(days=7),
        state=HandoffState.awaiting.value,
        created_at=at,
    )
    with sqlite_db.transaction() as session:
        session.add(handoff)
    group = OncallGroup(GROUP, SlackGroups(notifier), layer="secondary")
    assert sync(sqlite_db, group, now=at) == 1
    assert fake_slack.calls_to(METHOD)[-1].args["users"] == ",".join(sorted({before, after}))

    with sqlite_db.transaction() as session:
        row = session.exec(select(Handoff)).one()
        row.state = HandoffState.accepted.value
        session.add(row)
    # Accepting is no rota boundary: the group notices within `recheck` (a minute).
    assert sync(sqlite_db, group, now=at + timedelta(seconds=30)) == 0
    assert sync(sqlite_db, group, now=at + timedelta(minutes=1)) == 1
    assert fake_slack.calls_to(METHOD)[-1].args["users"] == after
