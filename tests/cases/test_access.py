"""Need-to-know (issue #11): a restricted case is read and acted on only by those given it.

Ann reports every case here, so the built-in policy pages her (level 1) and Ben five minutes
later (level 2); Cat (manager) and Eve (responder) are never paged unless a test says so. Every
refusal is one line, changes no case, page or timer, and leaves one audit event.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlmodel import col, select

from chatops.audit import AuditEvent
from chatops.blockkit import Reply
from chatops.db import Database
from chatops.escalation.messages import ACK_ACTION, TAKE_ACTION
from chatops.escalation.models import PageKind
from chatops.escalation.pages import add_page
from chatops.outbox.models import OutboxMessage
from chatops.slack.home import my_open_cases
from commands.registry import dispatch, dispatch_action
from rota.spec import RotaSpec
from tests.support.case_world import (
    ANN,
    BEN,
    CAT,
    DAN,
    EVE,
    World,
    counts,
    make_world,
    snapshot,
    team_spec,
)

KEY = "TS-2027-0001"
SECRET = "Material reported on Commons"
REFUSAL = (
    ":warning: TS-2027-0001 is restricted: you have not been given access; "
    "ask the on-call responder or a manager"
)


@pytest.fixture
def world(db: Database) -> World:
    return make_world(db)


def run(world: World, text: str, who: str = ANN) -> Reply:
    return dispatch(text, world.context(who))


def open_restricted(world: World) -> None:
    assert run(world, f'case open child-safety sev1 {SECRET} details:"account X"').ok


def audits(world: World, action: str) -> list[AuditEvent]:
    with world.db.transaction() as session:
        query = select(AuditEvent).where(AuditEvent.action == action)
        return list(session.exec(query.order_by(col(AuditEvent.id))))


def sees(world: World, who: str) -> bool:
    shown = run(world, f"case show {KEY}", who=who)
    assert shown.ok, shown.text
    return SECRET in shown.text or SECRET in str(shown.blocks)


def assert_refused_and_unchanged(world: World, reply: Reply, before: dict[str, int]) -> None:
    assert not reply.ok
    assert reply.text == REFUSAL
    assert SECRET not in reply.text
    assert counts(world.db) == before | {"AuditEvent": before["AuditEvent"] + 1}


@pytest.mark.parametrize("how", ["typed", "button"])
def test_a_member_never_paged_cannot_ack_a_restricted_case(world: World, how: str) -> None:
    open_restricted(world)
    before, rows = counts(world.db), snapshot(world.db)

    reply = (
        run(world, f"ack {KEY}", who=EVE)
        if how == "typed"
        else dispatch_action(ACK_ACTION, KEY, world.context(EVE))
    )

    assert_refused_and_unchanged(world, reply, before)
    assert snapshot(world.db) == rows  # still open, nobody assigned
    (refused,) = audits(world, "case.refused")
    assert (refused.actor, refused.subject, json.loads(refused.detail)) == (
        EVE,
        KEY,
        {"attempted": "acknowledge"},
    )
    assert not sees(world, EVE)
    world.tick()
    world.dms()
    world.clock.advance(timedelta(minutes=5))
    world.tick()
    assert world.dms() == [BEN]  # the sev1 ladder was not stopped


def test_escalating_to_yourself_without_access_grants_nothing(world: World) -> None:
    open_restricted(world)
    before, rows = counts(world.db), snapshot(world.db)

    reply = run(world, f"escalate {KEY} to @Eve", who=EVE)

    assert_refused_and_unchanged(world, reply, before)
    assert snapshot(world.db) == rows
    assert not sees(world, EVE)
    world.tick()
    assert EVE not in world.dms()


def test_escalating_to_a_member_by_someone_with_access_gives_them_the_case(world: World) -> None:
    open_restricted(world)
    assert not sees(world, EVE)
    assert run(world, f"escalate {KEY} to @Eve needs a second reviewer", who=ANN).ok
    assert sees(world, EVE)
    with world.db.transaction() as session:
        (page,) = session.exec(select(OutboxMessage).where(OutboxMessage.recipient == EVE)).all()
    assert (page.role, page.paged_by, page.grants_access) == ("direct", ANN, True)


@pytest.mark.parametrize(
    ("line", "attempted"),
    [
        (f"case note {KEY} I looked anyway", "note"),
        (f"case assign {KEY} @Eve", "assign"),
        (f"case resolve {KEY} nothing to see", "resolve"),
        (f"escalate {KEY}", "escalate"),
        (f"escalate {KEY} level 3", "escalate"),
        (f"case edit {KEY} sev sev1", "edit"),
        (f"case edit {KEY} type other", "edit"),
    ],
)
def test_acting_on_a_restricted_case_needs_access(world: World, line: str, attempted: str) -> None:
    open_restricted(world)
    before, rows = counts(world.db), snapshot(world.db)
    # Cat is a manager, yet was not given the case.
    reply = run(world, line, who=CAT)
    assert_refused_and_unchanged(world, reply, before)
    assert snapshot(world.db) == rows
    (refused,) = audits(world, "case.refused")
    assert json.loads(refused.detail) == {"attempted": attempted}
    assert "I looked" not in refused.detail and "nothing to see" not in refused.detail


def test_take_button_without_access_is_refused_and_audited(world: World) -> None:
    open_restricted(world)
    before = counts(world.db)
    reply = dispatch_action(TAKE_ACTION, KEY, world.context(EVE))
    assert_refused_and_unchanged(world, reply, before)


def test_every_look_at_a_restricted_case_is_audited_without_its_text(world: World) -> None:
    open_restricted(world)
    shown = run(world, f"case show {KEY}", who=EVE)
    assert shown.ok
    assert REFUSAL.removeprefix(":warning: ") in shown.text
    assert SECRET not in str(shown.blocks) and "account X" not in str(shown.blocks)
    assert sees(world, ANN)
    refused, allowed = audits(world, "case.view_refused"), audits(world, "case.view_restricted")
    assert [(e.actor, e.subject) for e in refused] == [(EVE, KEY)]
    assert [e.actor for e in allowed] == [ANN]
    assert SECRET not in str([e.detail for e in refused + allowed])


def test_unrestricted_cases_stay_the_whole_teams(world: World) -> None:
    assert run(world, "case open harassment sev3 Doxxing thread").ok
    assert "Doxxing thread" in run(world, f"case show {KEY}", who=EVE).text
    assert run(world, f"ack {KEY}", who=EVE).ok
    assert audits(world, "case.view_refused") == audits(world, "case.refused") == []


def test_the_reviewer_group_of_the_cases_type_sees_and_acts(db: Database) -> None:
    spec = RotaSpec.model_validate(
        {**team_spec().model_dump(), "groups": {"child-safety": [EVE], "self-harm": [CAT]}}
    )
    world = make_world(db, spec)
    open_restricted(world)
    assert sees(world, EVE)  # reviews child-safety
    assert not sees(world, CAT)  # reviews self-harm only
    assert run(world, f"ack {KEY}", who=EVE).ok


def test_paging_by_policy_reporter_assignee_and_admin_give_access(world: World) -> None:
    open_restricted(world)
    assert sees(world, ANN) and sees(world, DAN)  # reporter (and paged), admin
    assert not sees(world, BEN)
    world.clock.advance(timedelta(minutes=5))
    world.tick()  # the ladder pages Ben: the policy chose him
    assert sees(world, BEN)
    assert run(world, f"case assign {KEY} @Cat", who=ANN).ok  # given by someone with access
    assert sees(world, CAT)


def test_app_home_lists_a_restricted_case_only_to_those_given_it(world: World) -> None:
    open_restricted(world)
    # A direct page from before need-to-know (the migration marks these as giving no access).
    with world.db.transaction() as session:
        (first,) = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.kind == PageKind.dm.value, OutboxMessage.recipient == ANN
            )
        ).all()
        add_page(
            session,
            team_id=first.team_id,
            case_id=first.case_id,
            batch=9,
            step=0,
            level="direct",
            kind=PageKind.dm,
            role="direct",
            recipient=EVE,
            text="x",
            blocks=[],
            at=world.clock(),
            paged_by=EVE,
            grants_access=False,
        )
    assert not sees(world, EVE)
    assert KEY not in str(my_open_cases(world.context(EVE)))
    assert KEY in str(my_open_cases(world.context(ANN)))
