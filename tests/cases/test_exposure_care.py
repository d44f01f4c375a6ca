"""The exposure budget as people meet it: the cap note, a spared responder, the check-in, who
may see the figures, and settings refused in one line.

The team (tests/support/case_world.py) has Ann (Berlin) and Ben (New York) on call around the
clock; here both are in the primary layer, so level 1 of a sev1/sev2 case pages both of them.
Cat is the manager, Eve a responder on no rotation.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from chatops.audit import AuditEvent
from chatops.cases.exposure import ExposureSpan
from chatops.cases.exposure_settings import ExposureSpec, load_exposure, save_exposure
from chatops.cases.wellbeing import CAP_KIND, CHECK_IN_KIND
from chatops.db import Database
from chatops.outbox.models import OutboxMessage, Topic
from chatops.teamfile import export_rota_file, import_rota_file, load_rota_file
from chatops.worker import next_wakeup
from commands.registry import dispatch
from rota.spec import RotaSpec
from rota.yamlio import RotaError
from tests.support.case_world import (
    ANN,
    BEN,
    CAT,
    EVE,
    QUIET_WATCH,
    World,
    counts,
    make_world,
    rotation,
    team_spec,
)
from tests.support.clirun import chatops

#: 10:00 in Berlin, 05:00 in New York: a long way from either midnight.
NOW = datetime(2027, 3, 20, 9, 0, tzinfo=UTC)


def _spec() -> RotaSpec:
    return team_spec(
        [
            rotation("emea", "primary", [ANN]),
            rotation("amer", "primary", [BEN]),
            rotation("backup", "secondary", [EVE]),
        ]
    )


@pytest.fixture
def world(db: Database) -> World:
    return make_world(db, _spec(), now=NOW)


def run(world: World, text: str, who: str = CAT) -> str:
    reply = dispatch(text, world.context(who))
    assert reply.ok, reply.text
    return reply.text


def set_cap(world: World, cap: str, graphic: tuple[str, ...] | None = None) -> None:
    spec = (
        ExposureSpec(daily_cap=cap)
        if graphic is None
        else ExposureSpec(daily_cap=cap, graphic=graphic)
    )
    with world.db.transaction() as session:
        save_exposure(session, team_id=world.team_id, spec=spec, actor="test", at=world.clock())


def care_rows(world: World, kind: str) -> list[OutboxMessage]:
    with world.db.transaction() as session:
        return list(
            session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.topic == Topic.care.value, OutboxMessage.kind == kind)
                .order_by(col(OutboxMessage.id))
            )
        )


def hold(world: World, who: str, hours: float, case_type: str = "terrorism") -> str:
    """`who` takes a new case of `case_type` and holds it for `hours`; returns its key."""
    key = opened(run(world, f"case open {case_type} sev3 Footage shared in a group"))
    run(world, f"ack {key}", who)
    world.clock.advance(timedelta(hours=hours))
    return key


def opened(text: str) -> str:
    """The case id in an opening reply (`Opened *TS-2027-0001 · …*`)."""
    return next(w for w in text.replace("*", " ").split() if w.startswith("TS-"))


def level_one(world: World, key: str) -> list[str]:
    """Who the first paging of `key` reached."""
    with world.db.transaction() as session:
        audits = session.exec(
            select(AuditEvent).where(AuditEvent.action == "case.page", AuditEvent.subject == key)
        ).all()
    return list(json.loads(audits[0].detail)["paged"])


# --- the cap note --------------------------------------------------------------------------


def test_the_cap_note_comes_once_a_local_day_kindly_and_privately(world: World) -> None:
    key = hold(world, ANN, 3.99)
    world.tick()
    assert care_rows(world, CAP_KIND) == []  # not before the cap
    world.clock.advance(timedelta(minutes=1))
    world.tick()
    world.tick()
    [note] = care_rows(world, CAP_KIND)
    assert note.recipient == ANN and note.state == "sent"
    assert "about 4 h on difficult cases today" in note.text
    assert "hand over" in note.text and "you can still take any case" in note.text
    assert not any(word in note.text.lower() for word in ("warning", "limit exceeded", "must"))
    assert key not in note.text  # no case named, let alone its content
    # A second worker, a restart, more hours the same day: still once.
    world.clock.advance(timedelta(hours=2))
    world.tick("another-worker")
    assert len(care_rows(world, CAP_KIND)) == 1
    with world.db.transaction() as session:
        [audit] = session.exec(
            select(AuditEvent).where(AuditEvent.action == "exposure.cap_note")
        ).all()
    assert json.loads(audit.detail) == {"member": ANN, "day": "2027-03-20"}  # no figure
    # Her next local day (Berlin midnight is 23:00 UTC) starts afresh: 4 more hours, one more note.
    world.clock.advance_to(datetime(2027, 3, 21, 2, 59, tzinfo=UTC))
    world.tick()
    assert len(care_rows(world, CAP_KIND)) == 1
    world.clock.advance_to(datetime(2027, 3, 21, 3, 0, tzinfo=UTC))
    world.tick()
    assert [n.key.rsplit(":", 1)[1] for n in care_rows(world, CAP_KIND)] == [
        "2027-03-20",
        "2027-03-21",
    ]


def test_the_worker_wakes_when_a_member_holding_a_case_reaches_the_cap(world: World) -> None:
    """`next_wakeup` (what the console steps its clock through) names the instant, so the note
    goes out when the cap is reached rather than at the next unrelated wake-up."""
    hold(world, ANN, 1)
    world.tick()
    assert next_wakeup(world.db, now=world.clock(), watch=QUIET_WATCH) == NOW + timedelta(hours=4)
    world.clock.advance_to(NOW + timedelta(hours=4))
    world.tick()
    assert len(care_rows(world, CAP_KIND)) == 1
    later = next_wakeup(world.db, now=world.clock(), watch=QUIET_WATCH)
    assert later is None or later > NOW + timedelta(days=1)  # noted: no wake-up for it again


def test_two_workers_racing_send_one_note(world: World) -> None:
    """Both passes see Ann over the cap; the unique key lets one of them queue the note."""
    from chatops.cases.wellbeing import send_cap_notes

    hold(world, ANN, 4)
    assert send_cap_notes(world.db, now=world.clock()) == 1
    assert send_cap_notes(world.db, now=world.clock()) == 0
    assert len(care_rows(world, CAP_KIND)) == 1


def test_time_on_cases_that_are_not_graphic_does_not_count(world: World) -> None:
    hold(world, ANN, 6, case_type="harassment")
    world.tick()
    assert care_rows(world, CAP_KIND) == []


# --- preferring another responder ----------------------------------------------------------


def test_over_the_cap_a_member_is_spared_the_next_graphic_page_at_her_level(
    world: World,
) -> None:
    hold(world, ANN, 4)
    world.tick()
    spared = opened(run(world, "case open terrorism sev2 Second video"))
    assert level_one(world, spared) == [BEN]
    # A case that is not graphic pages the whole level as ever.
    other = opened(run(world, "case open harassment sev2 Pile-on"))
    assert sorted(level_one(world, other)) == [ANN, BEN]
    # She can still take the graphic one.
    assert dispatch(f"ack {spared}", world.context(ANN)).ok


def test_the_cap_setting_changes_who_is_preferred(world: World) -> None:
    set_cap(world, "6h")
    hold(world, ANN, 4)
    key = opened(run(world, "case open terrorism sev2 Video"))
    assert sorted(level_one(world, key)) == [ANN, BEN]  # 4 h is under a 6 h cap
    set_cap(world, "3h")
    key = opened(run(world, "case open terrorism sev2 Video"))
    assert level_one(world, key) == [BEN]


def test_nobody_else_at_the_level_still_pages_the_member_over_cap(world: World) -> None:
    """Both primaries are over the cap: both are paged, a level never goes to nobody."""
    hold(world, ANN, 0)
    hold(world, BEN, 4.5)
    key = opened(run(world, "case open terrorism sev2 Video"))
    assert sorted(level_one(world, key)) == [ANN, BEN]


# --- the check-in --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case_type", "severity", "checked"),
    [
        ("terrorism", "sev3", True),  # graphic
        ("harassment", "sev1", True),  # sev1
        ("harassment", "sev2", False),
    ],
)
def test_the_assignee_gets_one_check_in_after_a_sev1_or_graphic_case(
    world: World, case_type: str, severity: str, checked: bool
) -> None:
    key = opened(run(world, f"case open {case_type} {severity} Someone in danger"))
    run(world, f"ack {key}", BEN)
    world.clock.advance(timedelta(minutes=40))
    run(world, f"case resolve {key} Handled")
    world.tick()
    rows = care_rows(world, CHECK_IN_KIND)
    if not checked:
        assert rows == []
        return
    [row] = rows
    assert (row.recipient, row.state) == (BEN, "sent")
    assert f"Thank you for seeing {key} through" in row.text
    assert "No need to answer" in row.text
    assert "Someone in danger" not in row.text
    assert not dispatch(f"case resolve {key}", world.context(CAT)).ok  # resolved once, so once
    world.tick()
    assert len(care_rows(world, CHECK_IN_KIND)) == 1


# --- who sees the figures ------------------------------------------------------------------


def test_members_see_their_own_figures_managers_anyones_others_nobody(world: World) -> None:
    key = hold(world, ANN, 1.5)
    run(world, f"case resolve {key}", ANN)
    mine = dispatch("exposure", world.context(ANN))
    assert mine.ok and "Your time on graphic cases, the last 7 days: 1 h 30 min" in mine.text
    assert mine.visibility.value == "ephemeral" and mine.posts == []
    assert "Sat 20 Mar: 1 h 30 min" in str(mine.blocks)
    assert "Days in Europe/Berlin" in str(mine.blocks)
    managed = dispatch("exposure @Ann month", world.context(CAT))
    assert managed.ok and "<@U0ANN>'s time on graphic cases, the last 30 days" in managed.text
    before = counts(world.db)
    refused = dispatch("exposure @Ann", world.context(BEN))
    assert not refused.ok
    assert refused.text.splitlines()[0] == (
        ":warning: exposure figures are private: only <@U0ANN> and the managers see them"
    )
    assert "1 h 30" not in refused.text
    assert counts(world.db) == before
    typo = dispatch("exposure weak", world.context(ANN))
    assert not typo.ok and "did you mean `week`" in typo.text
    assert "Usage: `/ts exposure [@member] [week|month]`" in typo.text
    both = dispatch("exposure week month", world.context(ANN))  # not silently the last one
    assert not both.ok and "give one period, not `week` and `month`" in both.text
    past = dispatch("exposure last month", world.context(ANN))
    assert past.ok and "the last 30 days: 1 h 30 min" in past.text


def test_the_console_shows_the_same_figures(world: World) -> None:
    """Commands are transport-neutral: the console runs the same dispatch."""
    from chatops.blockkit import unescape

    hold(world, BEN, 0.5)
    reply = dispatch("exposure week", world.context(BEN))
    assert "Your time on graphic cases, the last 7 days: 30 min" in unescape(reply.text)


# --- settings ------------------------------------------------------------------------------

ROTA = Path(__file__).parents[2] / "examples" / "follow-the-sun.yaml"


def _with(section: str) -> str:
    return ROTA.read_text(encoding="utf-8") + "\n" + section


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            "exposure:\n  graphic: [terrorism, gore]\n",
            "exposure.graphic[1]: unknown case type 'gore'; valid types: threat-of-violence, "
            "self-harm, terrorism, child-safety, harassment, event-safety, other",
        ),
        (
            "exposure:\n  daily_cap: 13h\n",
            "exposure.daily_cap: '13h' is out of range: the daily cap is from 30m to 12h",
        ),
        (
            "exposure:\n  daily_cap: 10m\n",
            "exposure.daily_cap: '10m' is out of range: the daily cap is from 30m to 12h",
        ),
        ("exposure:\n  daily_cap: lots\n", "exposure.daily_cap: 'lots' is not a duration"),
        ("exposure:\n  cap: 4h\n", "exposure.cap: unknown key"),
    ],
)
def test_bad_settings_are_one_line_each(section: str, message: str) -> None:
    with pytest.raises(RotaError) as raised:
        load_rota_file(_with(section))
    [line] = raised.value.messages
    assert line.startswith(message), line


def test_settings_round_trip_through_import_and_export(db: Database) -> None:
    text = _with("exposure:\n  graphic: [terrorism, self-harm]\n  daily_cap: 3h30m\n")
    with db.transaction() as session:
        team = import_rota_file(session, load_rota_file(text), actor="cli", at=NOW, detail={})
        assert team.id is not None
        spec = load_exposure(session, team_id=team.id)
        exported = export_rota_file(session, team)
    assert spec == ExposureSpec(graphic=("terrorism", "self-harm"), daily_cap="3h30m")
    assert "exposure:\n  graphic:\n  - terrorism\n  - self-harm\n  daily_cap: 3h30m\n" in exported
    assert load_rota_file(exported).exposure == spec


def test_the_cli_refuses_a_bad_cap_in_one_line_and_imports_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "rota.yaml"
    bad.write_text(_with("exposure:\n  daily_cap: 24h\n"), encoding="utf-8")
    result = chatops("rota", "import", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "chatops: invalid rota:",
        "  exposure.daily_cap: '24h' is out of range: the daily cap is from 30m to 12h",
    ]
    assert chatops("rota", "export", cwd=tmp_path).returncode != 0  # no team was imported


def test_spans_are_written_with_the_case_change_or_not_at_all(world: World) -> None:
    """A refused take writes no span (invariant 8); an accepted one writes it in its own
    transaction with the audit event (invariant 7)."""
    key = opened(run(world, "case open terrorism sev3 Video"))
    run(world, f"case resolve {key}")
    assert not dispatch(f"ack {key}", world.context(ANN)).ok
    with world.db.transaction() as session:
        assert session.exec(select(ExposureSpan)).all() == []
