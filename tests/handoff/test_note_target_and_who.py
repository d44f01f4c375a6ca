"""Issue #12 items 3 and 6: a note lands on the handoff it was meant for, and `/ts who` shows a
handoff that waits for acceptance.

Ann and Ben swap the primary pager daily at 09:00 UTC (on 2027-03-20 Ben comes on); Eve and Dan
swap the secondary daily at 21:00 UTC (on 2027-03-20 Eve goes off). Cat is the manager.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from chatops.audit import AuditEvent
from chatops.db import Database
from commands.registry import dispatch
from rota.spec import RotationSpec
from tests.support.handoff_world import (
    ANN,
    BEN,
    CAT,
    DAN,
    EVE,
    START,
    World,
    daily_team,
    make_world,
)

BOUNDARY = datetime(2027, 3, 20, 9, 0, tzinfo=UTC)
NEXT_PRIMARY = BOUNDARY + timedelta(days=1)
SECONDARY = datetime(2027, 3, 20, 21, 0, tzinfo=UTC)


def _world(db: Database, now: datetime) -> World:
    spec = daily_team()
    secondary = RotationSpec(
        name="secondary",
        tz="UTC",
        handoff="0 21 * * *",
        start=START + timedelta(hours=12),
        participants=(EVE, DAN),
        layer="secondary",
    )
    spec = spec.model_copy(update={"rotations": (spec.rotations[0], secondary)})
    return make_world(db, spec, now)


def _at(world: World, when: datetime) -> None:
    world.advance_to(when)
    world.tick()


def _post_of(world: World, rotation: str) -> str:
    found = [
        json.dumps(p.blocks, ensure_ascii=False)
        for p in world.posts()
        if f"Handoff · {rotation} ·" in p.text
    ]
    assert found, f"no {rotation} post among {[p.text[:60] for p in world.posts()]}"
    return found[-1]


def test_a_note_goes_to_its_own_handoff_not_an_early_post_of_another(db: Database) -> None:
    world = _world(db, BOUNDARY + timedelta(hours=1))
    world.tick()
    # Ann is off call: her own next handoff is the primary one where she comes back on
    mine = dispatch("handoff note the wiki vandal is back, see TS-2027-0001", world.context(ANN))
    assert mine.ok, mine.text
    assert (
        "Your note will be in your *primary* handoff at 2027-03-21 10:00 CET (UTC+01:00) "
        "(Sun, your time)" in mine.text
    )
    # Cat names the rotation the note is for
    named = dispatch("handoff note rotation:primary check the appeal queue", world.context(CAT))
    assert named.ok, named.text
    assert "the *primary* handoff at 2027-03-21 09:00 GMT (UTC) (Sun, your time)" in named.text
    # Eve posts her secondary handoff early: it must carry neither note
    _at(world, SECONDARY - timedelta(minutes=30))
    assert dispatch("handoff", world.context(EVE)).ok
    world.tick()
    early = _post_of(world, "secondary")
    assert "wiki vandal" not in early and "appeal queue" not in early
    _at(world, NEXT_PRIMARY)
    primary = _post_of(world, "primary")
    assert f"<@{ANN}>: the wiki vandal is back, see TS-2027-0001" in primary
    assert f"<@{CAT}>: check the appeal queue" in primary
    with db.transaction() as session:
        details = [
            a.detail
            for a in session.exec(select(AuditEvent).where(AuditEvent.action == "handoff.note"))
        ]
    assert all("vandal" not in d and "appeal" not in d for d in details)


def test_a_note_for_an_unknown_rotation_is_refused_with_the_rotations(db: Database) -> None:
    world = _world(db, BOUNDARY + timedelta(hours=1))
    reply = dispatch("handoff note rotation:apac hello", world.context(CAT))
    assert not reply.ok
    assert "there is no rotation 'apac'; rotations: primary, secondary" in reply.text
    empty = dispatch("handoff note rotation:primary", world.context(CAT))
    assert not empty.ok and "a note needs some text" in empty.text


def test_who_during_an_unaccepted_handoff_lists_both_until_accepted(db: Database) -> None:
    world = _world(db, BOUNDARY - timedelta(hours=1))
    _at(world, BOUNDARY + timedelta(minutes=2))
    reply = dispatch("who", world.context(CAT))
    assert reply.ok
    assert f"<@{ANN}> still on call with <@{BEN}> until accepted" in json.dumps(reply.blocks)
    assert "primary: Ann still on call with Ben until accepted" in reply.text
    # One line per rotation: the pending handoff is said on Ben's line, not on a second one.
    listed = reply.text.removeprefix("On call now: ").split("; ")
    assert [w for w in listed if w.startswith("primary")] == [
        "primary: Ann still on call with Ben until accepted"
    ]
    assert dispatch("handoff accept", world.context(BEN)).ok
    after = dispatch("who", world.context(CAT))
    assert "until accepted" not in after.text
