"""What people type for `/ts away` and how it is read: the rest of today, a weekday end on or
after the start, a span already begun, and one-line refusals (never an internal error) for
durations and dates past any calendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from chatops.db import Database
from chatops.errors import Refused
from chatops.oncall.away import AwayPeriod, add_away
from commands.registry import dispatch
from tests.support.teams import example_team_context

NOW = datetime(2027, 3, 17, 12, 0, tzinfo=UTC)  # a Wednesday; Amira is in Berlin (UTC+1)
AMIRA = "U01AHADDAD"


def _rows(db: Database) -> list[tuple[datetime, datetime]]:
    with db.transaction() as session:
        rows = session.exec(select(AwayPeriod).order_by(col(AwayPeriod.id)))
        return [(r.start, r.end) for r in rows]


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("2027-06-01 for 99999999 days", "is too long (at most 3653 days)"),
        ("tomorrow for 99999999 hours", "is too long (at most 3653 days)"),
        ("tomorrow to 9999-12-31", "`9999-12-31` is too far ahead (at most 3653 days"),
        ("tomorrow to 9999-12-31 holiday", "`9999-12-31` is too far ahead (at most 3653 days"),
        ("9999-12-31", "is too far ahead (at most 3653 days"),
        ("in 99999999999 hours for 2h", "`99999999999 hours` is too long (at most 3653 days)"),
        ("in 9999 days for 2h", "`in 9999 days` is too far ahead (at most 3653 days"),
        ("in 2 hours", "`in 2 hours` says when, not for how long"),
        ("yesterday", "lies in the past"),
        ("2027-04-01 10:00 to 2027-04-01 10:00", "is empty"),
    ],
)
def test_mistakes_are_one_line_with_the_usage(sqlite_db: Database, typed: str, says: str) -> None:
    ctx = example_team_context(sqlite_db, AMIRA, NOW)
    reply = dispatch(f"away {typed}", ctx)
    assert not reply.ok and reply.text.startswith(":warning: "), reply.text
    assert says in reply.text, reply.text
    assert "Something went wrong" not in reply.text
    assert _rows(sqlite_db) == []


def test_today_is_the_rest_of_today(sqlite_db: Database) -> None:
    ctx = example_team_context(sqlite_db, AMIRA, NOW)
    assert dispatch("away today sick", ctx).ok
    assert _rows(sqlite_db) == [(NOW, datetime(2027, 3, 17, 23, tzinfo=UTC))]


def test_a_weekday_end_is_on_or_after_the_start(sqlite_db: Database) -> None:
    ctx = example_team_context(sqlite_db, AMIRA, NOW)
    assert dispatch("away mon to fri", ctx).ok  # next Monday to that week's Friday, included
    assert _rows(sqlite_db) == [
        (datetime(2027, 3, 21, 23, tzinfo=UTC), datetime(2027, 3, 26, 23, tzinfo=UTC))
    ]


def test_a_span_already_begun_starts_now(sqlite_db: Database) -> None:
    ctx = example_team_context(sqlite_db, AMIRA, NOW)
    assert dispatch("away 2027-03-16 to 2027-03-18", ctx).ok
    assert _rows(sqlite_db) == [(NOW, datetime(2027, 3, 18, 23, tzinfo=UTC))]


def test_the_service_says_a_start_is_in_the_past_accurately(sqlite_db: Database) -> None:
    ctx = example_team_context(sqlite_db, AMIRA, NOW)
    with sqlite_db.transaction() as session, pytest.raises(Refused, match="starts in the past"):
        add_away(
            session,
            team_id=ctx.team_id,
            actor=ctx.actor,
            start=NOW - timedelta(hours=3),
            end=NOW + timedelta(hours=3),
            reason="",
            now=NOW,
        )
