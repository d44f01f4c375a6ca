"""A week of handoffs of the follow-the-sun example across the US and the EU DST changes.

The expected list is built here from wall times and zoneinfo alone (each region's window opens
at its local hour; the pager passes region to region), not from the engine: none missing, none
doubled, each at its UTC instant.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from chatops.db import Database
from rota.spec import MemberSpec, RestrictionSpec, Role, RotaSpec, RotationSpec, TeamSpec
from rota.timefmt import fmt_utc_words
from tests.support.handoff_world import make_world

APAC = ("apac", "Asia/Kolkata", time(5, 0), ["U01PRAMAN0", "U01OCHEN00", "U01AMEHTA0"])
EMEA = ("emea", "Europe/Berlin", time(8, 0), ["U01AHADDAD", "U01EPETROV", "U01LBECKER"])
AMER = ("amer", "America/New_York", time(11, 0), ["U01SMARTIN", "U01MEILIN0", "U01DOKAFOR"])
SECONDARY = ["U01LBECKER", "U01DOKAFOR", "U01AHADDAD", "U01PRAMAN0", "U01SMARTIN"]
FIRST_MONDAY = date(2026, 12, 28)
ZONES = {
    "U01AHADDAD": "Europe/Berlin",
    "U01LBECKER": "Europe/Berlin",
    "U01EPETROV": "Europe/Berlin",
    "U01SMARTIN": "America/New_York",
    "U01DOKAFOR": "America/New_York",
    "U01MEILIN0": "America/Los_Angeles",
    "U01PRAMAN0": "Asia/Kolkata",
    "U01AMEHTA0": "Asia/Kolkata",
    "U01OCHEN00": "Australia/Sydney",
}


def follow_the_sun() -> RotaSpec:
    """The shape of examples/follow-the-sun.yaml, pinned here so the expectations stay put:
    three regions each open 08:00-ish to 18:00-ish local, overlapping, and a weekly secondary."""

    def region(name: str, tz: str, opens: time, people: list[str], closes: time) -> RotationSpec:
        return RotationSpec(
            name=name,
            tz=tz,
            handoff=f"{opens.minute} {opens.hour} * * mon",
            start=datetime.combine(FIRST_MONDAY, opens, tzinfo=ZoneInfo(tz)),
            participants=tuple(people),
            restrictions=(RestrictionSpec(start=opens, end=closes),),
        )

    return RotaSpec(
        team=TeamSpec(name="Trust & Safety", channel="#ts-oncall"),
        members=tuple(
            MemberSpec(
                id=m,
                name=m,
                tz=tz,
                role=Role.manager if m == "U01LBECKER" else Role.responder,
            )
            for m, tz in ZONES.items()
        ),
        rotations=(
            region(*APAC, time(14, 30)),
            region(*EMEA, time(18, 0)),
            region(*AMER, time(20, 0)),
            RotationSpec(
                name="secondary",
                tz="UTC",
                handoff="0 9 * * mon",
                start=datetime.combine(FIRST_MONDAY, time(9, 0), tzinfo=UTC),
                participants=tuple(SECONDARY),
                layer="secondary",
            ),
        ),
    )


def _member(people: list[str], day: date) -> str:
    """Weekly turns from the first Monday (the handoff is the Monday window's opening)."""
    return people[((day - FIRST_MONDAY).days // 7) % len(people)]


def expected(start: datetime, end: datetime) -> list[tuple[str, datetime, str, str]]:
    """(rotation, instant, incoming, outgoing) of every handoff in [start, end)."""
    out: list[tuple[str, datetime, str, str]] = []
    day = start.date() - timedelta(days=2)
    while day <= end.date() + timedelta(days=1):
        regions = {
            # the region on duty just before each one opens: amer of the previous day for apac
            "apac": (APAC, _member(AMER[3], day - timedelta(days=1))),
            "emea": (EMEA, _member(APAC[3], day)),
            "amer": (AMER, _member(EMEA[3], day)),
        }
        for (name, tz, opens, people), previous in regions.values():
            at = datetime.combine(day, opens, tzinfo=ZoneInfo(tz)).astimezone(UTC)
            out.append((name, at, _member(people, day), previous))
        if day.weekday() == 0:
            at = datetime.combine(day, time(9, 0), tzinfo=UTC)
            previous = _member(SECONDARY, day - timedelta(days=7))
            out.append(("secondary", at, _member(SECONDARY, day), previous))
        day += timedelta(days=1)
    return sorted((x for x in out if start <= x[1] < end), key=lambda x: x[1])


_TITLE = re.compile(r"Handoff · (\w+) · (\d{4}-\d\d-\d\d \d\d:\d\d UTC)")


@pytest.mark.parametrize(
    "start",
    [
        pytest.param(datetime(2027, 3, 8, 3, 0, tzinfo=UTC), id="us-dst-2027-03-14"),
        pytest.param(datetime(2027, 3, 22, 3, 0, tzinfo=UTC), id="eu-dst-2027-03-28"),
    ],
)
def test_a_week_of_follow_the_sun_handoffs_across_dst(db: Database, start: datetime) -> None:
    end = start + timedelta(days=8)
    world = make_world(db, follow_the_sun(), start)
    world.run_until(end - timedelta(seconds=1))

    want = expected(start, end)
    posts = world.posts()
    got = []
    for p in posts:
        assert p.channel == "#ts-oncall"
        match = _TITLE.search(p.text)
        assert match, p.text
        got.append((match.group(1), match.group(2)))
    assert got == [(r, fmt_utc_words(at)) for r, at, _, _ in want]  # none missing, none doubled

    rows = [h for h in world.handoffs() if h.posted_at is not None]
    assert [(h.rotation, h.at, h.incoming) for h in rows] == [(r, a, i) for r, a, i, _ in want]
    for h, (_, _, incoming, outgoing) in zip(rows, want, strict=True):
        assert f"<@{incoming}>" in next(p.text for p in posts if fmt_utc_words(h.at) in p.text)
        assert outgoing in h.outgoing
        assert h.posted_at == h.at  # on time, to the second

    # The DST changes moved the local-hour boundaries by an hour in UTC, and only those.
    by_rotation = {r: [a for rr, a, _, _ in want if rr == r] for r in ("emea", "amer", "apac")}
    for name, instants in by_rotation.items():
        hours = {a.hour for a in instants}
        assert len(instants) == 8
        if name == "apac":
            assert hours == {23}  # India keeps no DST
        elif start.month == 3 and start.day < 14:
            assert hours == ({16, 15} if name == "amer" else {7})
        else:
            assert hours == ({15} if name == "amer" else {7, 6})
