"""`/ts case`, `/ts ack`, `/ts escalate`, `/ts policy` through `dispatch`, as Slack runs them.

Every refusal is one exact line and changes nothing: rows and audit events are counted before
and after.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from chatops.audit import AuditEvent
from chatops.blockkit import Reply
from chatops.cases.models import Case
from chatops.db import Database
from commands.forms import form_for_command
from commands.registry import dispatch, dispatch_action
from tests.support.case_world import (
    ANN,
    BEN,
    CAT,
    DAN,
    EVE,
    OUTSIDER,
    World,
    counts,
    make_world,
    snapshot,
)


@pytest.fixture
def world(sqlite_db: Database) -> World:
    return make_world(sqlite_db)


def run(world: World, text: str, who: str = ANN) -> Reply:
    return dispatch(text, world.context(who))


def first_line(reply: Reply) -> str:
    return reply.text.splitlines()[0]


def test_open_pages_level_one_and_names_the_next_escalation(world: World) -> None:
    reply = run(world, "case open threat-of-violence sev1 Threat against a meetup lang:en")
    assert reply.ok
    assert reply.text.startswith(
        ":white_check_mark: Opened *TS-2027-0001 · threat-of-violence · sev1*. "
        "Paged level 1: <@U0ANN>. Next level at 2027-03-20 13:05 CET (UTC+01:00) unless"
    )
    world.tick()
    assert world.dms() == [ANN]


def test_case_ids_count_up_per_team_and_year(world: World) -> None:
    run(world, "case open harassment sev3 Doxxing thread")
    reply = run(world, "case open harassment sev4 Another thread")
    assert "TS-2027-0002" in reply.text


def test_show_gives_details_to_the_reporter_and_hides_restricted_ones_from_others(
    world: World,
) -> None:
    run(world, 'case open self-harm sev2 User posted a goodbye note details:"account X, wiki Y"')
    shown = run(world, "case show ts-2027-1", who=ANN)
    assert "User posted a goodbye note" in shown.text and "account X, wiki Y" in shown.text
    hidden = run(world, "case show TS-2027-0001", who=EVE)
    assert hidden.ok
    assert "goodbye" not in str(hidden.blocks) and "account X" not in str(hidden.blocks)
    with world.db.transaction() as session:
        views = session.exec(
            select(AuditEvent).where(AuditEvent.action == "case.view_restricted")
        ).all()
    assert [v.actor for v in views] == [ANN]  # every view of restricted details is audited
    assert "goodbye" not in str([v.detail for v in views])


def test_paged_people_and_admins_may_read_a_restricted_case(world: World) -> None:
    run(world, "case open child-safety sev1 Material reported on Commons")
    # Need-to-know (issue #11): being a manager is not enough; an admin, or being paged, is.
    assert "Material reported" not in run(world, "case show TS-2027-0001", who=CAT).text
    assert "Material reported" in run(world, "case show TS-2027-0001", who=DAN).text  # admin
    assert "Material reported" in run(world, "case show TS-2027-0001", who=ANN).text  # reporter
    world.clock.advance(timedelta(minutes=5))
    world.tick()
    assert "Material reported" in run(world, "case show TS-2027-0001", who=BEN).text  # paged


def test_ack_stops_escalation_and_announces_it(world: World) -> None:
    run(world, "case open terrorism sev1 Credible plan posted")
    reply = run(world, "ack TS-2027-0001", who=BEN)
    assert reply.ok
    assert reply.posts[0].text == ":eyes: TS-2027-0001 · terrorism · sev1 acknowledged by <@U0BEN>."
    world.clock.advance(timedelta(hours=1))
    world.tick()
    assert world.dms() == [ANN]  # only the first page; nothing escalated


def test_buttons_acknowledge_and_escalate(world: World) -> None:
    run(world, "case open harassment sev2 Pile-on against an editor")
    escalated = dispatch_action("case.escalate", "TS-2027-0001", world.context(ANN))
    assert "Paged level 2: <@U0BEN>" in escalated.text
    acked = dispatch_action("case.ack", "TS-2027-0001", world.context(BEN))
    assert acked.ok and "escalation stopped" in acked.text


def test_escalate_to_a_level_and_to_a_member_with_a_reason(world: World) -> None:
    run(world, "case open event-safety sev2 Venue evacuation")
    to_level = run(world, "escalate TS-2027-0001 level 3 needs a decision")
    assert "Paged level 3: <@U0CAT>" in to_level.text
    to_member = run(world, "escalate TS-2027-0001 to @Eve speaks Arabic")
    assert "Paged level 3: <@U0EVE>" in to_member.text
    world.tick()
    assert world.dms() == [ANN, CAT, EVE]


def test_assign_note_resolve(world: World) -> None:
    run(world, "case open harassment sev3 Repeated insults")
    assert run(world, "case assign TS-2027-0001 @Ben").posts[0].text.endswith("<@U0BEN>.")
    assert run(world, "case note TS-2027-0001 Warned the account", who=BEN).ok
    assert run(world, "case resolve TS-2027-0001 warned", who=BEN).ok
    shown = run(world, "case show TS-2027-0001", who=BEN)
    assert "note by <@U0BEN>: Warned the account" in str(shown.blocks)


def test_words_people_type_for_case_actions_are_understood(world: World) -> None:
    opened = run(world, "case new harassment sev3 Repeated insults")
    assert opened.text.startswith(":white_check_mark: Opened *TS-2027-0001")
    assert "Repeated insults" in run(world, "case view TS-2027-0001").text
    closed = run(world, "case close TS-2027-0001 warned the account")
    assert closed.ok and "resolved" in closed.text
    with world.db.transaction() as session:
        assert session.exec(select(Case)).one().status == "resolved"
    assert form_for_command("case new") is not None  # alone, it opens the form as `case open`


def test_policy_show_lists_the_built_in_policy(world: World) -> None:
    reply = run(world, "policy show")
    assert "*urgent (built-in)* — every type; sev1, sev2" in reply.text
    assert "1. on call in layer primary — wait 5m" in reply.text
    assert "The team defines no policy" in reply.text


BAD = [
    ("case show TS-2027-0099", ANN, "there is no case TS-2027-0099"),
    ("ack TS-2027-0099", ANN, "there is no case TS-2027-0099"),
    ("case show 42", ANN, "'42' is not a case id (they look like TS-2027-0042)"),
    (
        "case open bullying sev1 Something",
        ANN,
        "unknown case type `bullying`; valid types: threat-of-violence, self-harm, terrorism, "
        "child-safety, harassment, event-safety, other",
    ),
    (
        "case open harasment sev1 Something",
        ANN,
        "unknown case type `harasment` (did you mean `harassment`?); valid types: "
        "threat-of-violence, self-harm, terrorism, child-safety, harassment, event-safety, other",
    ),
    (
        "case open harassment sev9 Something",
        ANN,
        "unknown severity `sev9`; valid severities: sev1, sev2, sev3, sev4",
    ),
    ("case open harassment sev1", ANN, "a case needs a type, a severity and a summary"),
    ("ack TS-2027-0002", ANN, "TS-2027-0002 is resolved; there is nothing to acknowledge"),
    ("escalate TS-2027-0003", ANN, "TS-2027-0003 is already at the last level (admins)"),
    (
        f"escalate TS-2027-0001 to <@{OUTSIDER}>",
        ANN,
        f"<@{OUTSIDER}> is not a member of the T&amp;S team",
    ),
    ("escalate TS-2027-0001 to @Zed", ANN, "nobody on T&amp;S is called `Zed`"),
    (
        "escalate TS-2027-0001 level 9",
        ANN,
        "TS-2027-0001 has no level 9; its levels are 1, 2, 3, admins",
    ),
    (
        "escalate TS-2027-0002 level 2",
        ANN,
        "TS-2027-0002 is resolved; open a new case instead of escalating",
    ),
    (
        "case resolve TS-2027-0001",
        EVE,
        "only the assignee, the reporter or a manager can resolve TS-2027-0001",
    ),
    (
        "case assign TS-2027-0001 <@U0NOBODY>",
        ANN,
        "<@U0NOBODY> is not a member of the T&amp;S team",
    ),
    ("case frobnicate", ANN, "unknown case action `frobnicate`"),
    ("policy edit", ANN, "unknown policy action `edit`"),
]


@pytest.mark.parametrize(("text", "who", "reason"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_gets_one_line_and_changes_nothing(
    world: World, text: str, who: str, reason: str
) -> None:
    run(world, "case open threat-of-violence sev1 one")  # 0001: open at level 1
    run(world, "case open harassment sev3 two")  # 0002: resolved
    run(world, "case resolve TS-2027-0002")
    run(world, "case open harassment sev1 three")  # 0003: at the admins
    run(world, "escalate TS-2027-0003 level admins")
    world.tick()
    before, rows = counts(world.db), snapshot(world.db)
    reply = run(world, text, who=who)
    assert not reply.ok
    assert first_line(reply) == f":warning: {reason}"
    assert counts(world.db) == before
    assert snapshot(world.db) == rows


def test_someone_outside_the_team_is_told_so(world: World) -> None:
    reply = dispatch("case open harassment sev1 x", world.context(None))
    assert not reply.ok and "not a member" in reply.text
    with world.db.transaction() as session:
        assert session.exec(select(Case)).first() is None


def test_admins_level_is_named_admins(world: World) -> None:
    run(world, "case open harassment sev1 three")
    reply = run(world, "escalate TS-2027-0001 level admins")
    assert f"Paged admins: <@{DAN}>" in reply.text
