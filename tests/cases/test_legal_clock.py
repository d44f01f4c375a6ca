"""The legal reporting clock of child-safety cases (issue #14, item 1).

Ann reports and acknowledges each case here, so she is its assignee; Cat is the manager, so
reminders go to both. Eve was never paged and has no access to a restricted case.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import col, select

from chatops.audit import AuditEvent
from chatops.blockkit import Reply
from chatops.cases import legal
from chatops.cases.exposure_settings import ExposureSpec, save_exposure
from chatops.cases.models import Case
from chatops.db import Database
from chatops.outbox.models import OutboxMessage, Topic
from commands.registry import dispatch
from rota.spec import RotaSpec, TeamSpec
from rota.store import save_rota
from tests.support.case_world import ANN, CAT, EVE, NOW, World, counts, make_world, team_spec

KEY = "TS-2027-0001"
SECRET = "Material reported on Commons"


@pytest.fixture
def world(db: Database) -> World:
    """The team counts no type as graphic: these cases are held for days, and the exposure cap
    note (tests/cases/test_exposure_care.py) would join the reminders counted here."""
    made = make_world(db)
    with db.transaction() as session:
        save_exposure(
            session, team_id=made.team_id, spec=ExposureSpec(graphic=()), actor="test", at=NOW
        )
    return made


def run(world: World, text: str, who: str = ANN) -> Reply:
    return dispatch(text, world.context(who))


def open_child_safety(world: World) -> None:
    assert run(world, f"case open child-safety sev1 {SECRET}").ok
    assert run(world, f"ack {KEY}").ok
    world.tick()
    world.dms()


def reminders(world: World) -> list[tuple[str, str]]:
    """(recipient, text) of the DMs sent since the last call (drains the notifier)."""
    sent, world.notifier.sent = world.notifier.sent, []
    return [(s.channel, s.text) for s in sent]


def duty_rows(world: World) -> list[str]:
    with world.db.transaction() as session:
        rows = session.exec(
            select(OutboxMessage.key)
            .where(OutboxMessage.topic == Topic.duty.value)
            .order_by(col(OutboxMessage.id))
        )
        return list(rows)


def test_reminders_come_at_50_90_and_100_percent_exactly_once_across_restarts(
    world: World,
) -> None:
    open_child_safety(world)

    world.clock.advance_to(NOW + timedelta(hours=12) - timedelta(seconds=1))
    world.tick("w1")
    assert reminders(world) == []

    world.clock.advance_to(NOW + timedelta(hours=12))
    world.tick("w1")
    sent = reminders(world)
    assert [who for who, _ in sent] == [ANN, CAT]
    assert all("50%" in text and KEY in text for _, text in sent)
    assert all(SECRET not in text for _, text in sent)

    # A new worker (a restart) at the same instant sends nothing again.
    world.tick("w2")
    assert reminders(world) == []

    world.clock.advance_to(NOW + timedelta(hours=21, minutes=36) - timedelta(seconds=1))
    world.tick("w2")
    assert reminders(world) == []
    world.clock.advance_to(NOW + timedelta(hours=21, minutes=36))
    world.tick("w2")
    assert [(who, "90%" in text) for who, text in reminders(world)] == [(ANN, True), (CAT, True)]
    world.tick("w3")
    assert reminders(world) == []

    world.clock.advance_to(NOW + timedelta(hours=24))
    world.tick("w3")
    sent = reminders(world)
    assert [who for who, _ in sent] == [ANN, CAT]
    assert all("was due" in text for _, text in sent)
    world.clock.advance(timedelta(days=3))
    world.tick("w1")
    world.tick("w4")
    assert reminders(world) == []
    assert len(duty_rows(world)) == 6


def test_a_worker_down_across_thresholds_sends_only_the_latest(world: World) -> None:
    open_child_safety(world)
    world.clock.advance_to(NOW + timedelta(hours=23))
    world.tick()
    sent = reminders(world)
    assert [(who, "90%" in text) for who, text in sent] == [(ANN, True), (CAT, True)]
    world.clock.advance_to(NOW + timedelta(hours=24))
    world.tick()
    assert [who for who, _ in reminders(world)] == [ANN, CAT]


def test_case_show_gives_the_deadline_then_the_filing_and_preserve_until(world: World) -> None:
    open_child_safety(world)
    shown = run(world, f"case show {KEY}")
    assert "Report due" in str(shown.blocks)
    assert "2027-03-21" in str(shown.blocks)  # opened 2027-03-20 12:00 UTC, 24 hours

    world.clock.advance(timedelta(hours=3))
    filed = run(world, f"case report {KEY} filed CT-123456")
    assert filed.ok, filed.text
    # One calendar year: 365 days from March 2027 would end a day early (2028 has a 29 Feb).
    assert "preserved until" in filed.text and "2028-03-20" in filed.text

    shown = str(run(world, f"case show {KEY}").blocks)
    assert "Report filed" in shown and "CT-123456" in shown
    assert "Preserve until" in shown and "2028-03-20" in shown
    (event,) = [e for e in _audits(world, "case.report_filed")]
    assert event.actor == ANN and "CT-123456" in event.detail and SECRET not in event.detail

    # Filed: no more reminders.
    world.clock.advance(timedelta(days=2))
    world.tick()
    assert reminders(world) == []


def _audits(world: World, action: str) -> list[AuditEvent]:
    with world.db.transaction() as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)))


def test_resolving_without_filing_or_reason_is_refused_in_one_line(world: World) -> None:
    open_child_safety(world)
    before = counts(world.db)

    refused = run(world, f"case resolve {KEY} done")

    assert not refused.ok
    assert "reporting duty" in refused.text and "\n" not in refused.text
    assert counts(world.db) == before
    assert run(world, f"case report {KEY} no-report not CSAM: an adult, verified").ok
    assert run(world, f"case resolve {KEY} done").ok
    with world.db.transaction() as session:
        (declined,) = session.exec(
            select(AuditEvent).where(AuditEvent.action == "case.report_declined")
        )
        assert "adult" not in declined.detail


def test_resolving_after_filing_is_allowed(world: World) -> None:
    open_child_safety(world)
    assert run(world, f"case report {KEY} filed CT-1").ok
    assert run(world, f"case resolve {KEY}").ok


def test_a_second_filing_is_refused_and_changes_nothing(world: World) -> None:
    open_child_safety(world)
    assert run(world, f"case report {KEY} filed CT-1").ok
    before = counts(world.db)

    again = run(world, f"case report {KEY} filed CT-2")

    assert not again.ok and "already filed as CT-1" in again.text
    assert counts(world.db) == before
    assert "CT-2" not in str(run(world, f"case show {KEY}").blocks)


def test_filing_without_access_is_refused_and_audited(world: World) -> None:
    open_child_safety(world)
    before = counts(world.db)

    refused = run(world, f"case report {KEY} filed CT-9", who=EVE)

    assert not refused.ok and "restricted" in refused.text
    assert counts(world.db) == before | {"AuditEvent": before["AuditEvent"] + 1}
    with world.db.transaction() as session:
        clock = legal.clock_of(session, 1)
        assert clock is not None and clock.filed_at is None


def test_filing_on_another_teams_case_is_refused(world: World) -> None:
    spec = team_spec()
    other = RotaSpec(
        team=TeamSpec(name="Other", channel="C0OTHER"),
        members=spec.members,
        rotations=spec.rotations,
    )
    with world.db.transaction() as session:
        team = save_rota(session, other)
    assert team.id is not None
    other_ctx = world.context(ANN)
    from dataclasses import replace

    theirs = replace(other_ctx, team_id=team.id, team_name="Other", channel="C0OTHER")
    assert dispatch("case open child-safety sev1 one", theirs).ok
    assert dispatch("case open child-safety sev1 two", theirs).ok
    open_child_safety(world)
    before = counts(world.db)

    refused = run(world, "case report TS-2027-0002 filed CT-5")

    assert not refused.ok and "there is no case TS-2027-0002" in refused.text
    assert counts(world.db) == before


@pytest.mark.parametrize(
    "line",
    [
        f"case report {KEY} filed",
        f"case report {KEY} filed <script>",
        f"case report {KEY} no-report",
        f"case report {KEY} maybe",
        f"case report-due {KEY} soon",
        f"case report-due {KEY} 0m",
        f"case report-due {KEY} 48h",  # already has one (child-safety)
    ],
)
def test_bad_report_input_is_one_line_and_changes_nothing(world: World, line: str) -> None:
    open_child_safety(world)
    before = counts(world.db)
    reply = run(world, line)
    assert not reply.ok
    assert reply.text.splitlines()[0].startswith(":warning:")
    assert counts(world.db) == before


def test_another_type_can_opt_in(world: World) -> None:
    assert run(world, "case open harassment sev2 Doxxing of a volunteer").ok
    assert run(world, f"ack {KEY}").ok
    world.tick()
    world.dms()
    assert run(world, f"case resolve {KEY}").ok is True
    assert run(world, "case open harassment sev2 Doxxing again").ok
    key = "TS-2027-0002"
    assert run(world, f"ack {key}").ok
    world.tick()
    world.dms()

    opted = run(world, f"case report-due {key} 2h")

    assert opted.ok, opted.text
    world.clock.advance(timedelta(hours=1))
    world.tick()
    assert [who for who, _ in reminders(world)] == [ANN, CAT]
    assert not run(world, f"case resolve {key}").ok


def test_purge_is_held_until_the_preserve_date(world: World) -> None:
    open_child_safety(world)
    assert run(world, f"case report {KEY} filed CT-1").ok
    with world.db.transaction() as session:
        case = session.exec(select(Case)).one()
        held = legal.purge_hold(session, case_id=case.id, now=NOW + timedelta(days=365, hours=1))
        free = legal.purge_hold(session, case_id=case.id, now=NOW + timedelta(days=366, hours=1))
    assert held == "filed report preserved until 2028-03-20"
    assert free is None


@pytest.mark.parametrize(
    ("filed", "until"),
    [
        ("2027-03-20T12:00:00+00:00", "2028-03-20T12:00:00+00:00"),  # across a 29 February
        ("2027-01-10T08:00:00+00:00", "2028-01-10T08:00:00+00:00"),
        ("2028-02-29T08:00:00+00:00", "2029-03-01T08:00:00+00:00"),  # no 29 Feb next year
        ("2026-03-20T12:00:00+00:00", "2027-03-20T12:00:00+00:00"),  # 365 days is a year here
    ],
)
def test_a_filed_report_is_preserved_at_least_one_calendar_year(filed: str, until: str) -> None:
    at = datetime.fromisoformat(filed)
    assert legal.preserve_until(at, timedelta(days=365)) == datetime.fromisoformat(until)
    assert legal.preserve_until(at, timedelta(days=800)) == at + timedelta(days=800)
