"""DST on the real 2027 transition dates: handoffs, windows, 23/25-hour shifts, follow-the-sun."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from rota.coverage import Gap, coverage_gaps
from rota.handoffs import handoff_instants
from rota.resolve import compile_rota, shifts
from rota.spec import MemberSpec, RestrictionSpec, RotaSpec, RotationSpec, TeamSpec


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def rotation(tz: str, cron: str, start: datetime, **extra: object) -> RotationSpec:
    return RotationSpec.model_validate(
        {"name": "r", "tz": tz, "handoff": cron, "start": start, "participants": ["U1"], **extra}
    )


def team(*rotations: RotationSpec) -> RotaSpec:
    return RotaSpec(
        team=TeamSpec(name="t"),
        members=(
            MemberSpec(id="U1", name="A", tz="Europe/Berlin"),
            MemberSpec(id="U2", name="B", tz="America/New_York"),
        ),
        rotations=rotations,
    )


@pytest.mark.parametrize(
    ("tz", "before", "after"),
    [
        ("America/New_York", utc(2027, 3, 13, 12), utc(2027, 3, 14, 12)),
        ("America/New_York", utc(2027, 11, 6, 12), utc(2027, 11, 7, 12)),
        ("Europe/Berlin", utc(2027, 3, 27, 12), utc(2027, 3, 28, 12)),
        ("Europe/Berlin", utc(2027, 10, 30, 12), utc(2027, 10, 31, 12)),
        ("Australia/Sydney", utc(2027, 4, 3, 0), utc(2027, 4, 4, 0)),
        ("Australia/Sydney", utc(2027, 10, 2, 0), utc(2027, 10, 3, 0)),
        ("Australia/Lord_Howe", utc(2027, 4, 3, 0), utc(2027, 4, 4, 0)),
        ("Australia/Lord_Howe", utc(2027, 10, 2, 0), utc(2027, 10, 3, 0)),
    ],
)
def test_the_transition_dates_are_real(tz: str, before: datetime, after: datetime) -> None:
    zone = ZoneInfo(tz)
    assert before.astimezone(zone).utcoffset() != after.astimezone(zone).utcoffset()


@pytest.mark.parametrize(
    ("tz", "cron", "day", "expected"),
    [
        # Spring forward: the skipped wall time happens at the first valid instant after it.
        ("America/New_York", "30 2 * * *", utc(2027, 3, 14), utc(2027, 3, 14, 7, 0)),  # 03:00 EDT
        ("Europe/Berlin", "30 2 * * *", utc(2027, 3, 28), utc(2027, 3, 28, 1, 0)),  # 03:00 CEST
        ("Australia/Sydney", "30 2 * * *", utc(2027, 10, 2), utc(2027, 10, 2, 16, 0)),  # 03:00
        ("Australia/Lord_Howe", "15 2 * * *", utc(2027, 10, 2), utc(2027, 10, 2, 15, 30)),  # 02:30
        # Fall back: the repeated wall time happens once, at its first occurrence.
        ("America/New_York", "30 1 * * *", utc(2027, 11, 7), utc(2027, 11, 7, 5, 30)),  # EDT
        ("Europe/Berlin", "30 2 * * *", utc(2027, 10, 31), utc(2027, 10, 31, 0, 30)),  # CEST
        ("Australia/Sydney", "30 2 * * *", utc(2027, 4, 3), utc(2027, 4, 3, 15, 30)),  # AEDT
        ("Australia/Lord_Howe", "45 1 * * *", utc(2027, 4, 3), utc(2027, 4, 3, 14, 45)),  # +11
    ],
)
def test_handoff_on_transition_night(tz: str, cron: str, day: datetime, expected: datetime) -> None:
    rot = rotation(tz, cron, day - timedelta(days=3))
    got = handoff_instants(rot, day - timedelta(hours=1), day + timedelta(days=1))
    assert got == [expected]


def test_fall_back_fires_once_where_croniter_fires_twice() -> None:
    rot = rotation("America/New_York", "30 1 * * *", utc(2027, 11, 1))
    got = handoff_instants(rot, utc(2027, 11, 6), utc(2027, 11, 9))
    assert got == [utc(2027, 11, 6, 5, 30), utc(2027, 11, 7, 5, 30), utc(2027, 11, 8, 6, 30)]


def test_wall_times_in_one_gap_collapse_into_one_handoff() -> None:
    rot = rotation("America/New_York", "0,30 2,3 * * *", utc(2027, 3, 13))
    got = handoff_instants(rot, utc(2027, 3, 14, 6), utc(2027, 3, 14, 9))
    # 02:00, 02:30 and 03:00 all happen at 03:00 EDT (07:00 UTC); 03:30 EDT follows.
    assert got == [utc(2027, 3, 14, 7, 0), utc(2027, 3, 14, 7, 30)]


def test_start_is_handoff_zero_even_off_cron() -> None:
    rot = rotation("Europe/Berlin", "0 9 * * *", utc(2027, 1, 1, 3, 17))
    got = handoff_instants(rot, utc(2027, 1, 1), utc(2027, 1, 3))
    assert got == [utc(2027, 1, 1, 3, 17), utc(2027, 1, 1, 8), utc(2027, 1, 2, 8)]


@pytest.mark.parametrize(
    ("tz", "day", "hours"),
    [
        ("America/New_York", datetime(2027, 3, 13), 23),
        ("America/New_York", datetime(2027, 11, 6), 25),
        ("Europe/Berlin", datetime(2027, 3, 27), 23),
        ("Europe/Berlin", datetime(2027, 10, 30), 25),
        ("Australia/Sydney", datetime(2027, 10, 2), 23),
        ("Australia/Sydney", datetime(2027, 4, 3), 25),
        ("Australia/Lord_Howe", datetime(2027, 10, 2), 23.5),
        ("Australia/Lord_Howe", datetime(2027, 4, 3), 24.5),
    ],
)
def test_short_and_long_days_keep_coverage_continuous(tz: str, day: datetime, hours: float) -> None:
    zone = ZoneInfo(tz)
    nine = day.replace(hour=9, tzinfo=zone)
    rot = rotation(tz, "0 9 * * *", nine - timedelta(days=2))
    rota = team(rot)
    timeline = shifts(rota, nine.astimezone(UTC), nine.astimezone(UTC) + timedelta(hours=1))
    assert len(timeline) == 1
    assert timeline[0].start == nine.astimezone(UTC)
    assert timeline[0].end - timeline[0].start == timedelta(hours=hours)
    assert coverage_gaps(rota, nine - timedelta(days=2), nine + timedelta(days=2)) == []


def test_window_edge_in_the_gap_opens_at_the_first_valid_instant() -> None:
    window = RestrictionSpec.model_validate({"days": ["sun"], "from": "02:30", "to": "06:00"})
    rot = rotation("America/New_York", "0 0 * * *", utc(2027, 3, 1), restrictions=[window])
    got = shifts(team(rot), utc(2027, 3, 14), utc(2027, 3, 15))
    assert [(s.start, s.end) for s in got] == [(utc(2027, 3, 14, 7), utc(2027, 3, 14, 10))]


def test_window_edge_in_the_repeated_hour_closes_at_the_first_occurrence() -> None:
    window = RestrictionSpec.model_validate({"days": ["sun"], "from": "00:00", "to": "01:30"})
    rot = rotation("America/New_York", "0 12 * * *", utc(2027, 11, 1), restrictions=[window])
    got = shifts(team(rot), utc(2027, 11, 7), utc(2027, 11, 8))
    assert [(s.start, s.end) for s in got] == [(utc(2027, 11, 7, 4), utc(2027, 11, 7, 5, 30))]


def _follow_the_sun() -> RotaSpec:
    """Berlin 08–20 and New York 14–02: they touch in winter and in summer, and leave one hour
    uncovered on the days when only the US has moved its clocks."""

    def restricted(name: str, tz: str, start: str, end: str, who: str) -> RotationSpec:
        window = RestrictionSpec.model_validate({"from": start, "to": end})
        return RotationSpec(
            name=name,
            tz=tz,
            handoff="0 12 * * mon",
            start=utc(2026, 12, 1),
            participants=(who,),
            restrictions=(window,),
        )

    return team(
        restricted("emea", "Europe/Berlin", "08:00", "20:00", "U1"),
        restricted("amer", "America/New_York", "14:00", "02:00", "U2"),
    )


def test_follow_the_sun_finds_exactly_the_hours_between_the_us_and_eu_dst_dates() -> None:
    rota = _follow_the_sun()
    gaps = coverage_gaps(rota, utc(2027, 1, 1), utc(2028, 1, 1))
    # US springs forward on 03-14 (New York's window that night closes at the skipped 02:00,
    # i.e. 03:00 EDT = 07:00 UTC: still touching), Berlin on 03-28. Berlin falls back on 10-31,
    # New York on 11-07 (its 02:00 that night is 02:00 EST = 07:00 UTC: touching again).
    spring = [utc(2027, 3, d, 6) for d in range(15, 28)]
    autumn = [utc(2027, 10, 31, 6)] + [utc(2027, 11, d, 6) for d in range(1, 7)]
    assert gaps == [Gap(s, s + timedelta(hours=1), 0) for s in spring + autumn]


def test_follow_the_sun_one_day_exact_hour() -> None:
    gaps = coverage_gaps(_follow_the_sun(), utc(2027, 3, 20), utc(2027, 3, 21))
    assert gaps == [Gap(utc(2027, 3, 20, 6), utc(2027, 3, 20, 7), 0)]


def test_follow_the_sun_windows_touch_in_winter_and_summer() -> None:
    rota = compile_rota(_follow_the_sun())
    for day in (utc(2027, 1, 20), utc(2027, 7, 20), utc(2027, 12, 20)):
        assert coverage_gaps(rota, day, day + timedelta(days=1)) == []
    # Touching, never overlapping: with two required the whole day has exactly one on call.
    day = utc(2027, 1, 20)
    assert coverage_gaps(rota, day, day + timedelta(days=1), required=2) == [
        Gap(day, day + timedelta(days=1), 1)
    ]
    # In winter the windows touch exactly: 07:00 and 19:00 UTC are handovers with one on call.
    winter = rota.on_call(utc(2027, 1, 20, 7))
    assert [(s.rotation, s.start) for s in winter] == [("emea", utc(2027, 1, 20, 7))]
    before = rota.on_call(utc(2027, 1, 20, 6, 59, 59))
    assert [(s.rotation, s.end) for s in before] == [("amer", utc(2027, 1, 20, 7))]
