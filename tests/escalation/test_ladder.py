"""The escalation ladder with an injected clock: who is paged when, and what stops it."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import select

from chatops.audit import AuditEvent
from chatops.cases import lookup, opening, service
from chatops.cases.models import CaseEvent
from chatops.db import Database
from chatops.escalation.models import EscalationTimer, TimerState
from chatops.outbox.models import OutboxMessage, OutboxState
from rota.spec import MemberSpec, RotaSpec, TeamSpec
from tests.support.case_world import (
    ANN,
    BEN,
    CAT,
    CHANNEL,
    DAN,
    EVE,
    MEMBERS,
    World,
    make_world,
    rotation,
    team_spec,
)


def _open(
    world: World,
    case_type: str = "threat-of-violence",
    severity: str = "sev1",
    language: str | None = None,
) -> str:
    with world.db.transaction() as session:
        case, _ = opening.open_case(
            session,
            team_id=world.team_id,
            actor=world.actor(ANN),
            at=world.clock(),
            case_type=case_type,
            severity=severity,
            summary="threat posted on a talk page",
            language=language,
        )
    return case.key


def _kinds(db: Database, key: str) -> list[str]:
    with db.transaction() as session:
        case = lookup.get_case(session, team_id=1, key=key)
        return [e.kind for e in session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id))]


def test_full_ladder_pages_each_level_after_its_timeout_then_admins(db: Database) -> None:
    world = make_world(db)
    key = _open(world)
    world.tick()
    assert world.dms() == [ANN]  # level 1: primary on call
    world.clock.advance(timedelta(minutes=4, seconds=59))
    world.tick()
    assert world.dms() == []  # not before the timeout
    world.clock.advance(timedelta(seconds=1))
    world.tick()
    assert world.dms() == [BEN]  # level 2: secondary
    world.clock.advance(timedelta(minutes=5))
    world.tick()
    assert world.dms() == [CAT]  # level 3: managers
    world.clock.advance(timedelta(minutes=10))
    world.tick()
    assert world.dms() == [ANN]  # repeat round: level 1 again
    world.clock.advance(timedelta(minutes=5))
    world.tick()
    assert world.dms() == [BEN]
    world.clock.advance(timedelta(minutes=5))
    world.tick()
    assert world.dms() == [CAT]
    world.clock.advance(timedelta(minutes=10))
    world.tick()
    assert world.dms() == [DAN]  # then the admins
    world.clock.advance(timedelta(minutes=15))
    world.tick()
    assert world.dms() == [DAN, ANN, BEN]  # a sev1 never goes quiet: admins and on-call again
    with world.db.transaction() as session:
        service.acknowledge(
            session, team_id=world.team_id, actor=world.actor(BEN), key=key, at=world.clock()
        )
    world.clock.advance(timedelta(hours=3))  # (under Ben's exposure cap: no note to him yet)
    world.tick()
    assert world.dms() == []  # and nothing once acknowledged
    with db.transaction() as session:
        pages = list(session.exec(select(OutboxMessage)))
        assert {p.state for p in pages} == {OutboxState.sent.value}
        assert sum(p.recipient == CHANNEL for p in pages) == 8  # one post per paging
        timers = list(session.exec(select(EscalationTimer)))
        assert {t.state for t in timers} == {TimerState.fired.value, TimerState.cancelled.value}
        assert all(t.due_at is None for t in timers)
        audit = [a.action for a in session.exec(select(AuditEvent))]
        assert audit.count("case.page") == 8
    assert _kinds(db, key).count("escalated") == 6
    assert _kinds(db, key).count("repeated") == 1


def test_acknowledging_stops_the_ladder(sqlite_db: Database) -> None:
    world = make_world(sqlite_db)
    key = _open(world)
    world.tick()
    assert world.dms() == [ANN]
    world.clock.advance(timedelta(minutes=3))
    with sqlite_db.transaction() as session:
        case = service.acknowledge(
            session, team_id=world.team_id, actor=world.actor(ANN), key=key, at=world.clock()
        )
        assert case.assignee == ANN
    world.clock.advance(timedelta(hours=2))
    world.tick()
    assert world.dms() == []
    with sqlite_db.transaction() as session:
        states = {t.state for t in session.exec(select(EscalationTimer))}
    assert states == {TimerState.cancelled.value}


def test_resolving_cancels_every_timer_and_unsent_page(sqlite_db: Database) -> None:
    world = make_world(sqlite_db)
    key = _open(world)  # pages are created but not yet sent
    with sqlite_db.transaction() as session:
        service.resolve(
            session, team_id=world.team_id, actor=world.actor(ANN), key=key, at=world.clock()
        )
    world.clock.advance(timedelta(hours=1))
    assert world.tick() == 0
    assert world.notifier.sent == []
    with sqlite_db.transaction() as session:
        assert {p.state for p in session.exec(select(OutboxMessage))} == {
            OutboxState.cancelled.value
        }
        assert all(p.due_at is None for p in session.exec(select(OutboxMessage)))
        assert {t.state for t in session.exec(select(EscalationTimer))} == {
            TimerState.cancelled.value
        }


def test_nobody_on_call_pages_the_managers(sqlite_db: Database) -> None:
    later = rotation(
        "day", "primary", [ANN], start=team_spec().rotations[0].start.replace(year=2030)
    )
    world = make_world(sqlite_db, team_spec([later]))
    key = _open(world)
    world.tick()
    # docs/architecture.md, invariant 3: a gap pages the managers at once
    assert world.dms() == [CAT]
    with sqlite_db.transaction() as session:
        page = session.exec(select(OutboxMessage).where(OutboxMessage.recipient == CAT)).one()
        assert page.role == "fallback" and page.level == "1"
    kinds = _kinds(sqlite_db, key)
    assert "fallback" in kinds
    # level 2 (layer secondary) does not exist in this rota: skipped at once, not waited on
    world.clock.advance(timedelta(minutes=5))
    world.tick()
    assert world.dms() == [CAT]  # level 3: managers, straight after level 1's timeout
    assert _kinds(sqlite_db, key).count("skipped") == 1


def test_a_level_with_nobody_is_skipped_at_once_and_recorded(sqlite_db: Database) -> None:
    world = make_world(sqlite_db, team_spec([rotation("backup", "secondary", [BEN])]))
    key = _open(world)  # no primary layer at all: level 1 resolves to nobody
    world.tick()
    assert world.dms() == [BEN]
    with sqlite_db.transaction() as session:
        case = lookup.get_case(session, team_id=world.team_id, key=key)
        assert case.step == 1
        skipped = session.exec(select(CaseEvent).where(CaseEvent.kind == "skipped")).one()
        assert json.loads(skipped.detail) == {"level": "1"}


def test_language_advisor_is_paged_when_no_responder_speaks_it(sqlite_db: Database) -> None:
    world = make_world(sqlite_db)
    key = _open(world, language="ar")
    world.tick()
    assert world.dms() == [ANN, EVE]
    with sqlite_db.transaction() as session:
        advisor = session.exec(select(OutboxMessage).where(OutboxMessage.role == "advisor")).one()
        assert advisor.recipient == EVE
    # Eve has been paged: level 2 needs no second advisor
    world.clock.advance(timedelta(minutes=5))
    world.tick()
    assert world.dms() == [BEN]
    assert "paged" in _kinds(sqlite_db, key)


def test_language_advisor_prefers_someone_on_call(sqlite_db: Database) -> None:
    spec = RotaSpec(
        team=TeamSpec(name="T&S", channel=CHANNEL),
        members=(*MEMBERS, MemberSpec(id="U0FAY", name="Fay", tz="UTC", languages=("ar",))),
        rotations=(
            rotation("day", "primary", [ANN]),
            rotation("backup", "secondary", [BEN]),
            rotation("arabic", "language", ["U0FAY"]),
        ),
    )
    world = make_world(sqlite_db, spec)
    _open(world, language="ar")
    world.tick()
    assert world.dms() == [ANN, "U0FAY"]  # Fay is on call (another rotation), Eve is not


def test_no_advisor_when_a_paged_responder_speaks_the_language(sqlite_db: Database) -> None:
    world = make_world(sqlite_db)
    _open(world, language="en")
    world.tick()
    assert world.dms() == [ANN]
