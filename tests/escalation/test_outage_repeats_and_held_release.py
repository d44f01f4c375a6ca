"""Outside tester's findings: an outage past the last level lands in the repeats (admins and
on-call, missed steps recorded, a truthful reason); the timeline's last-level line and repeat
DMs say what really happens; a page held for working hours goes to whoever is on call when it
is released. Driven through `/ts` dispatch and the real worker pass, with the world's clock.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from chatops.cases import held
from chatops.cases.models import CaseEvent
from chatops.db import Database
from chatops.escalation.models import EscalationTimer, PageKind, TimerState
from chatops.outbox.claims import claim
from chatops.outbox.models import OutboxMessage
from commands.registry import dispatch
from rota.spec import RotationSpec
from tests.support.case_world import (
    ANN,
    BEN,
    CAT,
    DAN,
    EVE,
    NOW,
    World,
    make_world,
    rotation,
    team_spec,
)


def _open(world: World, line: str, by: str = ANN) -> str:
    reply = dispatch(line, world.context(by))
    assert reply.ok, reply.text
    return reply.text.split("*")[1].split(" ")[0]


def _sent(world: World) -> list[tuple[str, str]]:
    sent, world.notifier.sent = world.notifier.sent, []
    return [(s.channel, s.text) for s in sent]


def _kinds(db: Database) -> list[str]:
    with db.transaction() as session:
        return [e.kind for e in session.exec(select(CaseEvent).order_by(col(CaseEvent.id)))]


def test_after_an_outage_past_the_last_level_the_worker_pages_admins_and_on_call(
    db: Database,
) -> None:
    world = make_world(db)
    key = _open(world, "case open threat-of-violence sev1 bomb threat")
    world.tick()
    assert world.dms() == [ANN]
    # built-in urgent ladder: admins due at +40, then repeats at +55, +70, +85, +100, +115
    world.clock.advance(timedelta(hours=2))  # the worker was down
    world.tick()
    sent = _sent(world)
    assert [c for c, _ in sent if c != "C0TEAM"] == [DAN, ANN, BEN]
    with db.transaction() as session:
        pages = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.kind == PageKind.dm.value, OutboxMessage.batch == 2
            )
        ).all()
        timer = session.exec(
            select(EscalationTimer).where(EscalationTimer.state == TimerState.pending.value)
        ).one()
    blocks = json.dumps([json.loads(p.blocks) for p in pages])
    assert "Unacknowledged for 2 h, past the last level" in blocks
    assert "within 5 min at level 1" not in blocks
    # the repeat paged now was due at +115: the next one is due at +130, not +135
    assert timer.due_at is not None
    assert timer.due_at.replace(tzinfo=UTC) == NOW + timedelta(minutes=130)
    kinds = _kinds(db)
    assert kinds.count("missed") == 6  # levels 2, 3, 1, 2, 3 and the admins' own page
    assert kinds.count("missed_repeats") == 1
    show = json.dumps(dispatch(f"case show {key}", world.context(CAT)).blocks)
    assert "the admins level (admins) was due" in show
    assert "skipped to the repeated pages" in show
    assert "4 repeated pages (every 15 min" in show


def test_the_last_level_line_and_repeat_pages_say_what_happens(db: Database) -> None:
    world = make_world(db)
    key = _open(world, "case open threat-of-violence sev1 bomb threat")
    world.tick()
    world.dms()
    world.clock.advance(timedelta(minutes=40))
    world.tick()
    world.dms()
    show = json.dumps(dispatch(f"case show {key}", world.context(CAT)).blocks)
    assert "no further automatic escalation" not in show
    assert (
        "Reached the last level (admins): from now on the admins and the on-call are paged "
        "again every 15 min until acknowledged"
    ) in show
    world.clock.advance(timedelta(minutes=15))
    world.tick()
    to_ann = [text for channel, text in _sent(world) if channel == ANN]
    assert len(to_ann) == 1
    assert "(admins)" not in to_ann[0]
    assert "you are paged again (repeat: admins and on-call)" in to_ann[0]


def test_a_held_page_goes_to_whoever_is_on_call_when_it_is_released(db: Database) -> None:
    """Ann holds primary on Saturday; Eve takes it over on Sunday. A restricted sev4 opened on
    Saturday is held for Ann's working hours (Monday 08:00 UTC) and then goes to Eve."""
    primary = RotationSpec(
        name="day",
        tz="UTC",
        handoff="0 9 * * sun",
        start=datetime(2027, 1, 3, 9, 0, tzinfo=UTC),
        participants=(ANN, EVE),
        layer="primary",
    )
    world = make_world(db, team_spec([primary, rotation("backup", "secondary", [BEN])]))
    key = _open(world, "case open self-harm sev4 routine follow-up", by=CAT)
    world.tick()
    assert world.dms() == []  # held: Saturday
    held = dispatch(f"case show {key}", world.context(ANN)).text
    assert "not been given access" not in held  # paged (held), so given the case
    world.clock.advance(timedelta(hours=21, minutes=1))  # Sunday 09:01: Eve's turn
    world.tick()
    accepted = dispatch("handoff accept", world.context(EVE))
    assert accepted.ok, accepted.text
    world.tick()
    world.dms()
    monday = datetime(2027, 3, 22, 8, 0, tzinfo=UTC)  # Ann's 09:00 in Berlin
    world.clock.advance(monday - world.clock())
    world.tick()
    assert world.dms() == [EVE]
    with db.transaction() as session:
        pages = {
            p.recipient: p
            for p in session.exec(
                select(OutboxMessage).where(OutboxMessage.kind == PageKind.dm.value)
            )
        }
    assert pages[ANN].state == "cancelled" and not pages[ANN].grants_access
    assert pages[EVE].state == "sent" and pages[EVE].grants_access
    # never paged after all: the cancelled page no longer gives Ann the case
    assert "not been given access" in dispatch(f"case show {key}", world.context(ANN)).text
    show = json.dumps(dispatch(f"case show {key}", world.context(EVE)).blocks)
    assert "held until" in show and "(working hours)" in show
    assert "is no longer on call at level 1" in show
    assert "Paged @Eve at level 1" in show or "Paged <@U0EVE> at level 1" in show


