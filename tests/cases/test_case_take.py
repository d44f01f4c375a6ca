"""The Take case button (`case.take`) on both databases, through `dispatch_action` as Slack runs it.

Taking makes the clicker the assignee and acknowledges a case that is still open, with one audit
event in the same transaction; a restricted case may be taken only by those it was given to.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from chatops.audit import AuditEvent
from chatops.blockkit import Reply
from chatops.cases.models import Case
from chatops.cases.timers import pending_timer
from chatops.db import Database
from chatops.escalation.messages import TAKE_ACTION
from chatops.escalation.models import PageKind
from chatops.outbox.models import OutboxMessage
from commands.registry import dispatch, dispatch_action
from tests.support.case_world import ANN, BEN, CAT, DAN, EVE, World, counts, make_world, snapshot


@pytest.fixture
def world(db: Database) -> World:
    return make_world(db)


def run(world: World, text: str, who: str = ANN) -> Reply:
    return dispatch(text, world.context(who))


def take(world: World, who: str, key: str = "TS-2027-0001") -> Reply:
    return dispatch_action(TAKE_ACTION, key, world.context(who))


def case_row(world: World) -> Case:
    with world.db.transaction() as session:
        case = session.exec(select(Case)).one()
        session.expunge(case)
    return case


def take_audits(world: World) -> list[dict[str, object]]:
    with world.db.transaction() as session:
        rows = session.exec(select(AuditEvent).where(AuditEvent.action == "case.take")).all()
        return [{"actor": r.actor, **json.loads(r.detail)} for r in rows]


def _action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def test_the_channel_announcement_offers_take_case(world: World) -> None:
    run(world, "case open harassment sev3 Doxxing thread")
    with world.db.transaction() as session:
        buttons = {
            p.kind: _action_ids(json.loads(p.blocks)) for p in session.exec(select(OutboxMessage))
        }
    assert buttons[PageKind.channel.value] == ["case.ack", "case.escalate", TAKE_ACTION]
    assert buttons[PageKind.dm.value] == ["case.ack", "case.escalate"]


def test_taking_an_open_case_assigns_and_acknowledges_it(world: World) -> None:
    run(world, "case open harassment sev2 Pile-on against an editor")

    reply = take(world, BEN)

    assert reply.ok
    assert reply.text == ":raised_hand: TS-2027-0001 is yours now; its escalation is stopped."
    assert [p.text for p in reply.posts] == [
        ":raised_hand: TS-2027-0001 · harassment · sev2 taken by <@U0BEN>."
    ]
    case = case_row(world)
    assert (case.assignee, case.status, case.acknowledged_by) == (BEN, "acknowledged", BEN)
    with world.db.transaction() as session:
        assert case.id is not None
        assert pending_timer(session, case_id=case.id) is None
    assert take_audits(world) == [
        {"actor": BEN, "from": None, "acknowledged": True, "timers_cancelled": 1}
    ]
    world.clock.advance(timedelta(hours=1))
    world.tick()
    assert world.dms() == [ANN]  # the first page only: the ladder stopped


def test_taking_an_acknowledged_case_only_changes_hands(world: World) -> None:
    run(world, "case open harassment sev2 Pile-on against an editor")
    run(world, "ack TS-2027-0001", who=ANN)

    assert take(world, BEN).ok

    case = case_row(world)
    assert (case.assignee, case.status, case.acknowledged_by) == (BEN, "acknowledged", ANN)
    assert take_audits(world) == [
        {"actor": BEN, "from": ANN, "acknowledged": False, "timers_cancelled": 0}
    ]


def test_a_restricted_case_is_taken_only_by_those_it_was_given_to(world: World) -> None:
    run(world, "case open self-harm sev2 User posted a goodbye note")
    before, rows = counts(world.db), snapshot(world.db)

    refused = take(world, EVE)

    assert not refused.ok
    assert refused.text == (
        ":warning: TS-2027-0001 is restricted: you have not been given access; "
        "ask the on-call responder or a manager"
    )
    assert "goodbye" not in refused.text
    # Nothing changes but the audit trail, which records the refused attempt (need-to-know).
    assert snapshot(world.db) == rows
    assert counts(world.db) == before | {"AuditEvent": before["AuditEvent"] + 1}
    assert not take(world, CAT).ok  # a manager not given the case may not either
    assert take(world, DAN).ok  # an admin may
    assert case_row(world).assignee == DAN


@pytest.mark.parametrize(
    ("setup", "who", "reason"),
    [
        (["ack TS-2027-0001"], ANN, "TS-2027-0001 is already yours"),
        (["case resolve TS-2027-0001"], BEN, "TS-2027-0001 is resolved; there is nothing to take"),
    ],
)
def test_refusals_change_nothing(world: World, setup: list[str], who: str, reason: str) -> None:
    run(world, "case open harassment sev3 Doxxing thread")
    for line in setup:
        assert run(world, line).ok
    before, rows = counts(world.db), snapshot(world.db)

    refused = take(world, who)

    assert not refused.ok
    assert refused.text == f":warning: {reason}"
    assert (counts(world.db), snapshot(world.db)) == (before, rows)


def test_a_stranger_cannot_take_a_case(world: World) -> None:
    run(world, "case open harassment sev3 Doxxing thread")

    refused = dispatch_action(TAKE_ACTION, "TS-2027-0001", world.context(None))

    assert not refused.ok and "not a member" in refused.text
    assert case_row(world).assignee is None
