"""`/ts emergency` (issue #14, item 3): a non-member raises the alarm and learns only the id.

Ann (primary) and Ben (secondary) are on call; Cat is the manager, Dan the admin, Eve on no
rotation. The outsider is U0NOBODY, known to Slack but not to the team.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from sqlmodel import select

from chatops.blockkit import Reply
from chatops.cases.models import Case
from chatops.db import Database
from commands.registry import dispatch
from tests.support.case_world import (
    ANN,
    BEN,
    CAT,
    DAN,
    EVE,
    MEMBERS,
    OUTSIDER,
    World,
    counts,
    make_world,
)

WHAT = "A user says they will hurt someone at tonight's meetup"


@pytest.fixture
def world(db: Database) -> World:
    return make_world(db)


def outsider(world: World, text: str) -> Reply:
    return dispatch(text, replace(world.context(None), user_id=OUTSIDER))


def test_a_non_member_opens_a_sev2_case_that_pages_the_on_call(world: World) -> None:
    reply = outsider(world, f"emergency {WHAT}")

    assert reply.ok, reply.text
    with world.db.transaction() as session:
        (case,) = session.exec(select(Case))
    assert (case.key, case.type, case.severity, case.reporter) == (
        "TS-2027-0001",
        "other",
        "sev2",
        OUTSIDER,
    )
    assert case.summary == WHAT
    world.tick()
    assert ANN in world.dms()  # paged like any case


def test_the_reply_names_the_case_and_nothing_else(world: World) -> None:
    reply = outsider(world, f"emergency {WHAT}")

    assert reply.text == (
        ":rotating_light: Thank you. Your report is case TS-2027-0001; the on-call responder "
        "has been paged."
    )
    assert reply.blocks in ([], None) or "Ann" not in str(reply.blocks)
    assert not reply.posts
    words = set(re.findall(r"[\w-]+", (reply.text + str(reply.blocks)).lower()))
    forbidden = {m.name.lower() for m in MEMBERS} | {s.lower() for s in (ANN, BEN, CAT, DAN, EVE)}
    forbidden |= {"primary", "secondary", "day", "backup", "level", "admins", "manager", "t"}
    assert not words & forbidden, words & forbidden
    assert "<@" not in reply.text and "#" not in reply.text


def test_a_type_given_first_is_used(world: World) -> None:
    assert outsider(world, "emergency self-harm A goodbye note on a talk page").ok
    with world.db.transaction() as session:
        (case,) = session.exec(select(Case))
    assert (case.type, case.severity, case.restricted) == ("self-harm", "sev2", True)
    assert case.summary == "A goodbye note on a talk page"


def test_a_non_member_cannot_read_the_case_they_reported(world: World) -> None:
    assert outsider(world, f"emergency {WHAT}").ok
    before = counts(world.db)

    shown = outsider(world, "case show TS-2027-0001")

    assert not shown.ok
    assert len(shown.text.splitlines()) == 1
    assert WHAT not in shown.text and "Ann" not in shown.text
    assert counts(world.db) == before


def test_alarms_are_rate_limited_per_person(world: World) -> None:
    assert outsider(world, "emergency one").ok
    assert outsider(world, "emergency two").ok
    before = counts(world.db)

    third = outsider(world, "emergency three")

    assert not third.ok and "in the last minute" in third.text
    assert "teammate" not in third.text  # an outsider has none to ask
    assert counts(world.db) == before
    # Another person is not held back by the first one's alarms.
    other = dispatch("emergency four", replace(world.context(None), user_id="U0SOMEONE"))
    assert other.ok


def test_an_empty_alarm_is_one_line_and_changes_nothing(world: World) -> None:
    before = counts(world.db)
    reply = outsider(world, "emergency")
    assert not reply.ok and "say what happened" in reply.text
    typed_only = outsider(world, "emergency child-safety")
    assert not typed_only.ok and "say what happened after `child-safety`" in typed_only.text
    for nothing_said in (
        "emergency sev1",
        "emergency child-safety lang:ar",
        "emergency lang:x",
        'emergency sev1 ""',
        'emergency child-safety lang:ar ""',
        'emergency "" lang:ar',
        "emergency sev1 \u200b",
    ):
        refused = outsider(world, nothing_said)
        assert not refused.ok and "say what happened" in refused.text, nothing_said
    assert counts(world.db) == before


def test_a_link_alone_is_a_report(world: World) -> None:
    """A panicking outsider may paste only the page: that says where, which is enough to page."""
    for report in (
        "emergency https://wiki.example/Talk:Meetup",
        'emergency details:"he has a gun at the meetup"',
    ):
        assert outsider(world, report).ok, report