def _held_sev4(db: Database) -> tuple[World, str]:
    """A sev4 opened on Saturday, its page held for Ann's working hours (Monday 08:00 UTC)."""
    world = make_world(db)
    key = _open(world, "case open self-harm sev4 routine follow-up", by=CAT)
    world.tick()
    assert world.dms() == []
    return world, key


def test_a_held_page_due_but_not_yet_released_is_never_claimed_by_delivery(
    db: Database,
) -> None:
    """Another replica's delivery can run between the page falling due and this replica's
    release step: it must not take the page, or it would go out unchecked."""
    world, _key = _held_sev4(db)
    monday = datetime(2027, 3, 22, 8, 0, tzinfo=UTC)
    world.clock.advance(monday - world.clock())
    assert claim(db, now=world.clock(), worker_id="other", limit=50) == []  # held: not claimable
    assert held.release_held_pages(db, now=world.clock(), limit=50) == 1
    [taken] = claim(db, now=world.clock(), worker_id="other", limit=50)
    assert taken.recipient == ANN and taken.kind == PageKind.dm.value


def test_a_held_page_of_a_case_taken_meanwhile_is_cancelled_not_sent(db: Database) -> None:
    """Acknowledged while its page waits for working hours: nobody is woken for it, even when
    the acknowledgement comes after the page fell due but before it was released."""
    world, key = _held_sev4(db)
    monday = datetime(2027, 3, 22, 8, 0, tzinfo=UTC)
    world.clock.advance(monday - world.clock())
    assert dispatch(f"ack {key}", world.context(CAT)).ok  # the reporter, who has access
    world.tick()
    assert world.dms() == []
    with db.transaction() as session:
        pages = session.exec(select(OutboxMessage).where(OutboxMessage.recipient == ANN)).all()
    assert [(p.state, p.held) for p in pages] == [("cancelled", True)]
