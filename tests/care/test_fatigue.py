"""Fatigue rules: each one on a rota made to break it, silence on one that keeps to all of them,
and the interval arithmetic against minute-by-minute brute force."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rota.fatigue import (
    duty_periods,
    fatigue_warnings,
    nights_touched,
    short_rests,
)
from rota.spec import FatigueSpec
from rota.yamlio import RotaError, dump_rota_yaml, load_rota_yaml

START = datetime(2027, 3, 1, tzinfo=UTC)  # a Monday
END = START + timedelta(days=14)


def rota(rotations: str, *, fatigue: str = "", overrides: str = "") -> str:
    return f"""
team:
  name: Care
  tz: UTC
{fatigue}
members:
  - {{id: UA, name: Ana, tz: Europe/Berlin}}
  - {{id: UB, name: Bo, tz: America/New_York}}
  - {{id: UC, name: Cy, tz: UTC}}
  - {{id: UD, name: Di, tz: UTC}}
  - {{id: UE, name: Ed, tz: UTC}}
rotations:
{rotations}
{overrides}
"""


# Four people taking turns at a daytime shift: 8 hours every fourth day, never at night.
KIND = """
  - name: days
    tz: UTC
    handoff: '0 9 * * *'
    start: 2027-01-04T09:00:00Z
    participants: [UA, UB, UC, UD]
    restrictions: [{from: '09:00', to: '17:00'}]
"""


def rules(text: str) -> list[tuple[str, str]]:
    return [(w.rule, w.member) for w in fatigue_warnings(load_rota_yaml(text), START, END)]


def test_a_kind_rota_is_silent() -> None:
    assert rules(rota(KIND)) == []


def test_night_streak_in_the_members_own_zone() -> None:
    # Ana alone on 22:00–07:00 Berlin every night: 14 nights in a row.
    text = rota(
        """
  - name: nights
    tz: Europe/Berlin
    handoff: '0 22 * * *'
    start: 2027-01-04T22:00:00+01:00
    participants: [UA]
    restrictions: [{from: '22:00', to: '07:00'}]
""",
        fatigue="  fatigue: {max_share: 1}",
    )
    found = fatigue_warnings(load_rota_yaml(text), START, END)
    assert {(w.rule, w.member) for w in found} == {("night_streak", "UA")}
    text_out = found[0].describe()
    assert "Ana (UA)" in text_out and "more than 3" in text_out
    assert "2027-02-28T21:00:00Z" in text_out  # UTC, and the member's local time:
    assert "2027-02-28 22:00 CET (UTC+01:00)" in text_out


def test_a_night_off_between_nights_breaks_the_streak() -> None:
    # The same nights, but the streak limit sits above what a fortnight can hold.
    text = rota(
        """
  - name: nights
    tz: Europe/Berlin
    handoff: '0 22 * * *'
    start: 2027-01-04T22:00:00+01:00
    participants: [UA, UB]
    restrictions: [{from: '22:00', to: '07:00'}]
""",
        fatigue="  fatigue: {max_share: 1}",
    )
    # Alternate nights: Ana has a night off between every two of hers; Bo's 22:00–07:00
    # Berlin is 16:00–01:00 in New York: it touches his night (23:00) every second day too.
    assert rules(text) == []


def test_long_shift() -> None:
    text = rota(
        """
  - name: full-days
    tz: UTC
    handoff: '0 9 * * *'
    start: 2027-01-04T09:00:00Z
    participants: [UA, UB, UC, UD, UE]
"""
    )
    found = {r for r, _ in rules(text)}
    assert found == {"long_shift"}


def test_short_rest_between_a_shift_and_an_override() -> None:
    text = rota(
        KIND,
        overrides="""
overrides:
  - {member: UC, start: 2027-03-03T19:00:00Z, end: 2027-03-03T22:00:00Z}
