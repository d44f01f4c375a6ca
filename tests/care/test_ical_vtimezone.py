"""The feed's VTIMEZONE names summer time a DAYLIGHT component and winter time a STANDARD one,
each with its zone's real offset, whatever the window (RFC 5545 §3.6.5): calendar clients that
trust the kind would otherwise show shifts an hour off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rota.ical import vtimezone

#: Each zone's names and offsets: (daylight?, TZOFFSETTO) by TZNAME.
KNOWN = {
    "Europe/Berlin": {"CET": (False, "+0100"), "CEST": (True, "+0200")},
    "America/New_York": {"EST": (False, "-0500"), "EDT": (True, "-0400")},
}
WINDOWS = {
    "summer": datetime(2027, 7, 1, tzinfo=UTC),
    "winter": datetime(2027, 1, 10, tzinfo=UTC),
    "september": datetime(2027, 9, 15, tzinfo=UTC),  # across the autumn change
}


def _components(lines: list[str]) -> list[dict[str, str]]:
    """Each STANDARD / DAYLIGHT component of one VTIMEZONE as its properties, plus `KIND`."""
    assert lines[0] == "BEGIN:VTIMEZONE" and lines[-1] == "END:VTIMEZONE"
    found: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in lines[1:-1]:
        name, _, value = line.partition(":")
        if name == "BEGIN":
            current = {"KIND": value}
        elif name == "END":
            assert current is not None and current["KIND"] == value
            found.append(current)
            current = None
        elif current is not None:
            current[name] = value
    assert current is None
    return found


@pytest.mark.parametrize("tz", sorted(KNOWN))
@pytest.mark.parametrize("season", sorted(WINDOWS))
def test_vtimezone_kinds_and_offsets_match_the_season(tz: str, season: str) -> None:
    start = WINDOWS[season]
    components = _components(vtimezone(tz, start, start + timedelta(days=60)))
    assert components
    for component in components:
        daylight, offset = KNOWN[tz][component["TZNAME"]]
        assert component["KIND"] == ("DAYLIGHT" if daylight else "STANDARD"), component
        assert component["TZOFFSETTO"] == offset, component
