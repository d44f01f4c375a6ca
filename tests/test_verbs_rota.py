"""`/ts who` and `/ts shifts` through the same dispatch that Slack and the console use."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chatops.db import Database
from commands.context import Context, UsageError
from commands.registry import dispatch
from commands.timeparse import parse_span, parse_when
from rota.resolve import compile_rota
from rota.yamlio import load_rota_yaml
from tests.support.clirun import EXAMPLE
from tests.support.teams import example_team_context

NOW = datetime(2027, 3, 20, 12, 0, tzinfo=UTC)
BERLIN = "U01LBECKER"
KOLKATA = "U01PRAMAN0"


@pytest.fixture
def ctx(db: Database) -> Context:
    return example_team_context(db, BERLIN, NOW)


def test_who_lists_every_rotation_on_call_in_the_askers_zone(ctx: Context) -> None:
    reply = dispatch("who", ctx)
    assert reply.ok
    spec = load_rota_yaml(EXAMPLE)
    names = {m.id: m.name for m in spec.members}
    for shift in compile_rota(spec).on_call(NOW):
        assert f"{shift.rotation}: {names[shift.member]}" in reply.text
        local = shift.end.astimezone(ZoneInfo("Europe/Berlin")).strftime("%Y-%m-%d %H:%M")
        assert f"until {local} CET" in str(reply.blocks)


def test_who_at_reads_the_time_in_the_askers_zone(db: Database) -> None:
    kolkata = example_team_context(db, KOLKATA, NOW)
    reply = dispatch("who at 2027-03-21 09:00", kolkata)
    assert reply.ok
    at = datetime(2027, 3, 21, 3, 30, tzinfo=UTC)  # 09:00 IST
    expected = compile_rota(load_rota_yaml(EXAMPLE)).on_call(at)
    assert "On call 2027-03-21 09:00 IST (UTC+05:30)" in str(reply.blocks)
    for shift in expected:
        assert f"<@{shift.member}>" in str(reply.blocks)


def test_who_with_nobody_on_call_says_pages_go_to_managers(ctx: Context) -> None:
    reply = dispatch("who at 2026-01-01 00:00", ctx)  # before every rotation starts
    assert "Nobody is on call" in reply.text and "managers" in reply.text


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("who at", "`at` needs a time"),
        ("who at 25:00", "`25:00` is not a time of day"),
        ("who at 2027-02-30 10:00", "`2027-02-30` is not a real date"),
        ("who soon", "can't read `soon` as a time"),
        ("shifts days:0", "days must be a number from 1 to 60"),
        ("shifts <@U0NOBODY>", "<@U0NOBODY> is not a member"),
        ("shifts everyone", "unexpected `everyone`"),
    ],
)
def test_mistakes_are_one_line_with_usage(ctx: Context, line: str, reason: str) -> None:
    reply = dispatch(line, ctx)
    assert not reply.ok
    first, usage = reply.text.split("\n")
    assert reason in first
    assert usage.startswith("Usage: `/ts ")


def test_shifts_default_to_mine_for_seven_days(ctx: Context) -> None:
    reply = dispatch("shifts", ctx)
    spec = load_rota_yaml(EXAMPLE)
    mine = compile_rota(spec).shifts(NOW, datetime(2027, 3, 27, 12, tzinfo=UTC), member=BERLIN)
    assert reply.text == f"{len(mine)} shift(s) in the next 7 days"
    assert "Your shifts" in str(reply.blocks)


def test_shifts_of_the_whole_team_mention_each_member(ctx: Context) -> None:
    reply = dispatch("shifts all days:1", ctx)
    spec = load_rota_yaml(EXAMPLE)
    found = compile_rota(spec).shifts(NOW, datetime(2027, 3, 21, 12, tzinfo=UTC))
    assert reply.text == f"{len(found)} shift(s) in the next 1 days"
    for shift in found:
        assert f"<@{shift.member}>" in str(reply.blocks)


def test_someone_outside_the_team_is_told_whom_to_ask(ctx: Context) -> None:
    stranger = replace(ctx, actor=None, admin_contact="@ts-managers")
    reply = dispatch("who", stranger)
    assert not reply.ok
    assert "not a member of the *Trust &amp; Safety* team" in reply.text
    assert "@ts-managers" in reply.text
    assert dispatch("help", stranger).ok  # help stays open to everyone


@pytest.mark.parametrize(
    ("tz", "text", "expected"),
    [
        # spring forward in New York: 02:30 does not exist, it is 03:00 EDT (07:00Z)
        ("America/New_York", "2027-03-14 02:30", datetime(2027, 3, 14, 7, 0, tzinfo=UTC)),
        # fall back in New York: 01:30 happens twice, the first (EDT, 05:30Z) is meant
        ("America/New_York", "2027-11-07 01:30", datetime(2027, 11, 7, 5, 30, tzinfo=UTC)),
        ("Asia/Kathmandu", "2027-01-01 00:00", datetime(2026, 12, 31, 18, 15, tzinfo=UTC)),
        ("Europe/Berlin", "tomorrow 09:00", datetime(2027, 3, 21, 8, 0, tzinfo=UTC)),
        ("Europe/Berlin", "13:00", datetime(2027, 3, 20, 12, 0, tzinfo=UTC)),
        ("Europe/Berlin", "in 90m", datetime(2027, 3, 20, 13, 30, tzinfo=UTC)),
        ("Europe/Berlin", "mon 08:00", datetime(2027, 3, 22, 7, 0, tzinfo=UTC)),
        ("Europe/Berlin", "2027-03-20T12:00Z", datetime(2027, 3, 20, 12, 0, tzinfo=UTC)),
        ("Europe/Berlin", "in 2 hours", datetime(2027, 3, 20, 14, 0, tzinfo=UTC)),
        ("Europe/Berlin", "next mon 08:00", datetime(2027, 3, 22, 7, 0, tzinfo=UTC)),
        # a month and day: the next one, this year's or (once passed) next year's
        ("Europe/Berlin", "dec 28", datetime(2027, 12, 27, 23, 0, tzinfo=UTC)),
        ("Europe/Berlin", "28 March 09:00", datetime(2027, 3, 28, 7, 0, tzinfo=UTC)),
        ("Europe/Berlin", "jan 5th", datetime(2028, 1, 4, 23, 0, tzinfo=UTC)),
        # am/pm as people type it: 12am is midnight, 12pm noon
        ("Europe/Berlin", "tomorrow 9am", datetime(2027, 3, 21, 8, 0, tzinfo=UTC)),
        ("Europe/Berlin", "tomorrow 5:30 PM", datetime(2027, 3, 21, 16, 30, tzinfo=UTC)),
        ("Europe/Berlin", "tomorrow 12am", datetime(2027, 3, 20, 23, 0, tzinfo=UTC)),
        ("Europe/Berlin", "tomorrow 12pm", datetime(2027, 3, 21, 11, 0, tzinfo=UTC)),
        ("Europe/Berlin", "9pm", datetime(2027, 3, 20, 20, 0, tzinfo=UTC)),
        # the time before the day, as people say it
        ("Europe/Berlin", "3am tomorrow", datetime(2027, 3, 21, 2, 0, tzinfo=UTC)),
        ("Europe/Berlin", "3 am tomorrow", datetime(2027, 3, 21, 2, 0, tzinfo=UTC)),
        ("Europe/Berlin", "08:00 mon", datetime(2027, 3, 22, 7, 0, tzinfo=UTC)),
    ],
)
def test_times_are_read_in_the_askers_zone_with_the_dst_rules(
    ctx: Context, tz: str, text: str, expected: datetime
) -> None:
    assert ctx.actor is not None
    asker = replace(ctx, actor=replace(ctx.actor, tz=tz))
    assert parse_when(text, asker, now=NOW) == expected


@pytest.mark.parametrize("text", ["13pm", "0am", "9", "25:00", "9:75am"])
def test_a_time_of_day_that_is_not_one_is_refused(ctx: Context, text: str) -> None:
    with pytest.raises(UsageError, match=r"not a time of day|can't read"):
        parse_when(f"tomorrow {text}", ctx, now=NOW)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        # an end given as a time alone is on the start's day …
        ("tomorrow 09:00 to 17:00", datetime(2027, 3, 21, 8, 0), datetime(2027, 3, 21, 16, 0)),
        ("tomorrow 9am to 5pm", datetime(2027, 3, 21, 8, 0), datetime(2027, 3, 21, 16, 0)),
        # … or the next day when that would not be after the start (overnight)
        ("mon 22:00 to 06:00", datetime(2027, 3, 22, 21, 0), datetime(2027, 3, 23, 5, 0)),
        # a day named at the end still wins
        ("tomorrow 09:00 to mon 17:00", datetime(2027, 3, 21, 8, 0), datetime(2027, 3, 22, 16, 0)),
        # a reason's word is not a weekday because it starts like one
        ("tomorrow 09:00 to 17:00 wedding", datetime(2027, 3, 21, 8), datetime(2027, 3, 21, 16)),
        ("tomorrow 09:00 to 17:00 sunny day", datetime(2027, 3, 21, 8), datetime(2027, 3, 21, 16)),
        # hours written as a range, and a day named once after both times
        ("tomorrow 9am-5pm", datetime(2027, 3, 21, 8, 0), datetime(2027, 3, 21, 16, 0)),
        ("9am to 5pm tomorrow", datetime(2027, 3, 21, 8, 0), datetime(2027, 3, 21, 16, 0)),
        ("22:00 to 06:00 tue", datetime(2027, 3, 22, 21, 0), datetime(2027, 3, 23, 5, 0)),
        # punctuation after the day, `on`, `until`, `-` and bare hours as people write them
        ("9am to 5pm Tuesday.", datetime(2027, 3, 23, 8, 0), datetime(2027, 3, 23, 16, 0)),
        ("09:00 to 17:00 tue, dentist", datetime(2027, 3, 23, 8), datetime(2027, 3, 23, 16)),
        ("9am to 5pm on tuesday", datetime(2027, 3, 23, 8, 0), datetime(2027, 3, 23, 16, 0)),
        ("tue 10:00 until 12:00", datetime(2027, 3, 23, 9, 0), datetime(2027, 3, 23, 11, 0)),
        ("tue 9-17", datetime(2027, 3, 23, 8, 0), datetime(2027, 3, 23, 16, 0)),
        # a start given as a time alone stays on its own day when the end names its day first
        ("14:00 to mon 09:00", datetime(2027, 3, 20, 13, 0), datetime(2027, 3, 22, 8, 0)),
        # the hour the clocks skip (Berlin, 2027-03-28 02:00-03:00) is one instant, not a day
        ("2027-03-28 02:00 to 03:00", datetime(2027, 3, 28, 1, 0), datetime(2027, 3, 28, 1, 0)),
    ],
)
def test_a_spans_end_given_as_a_time_alone_is_on_the_starts_day(
    ctx: Context, text: str, start: datetime, end: datetime
) -> None:
    got = parse_span(text.split(), ctx)
    assert got[:2] == (start.replace(tzinfo=UTC), end.replace(tzinfo=UTC))


def test_hours_written_as_lengths_before_to_are_refused_not_read_as_a_length(
    ctx: Context,
) -> None:
    for typed in ("fri 14h to 16h", "fri 14h - 16h", "fri 14h until 16h", "fri 14 h to 16 h"):
        with pytest.raises(UsageError, match="reads as a length, not a time of day"):
            parse_span(typed.split(), ctx)
    start, end, rest = parse_span(["now", "2h", "to", "see", "the", "doctor"], ctx)
    assert end - start == timedelta(hours=2) and rest == ["to", "see", "the", "doctor"]
    with pytest.raises(UsageError, match="says the day, not when in it"):
        parse_span(["fri", "for", "2h"], ctx)  # 00:00 to 02:00: nobody means that


@pytest.mark.parametrize(
    ("typed", "start", "end", "rest"),
    [
        # a day alone is that whole day, punctuation, `on` and a dash before the reason or not
        ("tue, dentist", datetime(2027, 3, 22, 23), datetime(2027, 3, 23, 23), ["dentist"]),
        ("on tuesday dentist", datetime(2027, 3, 22, 23), datetime(2027, 3, 23, 23), ["dentist"]),
        ("tue - dentist", datetime(2027, 3, 22, 23), datetime(2027, 3, 23, 23), ["-", "dentist"]),
        ("tue 1-1 with Sam", datetime(2027, 3, 22, 23), datetime(2027, 3, 23, 23), None),
        ("tue going to the dentist", datetime(2027, 3, 22, 23), datetime(2027, 3, 23, 23), None),
        # an end day followed by punctuation still includes that day
        ("mon to fri, family", datetime(2027, 3, 21, 23), datetime(2027, 3, 26, 23), ["family"]),
    ],
)
def test_whole_days_as_people_write_them(
    ctx: Context, typed: str, start: datetime, end: datetime, rest: list[str] | None
) -> None:
    got = parse_span(typed.split(), ctx, whole_days=True)
    assert got[:2] == (start.replace(tzinfo=UTC), end.replace(tzinfo=UTC))
    if rest is not None:
        assert got[2] == rest


def test_a_range_written_as_one_word_ends_in_it(ctx: Context) -> None:
    """`tomorrow 9am-5pm sunday school`: Sunday is the reason's, not the range's end."""
    start, end, rest = parse_span(["tomorrow", "9am-5pm", "sunday", "school"], ctx)
    assert (start, end) == (
        datetime(2027, 3, 21, 8, tzinfo=UTC),
        datetime(2027, 3, 21, 16, tzinfo=UTC),
    )
    assert rest == ["sunday", "school"]


@pytest.mark.parametrize(
    "typed", ["tue 9-5", "14-18 april", "1-15 mar holiday", "tue 14h30-16h", "tomorrow 9 to 5"]
)
def test_number_ranges_that_are_not_clear_hours_are_refused(ctx: Context, typed: str) -> None:
    with pytest.raises(UsageError):
        parse_span(typed.split(), ctx, whole_days=True)


def test_a_naive_iso_time_is_refused(ctx: Context) -> None:
    with pytest.raises(UsageError, match="has no offset"):
        parse_when("2027-03-20T12:00", ctx, now=NOW)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("shifts dayz:3", "unknown option `dayz:` (did you mean `days:`?)"),
        (
            "rota override @amira 2027-03-21 08:00 to 2027-03-21 18:00 rotaton:emea",
            "unknown option `rotaton:` (did you mean `rotation:`?)",
        ),
        (
            "case open harassment sev3 abuse lnag:fr",
            "unknown option `lnag:` (did you mean `lang:`?)",
        ),
    ],
)
def test_a_mistyped_option_gets_did_you_mean_and_changes_nothing(
    ctx: Context, line: str, reason: str
) -> None:
    reply = dispatch(line, ctx)
    assert not reply.ok
    assert reply.text.splitlines()[0] == f":warning: {reason}"
