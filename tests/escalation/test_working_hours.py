"""Working hours per member (issue #12): a `hours: working` page waits for the recipient's own
hours in their own zone, DST included; the rota file validates the setting and names the member.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml
from sqlmodel import select

from chatops.db import Database
from chatops.escalation.hours import in_working_hours, next_working_instant
from chatops.escalation.models import PageKind
from chatops.outbox.models import OutboxMessage
from commands.registry import dispatch
from rota.spec import DEFAULT_WORKING_HOURS, RotaSpec, WorkingHours
from rota.store import find_team, load_rota, save_rota
from rota.yamlio import RotaError, dump_rota_yaml, load_rota_yaml, parse_rota
from tests.support.case_world import make_world
from tests.support.clirun import EXAMPLE

AMIRA, LUKAS = "U01AHADDAD", "U01LBECKER"
EARLY = WorkingHours.model_validate({"days": "mon-fri", "from": "07:30", "to": "15:00"})


def _with_hours(spec: RotaSpec, member: str, hours: WorkingHours) -> RotaSpec:
    data = spec.model_dump(by_alias=True)
    for m in data["members"]:
        if m["id"] == member:
            m["working_hours"] = hours.model_dump(by_alias=True)
    return RotaSpec.model_validate(data)


def test_next_working_instant_follows_the_members_hours_across_dst() -> None:
    """New York springs forward on Sunday 14 March 2027: Monday 08:00 is 12:00 UTC, not 13:00."""
    hours = WorkingHours.model_validate({"days": "mon-thu", "from": "08:00", "to": "16:30"})
    friday = datetime(2027, 3, 12, 15, tzinfo=UTC)  # Friday 10:00 EST: not one of her days
    assert next_working_instant("America/New_York", friday, hours) == datetime(
        2027, 3, 15, 12, tzinfo=UTC
    )
    monday_late = datetime(2027, 3, 15, 20, 31, tzinfo=UTC)  # 16:31 EDT: just after
    assert not in_working_hours("America/New_York", monday_late, hours)
    assert in_working_hours("America/New_York", datetime(2027, 3, 15, 20, 29, tzinfo=UTC), hours)
    # the default stays 09:00–18:00 Monday to Friday
    assert next_working_instant("America/New_York", friday) == friday
    assert DEFAULT_WORKING_HOURS.describe() == "mon,tue,wed,thu,fri 09:00–18:00"


def test_a_sev4_waits_for_the_members_own_hours_after_the_clocks_change(
    sqlite_db: Database,
) -> None:
    """Saturday 27 March 2027: Amira holds emea; Berlin springs forward that night. Her own
    hours start at 07:30, so Monday's page goes out at 07:30 CEST: 05:30 UTC."""
    saturday = datetime(2027, 3, 27, 10, tzinfo=UTC)
    spec = _with_hours(load_rota_yaml(EXAMPLE), AMIRA, EARLY)
    world = make_world(sqlite_db, spec, now=saturday)
    reply = dispatch("case open other sev4 link farm on the wiki", world.context(LUKAS))
    assert reply.ok, reply.text
    with sqlite_db.transaction() as session:
        pages = list(
            session.exec(select(OutboxMessage).where(OutboxMessage.kind == PageKind.dm.value))
        )
    assert [(p.recipient, p.due_at) for p in pages] == [
        (AMIRA, datetime(2027, 3, 29, 5, 30, tzinfo=UTC))
    ]
    assert "the first goes out at 2027-03-29 07:30 CEST" in reply.text


