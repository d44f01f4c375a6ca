"""Issue #12 item 5: the language advisor, language codes, and sev4 waiting for working hours.

The demo team (follow-the-sun) through `/ts` dispatch and the worker, with a manual clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from chatops.db import Database
from chatops.escalation.models import PageKind
from chatops.outbox.models import OutboxMessage
from commands.registry import dispatch
from rota.yamlio import load_rota_yaml
from tests.support.case_world import World, counts, make_world
from tests.support.clirun import EXAMPLE

AMIRA, LUKAS, MEI, OLIVIA = "U01AHADDAD", "U01LBECKER", "U01MEILIN0", "U01OCHEN00"
ARJUN = "U01AMEHTA0"
# Tuesday 10:00 UTC: 03:00 in Los Angeles (Mei), 20:00 in Sydney (Olivia).
TUESDAY = datetime(2027, 4, 20, 10, 0, tzinfo=UTC)
# Saturday 10:00 UTC: nobody's working day.
SATURDAY = datetime(2027, 4, 24, 10, 0, tzinfo=UTC)


def _demo(db: Database, now: datetime) -> World:
    world = make_world(db, load_rota_yaml(EXAMPLE), now=now)
    world.notifier.sent = []
    return world


def _dms(world: World) -> list[str]:
    """People DMed so far (drains the notifier; channel posts, handoffs included, are left out)."""
    sent, world.notifier.sent = world.notifier.sent, []
    return [s.channel for s in sent if s.channel.startswith("U")]


def _dm_pages(world: World) -> list[OutboxMessage]:
    with world.db.transaction() as session:
        return list(
            session.exec(select(OutboxMessage).where(OutboxMessage.kind == PageKind.dm.value))
        )


def test_a_zh_case_at_3am_for_mei_asks_olivia_who_is_awake(sqlite_db: Database) -> None:
    world = _demo(sqlite_db, TUESDAY)
    reply = dispatch("case open harassment sev4 abusive thread lang:zh", world.context(AMIRA))
    assert reply.ok, reply.text
    assert f"and <@{OLIVIA}> as language advisor" in reply.text
    assert MEI not in {p.recipient for p in _dm_pages(world)}


@pytest.mark.parametrize("code", ["klingon", "xx"])
def test_an_unknown_language_code_is_refused_with_the_teams_languages(
    sqlite_db: Database, code: str
) -> None:
    world = _demo(sqlite_db, TUESDAY)
    before = counts(sqlite_db)
    reply = dispatch(f"case open harassment sev3 abusive thread lang:{code}", world.context(AMIRA))
    assert not reply.ok
    assert f"`lang:{code}` is not a language code" in reply.text
    assert "your team speaks ar, de, en, es, fr, hi, ru, zh" in reply.text
    assert "Usage: `/ts case open" in reply.text
    assert counts(sqlite_db) == before


def test_the_opener_is_told_when_nobody_on_the_team_speaks_the_language(
    sqlite_db: Database,
) -> None:
    world = _demo(sqlite_db, TUESDAY)
    reply = dispatch("case open harassment sev3 abusive thread lang:sw", world.context(AMIRA))
    assert reply.ok
    assert "Nobody on the team speaks `sw`" in reply.text


def test_a_sev4_waits_for_working_hours_and_says_when_it_will_page(sqlite_db: Database) -> None:
    world = _demo(sqlite_db, SATURDAY)
    reply = dispatch("case open other sev4 link farm on the wiki", world.context(AMIRA))
    assert reply.ok, reply.text
    [page] = _dm_pages(world)
    # Elena holds emea on Saturday; her next working instant is Monday 09:00 Berlin (07:00 UTC)
    monday = datetime(2027, 4, 26, 7, 0, tzinfo=UTC)
    assert page.due_at == monday
    assert (
        "the pages wait for working hours; the first goes out at 2027-04-26 09:00 CEST"
        in reply.text
    )
    world.clock.advance(monday - SATURDAY - timedelta(seconds=1))
    world.tick()
    # no page, no climbing over the weekend
    assert [p.state for p in _dm_pages(world)] == ["pending"]
    assert page.recipient not in _dms(world)
    world.clock.advance(timedelta(seconds=1))
    world.tick()
    # By Monday Elena is off; emea is Lukas's and apac Arjun's (17:00 in Sydney, working): the
    # held page goes to who holds level 1 now, not to whoever held it when the case opened.
    pages = _dm_pages(world)
    assert [(p.recipient, p.state) for p in pages] == [
        (page.recipient, "cancelled"),
        (ARJUN, "sent"),
        (LUKAS, "sent"),
    ] or [(p.recipient, p.state) for p in pages] == [
        (page.recipient, "cancelled"),
        (LUKAS, "sent"),
        (ARJUN, "sent"),
    ]
    assert sorted(_dms(world)) == sorted([ARJUN, LUKAS])
    # level 2 comes four hours after the page went out, not four hours after the opening
    world.clock.advance(timedelta(hours=3, minutes=59))
    world.tick()
    assert len(_dm_pages(world)) == 3
    world.clock.advance(timedelta(minutes=1))
    world.tick()
    assert {p.level for p in _dm_pages(world)} == {"1", "2"}
