"""Away periods: the verbs, the warnings against shifts, and the cover requests at their two
instants, exactly once each across worker passes and a restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from chatops.clock import ManualClock
from chatops.db import Database
from chatops.oncall.away import AwayPeriod, CoverRequestRun, when_asked
from chatops.oncall.swaps import SwapRequest
from chatops.outbox.models import OutboxMessage
from chatops.outbox.notifier import ConsoleNotifier
from chatops.worker import run_due
from commands.registry import dispatch
from rota.resolve import compile_rota
from rota.yamlio import load_rota_yaml
from tests.support.clirun import EXAMPLE
from tests.support.teams import example_team_context

NOW = datetime(2027, 3, 17, 12, 0, tzinfo=UTC)
AMIRA, LUKAS, ELENA = "U01AHADDAD", "U01LBECKER", "U01EPETROV"


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%MZ")


def test_away_add_list_cancel_and_refusals(sqlite_db: Database) -> None:
    ctx = example_team_context(sqlite_db, AMIRA, NOW)
    start, end = NOW + timedelta(days=20), NOW + timedelta(days=27)
    added = dispatch(f"away {_iso(start)} to {_iso(end)} family visit", ctx)
    assert added.ok and "Away #1 noted" in added.text
    listed = dispatch("away list", ctx)
    assert "#1 <@U01AHADDAD>" in listed.blocks[0]["text"]["text"]
    assert "family visit" in listed.blocks[0]["text"]["text"]
    for text, reason in [
        (f"away {_iso(end)} to {_iso(start)}", "ends before it starts"),
        (f"away {_iso(NOW - timedelta(days=3))} to {_iso(NOW - timedelta(days=1))}", "past"),
        (f"away {_iso(start)} to {_iso(start + timedelta(days=91))}", "90 days"),
    ]:
        refused = dispatch(text, ctx)
        assert not refused.ok and reason in refused.text, text
    assert "Usage: `/ts away cancel <id>`" in dispatch("away cancel x", ctx).text
    other = example_team_context(sqlite_db, ELENA, NOW)  # saving again keeps the rows
    assert "only its member or a manager" in dispatch("away cancel 1", other).text
    assert "is cancelled" in dispatch("away cancel 1", ctx).text
    assert "already cancelled" in dispatch("away cancel 1", ctx).text
    assert "Nobody on the team is away" in dispatch("away list", ctx).text
    with sqlite_db.transaction() as session:
        from chatops.audit import AuditEvent

        actions = [e.action for e in session.exec(select(AuditEvent))]
    assert actions.count("away.add") == 1 and actions.count("away.cancel") == 1


def test_away_reads_dates_as_people_type_them(sqlite_db: Database) -> None:
    """Two dates with or without "to" mean whole days, the last one included; overlaps refused."""
    ctx = example_team_context(sqlite_db, AMIRA, NOW)
    added = dispatch("away 2027-04-01 2027-04-15 going to my grandma's", ctx)
    assert added.ok, added.text
    again = dispatch("away 2027-04-10 to 2027-04-20 conference", ctx)
    assert not again.ok and "overlaps your away #1" in again.text
    assert dispatch("away 2027-05-01 to 2027-05-03", ctx).ok
    assert not dispatch("away 2027-06-01 2027-13-45", ctx).ok
    with sqlite_db.transaction() as session:
        rows = list(session.exec(select(AwayPeriod).order_by(col(AwayPeriod.id))))
    berlin = [(r.start.astimezone(ZoneInfo("Europe/Berlin")), r.end) for r in rows]
    assert [(s.date().isoformat(), s.hour) for s, _ in berlin] == [
        ("2027-04-01", 0),
        ("2027-05-01", 0),
    ]
    # back on the 16th and the 4th, at local midnight: the last day is included
    assert [r.end for r in rows] == [
        datetime(2027, 4, 15, 22, 0, tzinfo=UTC),
        datetime(2027, 5, 3, 22, 0, tzinfo=UTC),
    ]
    assert rows[0].reason == "going to my grandma's"


def test_away_takes_a_day_alone_a_month_name_and_a_duration_in_words(sqlite_db: Database) -> None:
    """What people type: `fri`, `next monday`, `apr 20 for 3 days`, `28 may to 30th may`."""
    ctx = example_team_context(sqlite_db, AMIRA, NOW)  # Wednesday 2027-03-17, Amira in Berlin
    typed = [
        "fri dentist",
        "next monday conference",
        "apr 20 for 3 days",
        "28 may to 30th may",
        "tomorrow 10:00 for 2 hours doctor's",
    ]
    for line in typed:
        added = dispatch(f"away {line}", ctx)
        assert added.ok, (line, added.text)
    refused = dispatch("away feb 30", ctx)
    assert not refused.ok and refused.text.startswith(":warning: `feb 30` is not a real date")
    endless = dispatch("away tomorrow for 99999999999999 days", ctx)
    assert not endless.ok and endless.text.startswith(":warning: ")  # a user's mistake, no id
    with sqlite_db.transaction() as session:
        rows = list(session.exec(select(AwayPeriod).order_by(col(AwayPeriod.id))))
    assert [(r.start, r.end, r.reason) for r in rows] == [
        (datetime(2027, 3, 18, 23, tzinfo=UTC), datetime(2027, 3, 19, 23, tzinfo=UTC), "dentist"),
        (
            datetime(2027, 3, 21, 23, tzinfo=UTC),
            datetime(2027, 3, 22, 23, tzinfo=UTC),
            "conference",
        ),
        (datetime(2027, 4, 19, 22, tzinfo=UTC), datetime(2027, 4, 22, 22, tzinfo=UTC), ""),
        (datetime(2027, 5, 27, 22, tzinfo=UTC), datetime(2027, 5, 30, 22, tzinfo=UTC), ""),
        (datetime(2027, 3, 18, 9, tzinfo=UTC), datetime(2027, 3, 18, 11, tzinfo=UTC), "doctor's"),
    ]


@pytest.mark.parametrize("length", ["3 months", "1.5 days", "1 year", "2mo", "a fortnight"])
def test_a_length_that_cannot_be_read_is_refused_not_taken_as_the_reason(
    sqlite_db: Database, length: str
) -> None:
    """`for 3 months` once became a one-day absence with "for 3 months" as its reason: a
    hurried person thought themselves covered for a quarter."""
    ctx = example_team_context(sqlite_db, AMIRA, NOW)
    refused = dispatch(f"away 2027-07-01 for {length} parental leave", ctx)
    assert not refused.ok
    assert refused.text.startswith(f":warning: `for {length.split()[0]}")
    assert "is not a length I can read" in refused.text
    with sqlite_db.transaction() as session:
        assert list(session.exec(select(AwayPeriod))) == []
    # `for` that starts a reason is still a reason; `a week` is a length
    assert dispatch("away 2027-07-01 for my kid's school play", ctx).ok
    assert dispatch("away 2027-08-01 for a week", ctx).ok
    with sqlite_db.transaction() as session:
        rows = list(session.exec(select(AwayPeriod).order_by(col(AwayPeriod.id))))
    assert [r.end - r.start for r in rows] == [timedelta(days=1), timedelta(days=7)]
    assert rows[0].reason == "for my kid's school play"


def _amira_window() -> tuple[datetime, datetime]:
    """Three weeks from 20 days ahead: a whole emea cycle, so Amira surely has shifts."""
    return NOW + timedelta(days=20), NOW + timedelta(days=41)


def test_rota_check_and_previews_flag_shifts_while_away(sqlite_db: Database) -> None:
    ctx = example_team_context(sqlite_db, AMIRA, NOW)
    start, end = _amira_window()
    before = dispatch("rota check days:60", ctx)
    assert "while away" not in str(before.blocks)
    assert dispatch(f"away {_iso(start)} to {_iso(end)} holiday", ctx).ok
    spec = load_rota_yaml(EXAMPLE)
    held = compile_rota(spec).shifts(start, end, member=AMIRA)
    assert held
    report = dispatch("rota check days:60", ctx)
    assert report.text.startswith(":white_check_mark: Covered")  # a warning, never a gap
    body = str(report.blocks)
    assert "while away (#1" in body and "Amira Haddad (U01AHADDAD)" in body
    # A manager's edit preview shows it too (the clash stays whatever the edit is).
    lukas = example_team_context(sqlite_db, LUKAS, NOW)
    preview = dispatch(
        f"rota override @lukas {_iso(start)} to {_iso(start + timedelta(hours=1))}", lukas
    )
    assert "while away (#1" in str(preview.blocks)


def _counts(db: Database) -> tuple[int, int, list[str]]:
    with db.transaction() as session:
        swaps = len(list(session.exec(select(SwapRequest))))
        posts = len(
            list(session.exec(select(OutboxMessage).where(OutboxMessage.kind == "away.cover")))
        )
        stages = [
            f"{r.stage}:{r.outcome}"
            for r in session.exec(select(CoverRequestRun).order_by(col(CoverRequestRun.id)))
        ]
    return swaps, posts, stages


def test_cover_is_asked_two_weeks_and_three_days_ahead_exactly_once(sqlite_db: Database) -> None:
    ctx = example_team_context(sqlite_db, AMIRA, NOW)
    start, end = _amira_window()
    assert dispatch(f"away {_iso(start)} to {_iso(end)} holiday", ctx).ok
    clock = ManualClock(NOW)
    notifier = ConsoleNotifier()

    def passes(worker: str, times: int = 2) -> None:
        for _ in range(times):
            run_due(sqlite_db, clock, notifier, worker_id=worker)

    passes("w1")
    assert _counts(sqlite_db) == (0, 0, [])
    clock.advance(start - timedelta(days=14, seconds=1) - clock())
    passes("w1")
    assert _counts(sqlite_db) == (0, 0, [])
    clock.advance(start - timedelta(days=14) - clock())
    passes("w1")
    passes("w2-after-restart")
    assert _counts(sqlite_db) == (1, 1, ["14d:asked"])
    clock.advance(start - timedelta(days=3) - clock())
    passes("w2-after-restart")
    passes("w3-after-restart")
    clock.advance(start - timedelta(hours=1) - clock())
    passes("w3-after-restart")
    assert _counts(sqlite_db) == (2, 2, ["14d:asked", "3d:asked"])
    with sqlite_db.transaction() as session:
        requests = list(session.exec(select(SwapRequest)))
        posted = list(session.exec(select(OutboxMessage).where(OutboxMessage.kind == "away.cover")))
    assert {r.requester for r in requests} == {AMIRA}
    assert all((r.start, r.end) == (start, end) for r in requests)
    assert all(m.recipient == "#ts-oncall" and "swap_take" in m.blocks for m in posted)


def test_a_late_away_period_is_asked_about_once(sqlite_db: Database) -> None:
    ctx = example_team_context(sqlite_db, AMIRA, NOW)
    start = NOW + timedelta(days=2)
    end = start + timedelta(days=21)
    assert dispatch(f"away {_iso(start)} to {_iso(end)}", ctx).ok
    clock = ManualClock(NOW)
    for worker in ("a", "b"):
        run_due(sqlite_db, clock, ConsoleNotifier(), worker_id=worker)
    assert _counts(sqlite_db) == (1, 1, ["14d:skipped", "3d:asked"])
    with sqlite_db.transaction() as session:
        assert session.exec(select(AwayPeriod)).one().member == AMIRA


def test_an_away_period_under_way_asks_for_cover_at_once_from_now(sqlite_db: Database) -> None:
    """Taken ill mid-shift (`/ts away today`): the team is asked now, for what is still to come."""
    spec = load_rota_yaml(EXAMPLE)
    shift = compile_rota(spec).shifts(NOW, NOW + timedelta(days=14), member=AMIRA)[0]
    now = shift.start + timedelta(hours=1)
    ctx = example_team_context(sqlite_db, AMIRA, now)
    end = shift.end + timedelta(hours=1)
    reply = dispatch(f"away now to {_iso(end)} flu", ctx)
    assert reply.ok, reply.text
    assert "asked to take them now." in reply.text
    run_due(sqlite_db, ManualClock(now), ConsoleNotifier(), worker_id="w")
    assert _counts(sqlite_db) == (1, 1, ["14d:skipped", "3d:asked"])
    with sqlite_db.transaction() as session:
        request = session.exec(select(SwapRequest)).one()
        posted = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "away.cover")).one()
    assert (request.start, request.end) == (now, end)  # the hour already gone is not asked for
    assert "flu" in posted.text and "Can someone take them?" in posted.text


@pytest.mark.parametrize(
    ("ahead", "said"),
    [
        (timedelta(days=20), "two weeks before it starts and again three days before it starts"),
        (timedelta(days=14, seconds=1), "two weeks before it starts and again three days"),
        (timedelta(days=14), "now, and again three days before it starts"),
        (timedelta(days=5), "now, and again three days before it starts"),
        (timedelta(days=3), "now"),
        (timedelta(0), "now"),
        (-timedelta(hours=2), "now"),
    ],
)
def test_the_member_is_told_when_the_team_will_be_asked(ahead: timedelta, said: str) -> None:
    assert when_asked(NOW + ahead, NOW).startswith(said)


def test_who_and_a_new_case_say_that_the_person_paged_is_away(sqlite_db: Database) -> None:
    """Away is advice, not a rota edit: the member stays on call and is paged, and whoever
    reads who is on call or whom a case paged is told, to page the next level at once."""
    spec = load_rota_yaml(EXAMPLE)
    shift = compile_rota(spec).shifts(NOW, NOW + timedelta(days=14), member=AMIRA)[0]
    now = shift.start + timedelta(hours=1)
    amira = example_team_context(sqlite_db, AMIRA, now)
    lukas = example_team_context(sqlite_db, LUKAS, now)
    before = dispatch("who", lukas).text
    assert "(away)" not in before and "Amira" in before
    back = shift.end + timedelta(hours=2)
    assert dispatch(f"away now to {_iso(back)} flu", amira).ok

    who = dispatch("who", lukas)
    assert "Amira Haddad (away)" in who.text
    assert "said they are away until" in str(who.blocks)
    later = dispatch(f"who at {_iso(back + timedelta(hours=1))}", lukas).text
    assert "(away)" not in later  # back by then

    opened = dispatch("case open harassment sev2 Threats in DMs", lukas)
    assert f"<@{AMIRA}>" in opened.text.split("Next level")[0]  # still paged: away is advice
    assert f"Said they are away: <@{AMIRA}> until" in opened.text
    assert "`/ts escalate TS-2027-0001` pages the next level." in opened.text
