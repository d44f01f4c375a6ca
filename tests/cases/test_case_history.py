"""Issue #12, item 7: a case's whole history, in plain words, and the cases one may list or
correct (`/ts case show … page:N`, `/ts case list …`, `/ts case edit …`), through `dispatch`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from chatops.audit import AuditEvent
from chatops.blockkit import Reply
from chatops.cases.models import Case
from chatops.db import Database
from commands.registry import dispatch
from tests.support.case_world import ANN, BEN, CAT, EVE, World, counts, make_world, snapshot


@pytest.fixture
def world(sqlite_db: Database) -> World:
    return make_world(sqlite_db)


def run(world: World, text: str, who: str = ANN) -> Reply:
    return dispatch(text, world.context(who))


def test_a_long_timeline_is_paged_and_keeps_its_opening_line(world: World) -> None:
    run(world, "case open harassment sev3 Pile-on against an editor")
    for n in range(40):
        assert run(world, f"case note TS-2027-0001 update {n}").ok
    first = str(run(world, "case show TS-2027-0001").blocks)
    assert "Opened by <@U0ANN>" in first
    assert "showing 1–15 of 42" in first
    assert "`/ts case show TS-2027-0001 page:2`" in first
    last = str(run(world, "case show TS-2027-0001 page:3").blocks)
    assert "update 39" in last and "showing 31–42 of 42" in last and "page:4" not in last
    refused = run(world, "case show TS-2027-0001 page:9")
    assert not refused.ok and "pages 1 to 3" in refused.text


def test_the_timeline_names_who_was_paged_in_plain_words(world: World) -> None:
    spec_escalated = "case open harassment sev1 Threat in a thread lang:ar"
    run(world, spec_escalated)
    run(world, "escalate TS-2027-0001 level admins")
    world.clock.advance(timedelta(minutes=1))
    text = str(run(world, "case show TS-2027-0001").blocks)
    assert "Paged <@U0ANN> at level 1" in text
    assert "Paged <@U0EVE> as language advisor" in text
    assert "Escalated to the admins level by <@U0ANN>" in text
    assert "Reached the last level (admins)" in text
    for raw in ("last_level", "no_speaker", " paged by ", "escalated by"):
        assert raw not in text


def test_case_list_filters_and_hides_restricted_cases_from_others(world: World) -> None:
    run(world, "case open harassment sev3 Doxxing thread")  # 0001 pages Ann
    run(world, "case open self-harm sev2 Goodbye note on a user page")  # 0002 restricted
    run(world, "case open harassment sev4 Old insult")  # 0003, resolved
    run(world, "case resolve TS-2027-0003")
    world.clock.advance(timedelta(days=3))
    run(world, "case open other sev4 A question from a volunteer", who=EVE)  # 0004

    listed = run(world, "case list", who=EVE).text
    assert "3 open cases" in listed
    assert "TS-2027-0001 · harassment · sev3* — open" in listed and "Doxxing thread" in listed
    assert "TS-2027-0002 · self-harm · sev2* :lock: restricted" in listed
    assert "Goodbye" not in listed and "TS-2027-0003" not in listed
    # Ann was paged for it by the policy, so she may read it (a manager as such may not).
    assert "Goodbye note" in run(world, "case list", who=ANN).text

    assert run(world, "case assign TS-2027-0001 @Ben").ok
    mine = run(world, "case list mine", who=BEN).text
    assert "1 open case assigned to you" in mine and "TS-2027-0001" in mine
    resolved = run(world, "case list resolved type:harassment", who=EVE).text
    assert "TS-2027-0003" in resolved and "TS-2027-0001" not in resolved
    recent = run(world, "case list since:1d", who=EVE).text
    assert "1 open case " in recent and "TS-2027-0004" in recent


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("case list closed", "unexpected `closed`"),
        ("case list type:bullying", "unknown case type `bullying`"),
        ("case list since:tomorrow", "`since:tomorrow` is in the future"),
        ("case edit TS-2027-0001 status open", "`status` cannot be edited"),
        ("case edit TS-2027-0001 sev sev9", "unknown severity `sev9`"),
        ("case edit TS-2027-0001 sev sev3", "TS-2027-0001 is already sev3"),
        ("case edit TS-2027-0001 summary", "give the new summary"),
    ],
)
def test_list_and_edit_mistakes_are_one_line_and_change_nothing(
    world: World, text: str, reason: str
) -> None:
    run(world, "case open harassment sev3 Doxxing thread")
    before, rows = counts(world.db), snapshot(world.db)
    reply = run(world, text)
    assert not reply.ok and reply.text.splitlines()[0].startswith(f":warning: {reason}")
    assert counts(world.db) == before and snapshot(world.db) == rows


def test_edit_corrects_type_and_severity_audited_with_the_old_value_in_the_timeline(
    world: World,
) -> None:
    run(world, "case open harassment sev3 Doxxing thread")
    reply = run(world, "case edit TS-2027-0001 sev sev1")
    assert reply.ok and "severity is now sev1 (was sev3)" in reply.text
    assert "severity changed from sev3 to sev1" in reply.posts[0].text
    refused = run(world, "case edit TS-2027-0001 type terrorism", who=EVE)
    assert not refused.ok and "only the assignee, the reporter or a manager" in refused.text
    assert run(world, "case edit TS-2027-0001 type child-safety", who=CAT).ok
    with world.db.transaction() as session:
        case = session.exec(select(Case)).one()
        assert (case.type, case.severity, case.restricted) == ("child-safety", "sev1", True)
        edits = session.exec(select(AuditEvent).where(AuditEvent.action == "case.edit")).all()
    assert [e.actor for e in edits] == [ANN, CAT]
    text = str(run(world, "case show TS-2027-0001").blocks)
    assert "Severity changed from sev3 to sev1 by <@U0ANN>" in text
    assert "Type changed from harassment to child-safety by <@U0CAT>" in text


def test_editing_a_restricted_summary_keeps_it_out_of_audit_and_channel(world: World) -> None:
    run(world, "case open self-harm sev2 Goodbye note on a user page")
    reply = run(world, "case edit TS-2027-0001 summary Goodbye note, account Foo")
    assert reply.ok and not reply.posts
    hidden = run(world, "case edit TS-2027-0001 summary whatever", who=BEN)
    assert not hidden.ok
    with world.db.transaction() as session:
        assert session.exec(select(Case)).one().summary == "Goodbye note, account Foo"
        details = [e.detail for e in session.exec(select(AuditEvent)).all()]
    assert "Goodbye" not in str(details) and "Foo" not in str(details)
    shown = str(run(world, "case show TS-2027-0001").blocks)
    assert "Summary corrected by <@U0ANN> (it was: Goodbye note on a user page)" in shown
    assert "Goodbye" not in str(run(world, "case show TS-2027-0001", who=EVE).blocks)


def test_a_type_edit_says_it_restricted_the_case_only_when_it_did(world: World) -> None:
    run(world, "case open harassment sev3 Doxxing thread")  # 0001, open to the team
    run(world, "case open self-harm sev2 Goodbye note on a user page")  # 0002, restricted
    restricted = run(world, "case edit TS-2027-0001 type self-harm")
    assert restricted.ok and "It is now restricted" in restricted.text
    already = run(world, "case edit TS-2027-0002 type harassment")
    assert already.ok and "now restricted" not in already.text


def test_raising_a_silent_case_to_sev1_starts_its_repeats(world: World) -> None:
    """A sev3 whose ladder has ended pages nobody more; raised to sev1 while still
    unacknowledged it must not stay silent: sev1 repeats every 15 minutes."""
    run(world, "case open harassment sev3 Slurs in a thread")
    for _ in range(24):  # six hours in quarter-hours: the sev3 ladder runs out
        world.clock.advance(timedelta(minutes=15))
        world.tick()
    shown = str(run(world, "case show TS-2027-0001").blocks)
    assert "Next escalation" not in shown and "no further automatic escalation" in shown
    before = len(world.notifier.sent)

    assert run(world, "case edit TS-2027-0001 sev sev1").ok
    world.tick()

    repeated = world.notifier.sent[before:]
    assert repeated, "raised to sev1, the case is paged again at once"
    world.clock.advance(timedelta(minutes=15))
    world.tick()
    assert len(world.notifier.sent) > before + len(repeated)  # and every 15 minutes after
