"""`/ts report` and `/ts rota show chart` read a typed window as `/ts away` and `chatops report`
do: an end given as a bare day includes that day, and the reply says the window."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chatops.db import Database
from commands.context import UsageError
from commands.verbs.report import ReportCommand
from commands.verbs.rota_chart import RotaChart
from tests.support.teams import example_team_context

NOW = datetime(2027, 3, 17, 12, 0, tzinfo=UTC)  # a Wednesday; Amira is in Berlin
AMIRA = "U01AHADDAD"


def test_a_report_includes_the_end_day_and_says_so(sqlite_db: Database) -> None:
    ctx = example_team_context(sqlite_db, AMIRA, NOW)
    report = ReportCommand.parse(["2027-01-01", "to", "2027-01-08"], ctx)
    assert (report.start, report.end) == (
        datetime(2026, 12, 31, 23, tzinfo=UTC),
        datetime(2027, 1, 8, 23, tzinfo=UTC),  # 2027-01-09 00:00 in Berlin
    )
    assert "2027-01-01 00:00" in report.label and "up to 2027-01-09 00:00" in report.label
    timed = ReportCommand.parse(["2027-01-01", "to", "2027-01-08", "12:00"], ctx)
    assert timed.end == datetime(2027, 1, 8, 11, tzinfo=UTC)  # a time of day stays as typed


def test_a_report_reads_weekdays_and_yesterday(sqlite_db: Database) -> None:
    ctx = example_team_context(sqlite_db, AMIRA, NOW)
    # A report looks back: on a Wednesday, `mon to fri` is this week's, not next week's.
    week = ReportCommand.parse(["mon", "to", "fri"], ctx)
    assert (week.start, week.end) == (
        datetime(2027, 3, 14, 23, tzinfo=UTC),
        datetime(2027, 3, 19, 23, tzinfo=UTC),
    )
    march = ReportCommand.parse(["mar", "1", "to", "mar", "15"], ctx)  # not March 2028
    assert (march.start, march.end) == (
        datetime(2027, 2, 28, 23, tzinfo=UTC),
        datetime(2027, 3, 15, 23, tzinfo=UTC),
    )
    past = ReportCommand.parse(["yesterday", "to", "yesterday"], ctx)
    assert (past.start, past.end) == (
        datetime(2027, 3, 15, 23, tzinfo=UTC),
        datetime(2027, 3, 16, 23, tzinfo=UTC),
    )
    with pytest.raises(UsageError, match="is empty"):
        ReportCommand.parse(["2027-01-01", "10:00", "to", "2027-01-01", "10:00"], ctx)


def test_a_chart_includes_the_end_day(sqlite_db: Database) -> None:
    ctx = example_team_context(sqlite_db, AMIRA, NOW)
    chart = RotaChart.parse(["2027-03-26", "to", "2027-03-31"], ctx)
    assert (chart.start, chart.end) == (
        datetime(2027, 3, 25, 23, tzinfo=UTC),
        datetime(2027, 3, 31, 22, tzinfo=UTC),  # 2027-04-01 00:00 in Berlin (CEST)
    )


@pytest.mark.parametrize("typed", [["week"], ["last", "week"], ["past", "week"], ["this", "week"]])
def test_last_week_is_the_rolling_week_and_the_label_says_which(
    sqlite_db: Database, typed: list[str]
) -> None:
    ctx = example_team_context(sqlite_db, AMIRA, NOW)
    report = ReportCommand.parse(typed, ctx)
    assert (report.start, report.end) == (datetime(2027, 3, 10, 12, tzinfo=UTC), NOW)
    assert report.label.startswith("the last 7 days (2027-03-10 13:00")
    with pytest.raises(UsageError, match="unknown period `last`"):
        ReportCommand.parse(["last"], ctx)