def test_working_hours_round_trip_through_the_database_and_the_file(sqlite_db: Database) -> None:
    spec = _with_hours(load_rota_yaml(EXAMPLE), AMIRA, EARLY)
    with sqlite_db.transaction() as session:
        save_rota(session, spec)
    with sqlite_db.transaction() as session:
        stored = load_rota(session, find_team(session))
    assert stored.member(AMIRA).working_hours == EARLY
    assert stored.member(LUKAS).working_hours == DEFAULT_WORKING_HOURS
    text = dump_rota_yaml(stored)
    assert "working_hours" in text
    assert parse_rota(yaml.safe_load(text)) == stored


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ({"days": "mon-fry"}, "Amira Haddad's working_hours.days: unknown day 'fry'"),
        ({"days": "fri-mon"}, "Amira Haddad's working_hours.days: day range 'fri-mon' runs"),
        ({"from": "17:00", "to": "08:00"}, "Amira Haddad's working_hours: working hours must end"),
        ({"from": "8am"}, "Amira Haddad's working_hours.from: "),
        ({"hours": 8}, "Amira Haddad's working_hours.hours: "),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_member(hours: dict, message: str) -> None:
    data = load_rota_yaml(EXAMPLE).model_dump(by_alias=True, mode="json")
    data["members"][0]["working_hours"] = hours
    with pytest.raises(RotaError) as error:
        parse_rota(data)
    (line,) = error.value.messages
    assert message in line, line


def test_a_member_sets_their_own_hours_in_chat_and_pages_follow_them(sqlite_db: Database) -> None:
    saturday = datetime(2027, 3, 27, 10, tzinfo=UTC)
    world = make_world(sqlite_db, load_rota_yaml(EXAMPLE), now=saturday)
    amira = world.context(AMIRA)
    assert "Your working hours: mon,tue,wed,thu,fri 09:00–18:00 (Europe/Berlin)" in (
        dispatch("hours", amira).text
    )
    bad = dispatch("hours mon-fry 08:00-17:00", amira)
    assert not bad.ok and "unknown day 'fry'" in bad.text and "Usage: `/ts hours" in bad.text
    backwards = dispatch("hours 17:00-08:00", amira)
    assert not backwards.ok and "must end after they start" in backwards.text

    done = dispatch("hours mon-thu 07:30-15:00", amira)

    assert done.ok, done.text
    assert "now mon,tue,wed,thu 07:30–15:00 (Europe/Berlin)" in done.text
    with sqlite_db.transaction() as session:
        assert load_rota(session, find_team(session)).member(AMIRA).working_hours == (
            WorkingHours.model_validate({"days": "mon-thu", "from": "07:30", "to": "15:00"})
        )
    reply = dispatch("case open other sev4 link farm on the wiki", world.context(LUKAS))
    assert "the first goes out at 2027-03-29 07:30 CEST" in reply.text
    assert "now mon,tue,wed,thu,fri 09:00–18:00" in dispatch("hours default", amira).text


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("9-17", "mon,tue,wed,thu,fri 09:00–17:00"),
        ("mon-fri 9am-5:30pm", "mon,tue,wed,thu,fri 09:00–17:30"),
        ("mon tue wed 08:00 - 16:00", "mon,tue,wed 08:00–16:00"),
        ("sat,sun 12pm-8pm", "sat,sun 12:00–20:00"),
    ],
)
def test_hours_are_read_as_people_type_them(sqlite_db: Database, typed: str, expected: str) -> None:
    world = make_world(sqlite_db, load_rota_yaml(EXAMPLE), now=datetime(2027, 3, 27, tzinfo=UTC))
    done = dispatch(f"hours {typed}", world.context(AMIRA))
    assert done.ok, done.text
    assert f"now {expected} (Europe/Berlin)" in done.text


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("25:00-26:00", "`25:00` is not a time of day like 09:00 or 9am"),
        ("13pm-2pm", "`13pm` is not a time of day like 09:00 or 9am"),
        ("9:75-17", "`9:75` is not a time of day like 09:00 or 9am"),
        ("mon-fri", "can't read `mon-fri`; e.g. mon-thu 08:00-17:00"),
        ("22-06", "working hours must end after they start (22:00–06:00)"),
    ],
)
def test_bad_hours_are_one_plain_line_and_change_nothing(
    sqlite_db: Database, typed: str, reason: str
) -> None:
    world = make_world(sqlite_db, load_rota_yaml(EXAMPLE), now=datetime(2027, 3, 27, tzinfo=UTC))
    amira = world.context(AMIRA)
    refused = dispatch(f"hours {typed}", amira)
    assert not refused.ok
    assert refused.text.splitlines()[0] == f":warning: {reason}"
    assert "Input should" not in refused.text and "(root)" not in refused.text
    assert "09:00–18:00" in dispatch("hours", amira).text