""",
    )
    # Cy works 09:00–17:00 on 3 March (UTC): back at 19:00 is 2 hours of rest.
    assert ("short_rest", "UC") in rules(text)
    assert {r for r, _ in rules(text)} == {"short_rest"}


def test_heavy_share() -> None:
    text = rota(
        """
  - name: days
    tz: UTC
    handoff: '0 9 * * *'
    start: 2027-01-04T09:00:00Z
    participants: [UD]
    restrictions: [{from: '09:00', to: '17:00'}]
"""
    )
    assert rules(text) == [("heavy_share", "UD")]  # 8 of every 24 hours: 33 % > 25 %


def test_thresholds_come_from_the_team_settings() -> None:
    text = rota(
        """
  - name: days
    tz: UTC
    handoff: '0 9 * * *'
    start: 2027-01-04T09:00:00Z
    participants: [UD]
    restrictions: [{from: '09:00', to: '17:00'}]
""",
        fatigue="  fatigue: {max_share: 0.4}",
    )
    assert rules(text) == []


def test_fatigue_settings_are_validated_with_paths_and_round_trip() -> None:
    with pytest.raises(RotaError) as raised:
        load_rota_yaml(rota(KIND, fatigue="  fatigue: {max_share: 1.5, night_streak: 0, x: 1}"))
    text = "\n".join(raised.value.messages)
    assert "team.fatigue.max_share:" in text
    assert "team.fatigue.night_streak:" in text
    assert "team.fatigue.x: unknown key" in text
    spec = load_rota_yaml(rota(KIND, fatigue="  fatigue: {min_rest_hours: 9}"))
    assert spec.team.fatigue == FatigueSpec(min_rest_hours=9)
    assert load_rota_yaml(dump_rota_yaml(spec)) == spec
    assert "fatigue" not in dump_rota_yaml(load_rota_yaml(rota(KIND)))


# --- the interval rules against brute force -------------------------------------------------

MINUTES = 6 * 24 * 60
intervals = st.lists(
    st.tuples(st.integers(0, MINUTES - 1), st.integers(1, 20 * 60)), min_size=1, max_size=8
)


def _busy_minutes(spans: list[tuple[int, int]]) -> list[bool]:
    busy = [False] * (MINUTES + 21 * 60)
    for a, length in spans:
        for m in range(a, a + length):
            busy[m] = True
    return busy


@settings(max_examples=150, deadline=None)
@given(intervals, st.integers(0, 16 * 60))
def test_short_rests_match_minute_brute_force(spans: list[tuple[int, int]], rest: int) -> None:
    busy = _busy_minutes(spans)
    # Oracle: every run of free minutes with busy minutes on both sides, shorter than `rest`.
    expected = []
    m = 0
    while m < len(busy):
        if busy[m]:
            m += 1
            continue
        end = m
        while end < len(busy) and not busy[end]:
            end += 1
        if m > 0 and end < len(busy) and end - m < rest:
            expected.append((m * 60, end * 60))
        m = end
    periods = duty_periods([(a * 60, (a + n) * 60) for a, n in spans])
    got = [(x[1], y[0]) for x, y in short_rests(periods, rest * 60)]
    assert got == expected


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 60 * 24 * 20),
    st.integers(1, 60 * 30),
    st.sampled_from(["Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC"]),
)
def test_nights_touched_match_minute_brute_force(start: int, length: int, tz: str) -> None:
    zi = ZoneInfo(tz)
    base = datetime(2027, 3, 20, tzinfo=UTC)  # spans both spring-forward dates
    first = base + timedelta(minutes=start)
    expected: set[date] = set()
    for m in range(length):
        local = (first + timedelta(minutes=m)).astimezone(zi)
        if local.hour >= 23:
            expected.add(local.date())
        elif local.hour < 6:
            expected.add(local.date() - timedelta(days=1))
    a = int(first.timestamp())
    assert set(nights_touched((a, a + length * 60), zi)) == expected
