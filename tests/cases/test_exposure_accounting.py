"""Exposure accounting against a brute-force oracle, minute by minute, across DST weeks.

Random case histories (take, acknowledge, reassign, note, resolve, retype, going off shift) run
through the real case services on a real database; an independent model of who holds which
graphic case replays the same history one minute at a time and counts each member's minutes
per local day with `astimezone`. The spans the services wrote must give the same figures.

Going off shift is `exposure.end_member`, the call a handoff acceptance makes; the acceptance
itself is tested end to end in `test_a_handoff_accepted_ends_the_outgoing_span` below.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from chatops.cases import exposure, opening, service
from chatops.cases.exposure import ExposureSpan
from chatops.cases.models import Case
from chatops.db import Database
from chatops.team import Actor, actor_for_slack_id
from commands.registry import dispatch
from rota.models import Team
from rota.spec import MemberSpec, Role, RotaSpec, TeamSpec
from rota.store import save_rota
from tests.support.case_world import rotation
from tests.support.handoff_world import ANN, BEN, CAT, EVE, daily_team
from tests.support.handoff_world import make_world as handoff_world

GRAPHIC = {"terrorism", "threat-of-violence"}  # the defaults, minus the restricted types
TYPES = ["terrorism", "threat-of-violence", "harassment"]
HOLDERS = [ANN, BEN, EVE]
ZONES = {ANN: "Europe/Berlin", BEN: "America/New_York", EVE: "Africa/Cairo", CAT: "Europe/London"}
#: Windows around a DST change in one of the zones (Cairo's spring midnight does not exist).
WINDOWS = [
    datetime(2027, 3, 13, 12, 0, tzinfo=UTC),  # New York springs forward on the 14th
    datetime(2027, 3, 27, 12, 0, tzinfo=UTC),  # Berlin and London spring forward on the 28th
    datetime(2027, 4, 29, 12, 0, tzinfo=UTC),  # Cairo: Friday the 30th starts at 01:00
    datetime(2027, 10, 27, 12, 0, tzinfo=UTC),  # Cairo falls back at midnight on the 28th
    datetime(2027, 10, 30, 12, 0, tzinfo=UTC),  # Berlin and London fall back on the 31st
    datetime(2027, 11, 6, 12, 0, tzinfo=UTC),  # New York falls back on the 7th
]

_teams = itertools.count(1)


def _spec(name: str) -> RotaSpec:
    return RotaSpec(
        team=TeamSpec(name=name),
        members=(
            MemberSpec(id=ANN, name="Ann", tz=ZONES[ANN]),
            MemberSpec(id=BEN, name="Ben", tz=ZONES[BEN]),
            MemberSpec(id=EVE, name="Eve", tz=ZONES[EVE]),
            MemberSpec(id=CAT, name="Cat", tz=ZONES[CAT], role=Role.manager),
        ),
        rotations=(rotation("day", "primary", [ANN]), rotation("backup", "secondary", [BEN])),
    )


@dataclass
class Held:
    """The oracle's view of one case: no code under test in here."""

    type: str
    assignee: str | None = None
    status: str = "open"
    held: bool = False  # the assignee is working it (not parked by going off shift)

    def exposes(self) -> str | None:
        live = self.type in GRAPHIC and self.status != "resolved" and self.held
        return self.assignee if live else None


@dataclass
class Oracle:
    cases: list[Held]
    timeline: list[tuple[int, list[str | None]]] = field(default_factory=list)

    def apply(self, op: tuple[str, ...]) -> bool:
        """Change the model as the rules say; False when the service would refuse `op`."""
        kind = op[0]
        if kind == "offshift":
            for case in self.cases:
                if case.assignee == op[1]:
                    case.held = False
            return True
        case = self.cases[int(op[1])]
        if kind == "take":
            who = op[2]
            if case.status == "resolved" or (case.assignee == who and case.status != "open"):
                return False
            case.assignee, case.held = who, True
            case.status = "acknowledged"
        elif kind == "ack":
            if case.status != "open":
                return False
            case.status, case.assignee, case.held = "acknowledged", case.assignee or op[2], True
        elif kind == "assign":
            if case.status == "resolved" or case.assignee == op[2]:
                return False
            case.assignee, case.held = op[2], True
        elif kind == "note":
            if op[2] == case.assignee and case.status != "resolved":
                case.held = True
        elif kind == "resolve":
            if case.status == "resolved":
                return False
            case.status = "resolved"
        elif kind == "retype":
            if op[2] == case.type:
                return False
            if (op[2] in GRAPHIC) != (case.type in GRAPHIC):
                case.held = True
            case.type = op[2]
        return True

    def snapshot(self, minute: int) -> None:
        self.timeline.append((minute, [c.exposes() for c in self.cases]))

    def minutes(self, start: datetime, end_minute: int) -> dict[str, dict[date, int]]:
        """Each member's exposed minutes per local day, one minute at a time."""
        out: dict[str, dict[date, int]] = {}
        cursor = 0
        holders: list[str | None] = [None] * len(self.cases)
        for minute in range(end_minute):
            while cursor < len(self.timeline) and self.timeline[cursor][0] <= minute:
                holders = self.timeline[cursor][1]
                cursor += 1
            instant = start + timedelta(minutes=minute)
            for member in {h for h in holders if h is not None}:
                day = instant.astimezone(ZoneInfo(ZONES[member])).date()
                days = out.setdefault(member, {})
                days[day] = days.get(day, 0) + 1
        return out


def _run(db: Database, team_id: int, op: tuple[str, ...], keys: list[str], at: datetime) -> None:
    with db.transaction() as session:
        team = session.get(Team, team_id)
        assert team is not None

        def actor(slack_id: str) -> Actor | None:
            return actor_for_slack_id(session, team, slack_id)

        kind = op[0]
        if kind == "offshift":
            exposure.end_member(session, team_id=team_id, member=op[1], at=at)
            return
        key, cat = keys[int(op[1])], actor(CAT)
        if kind == "take":
            service.take(session, team_id=team_id, actor=actor(op[2]), key=key, at=at)
        elif kind == "ack":
            service.acknowledge(session, team_id=team_id, actor=actor(op[2]), key=key, at=at)
        elif kind == "assign":
            service.reassign(session, team_id=team_id, actor=cat, key=key, at=at, assignee=op[2])
        elif kind == "note":
            service.add_note(
                session, team_id=team_id, actor=actor(op[2]), key=key, at=at, text="looked again"
            )
        elif kind == "resolve":
            service.resolve(session, team_id=team_id, actor=cat, key=key, at=at)
        elif kind == "retype":
            service.edit(
                session, team_id=team_id, actor=cat, key=key, at=at, field="type", value=op[2]
            )


case_index = st.sampled_from(["0", "1", "2"])
member = st.sampled_from(HOLDERS)
operation = st.one_of(
    st.tuples(st.sampled_from(["take", "ack", "assign", "note"]), case_index, member),
    st.tuples(st.just("resolve"), case_index),
    st.tuples(st.just("retype"), case_index, st.sampled_from(TYPES)),
    st.tuples(st.just("offshift"), member),
)
history = st.lists(st.tuples(st.integers(0, 9 * 60), operation), min_size=1, max_size=25)


@settings(
    max_examples=40,
    deadline=None,
    # One database for every example: each example is a new team of its own in it.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    window=st.sampled_from(WINDOWS),
    types=st.lists(st.sampled_from(TYPES), min_size=3, max_size=3),
    steps=history,
    tail=st.integers(0, 12 * 60),
    cut=st.tuples(st.floats(0, 1), st.floats(0, 1)),
)
def test_spans_match_a_minute_by_minute_oracle(
    sqlite_db: Database,
    window: datetime,
    types: list[str],
    steps: list[tuple[int, tuple[str, ...]]],
    tail: int,
    cut: tuple[float, float],
) -> None:
    db = sqlite_db
    with db.transaction() as session:
        team = save_rota(session, _spec(f"team {next(_teams)}"))
        assert team.id is not None
        team_id = team.id
        cat = actor_for_slack_id(session, team, CAT)
        keys = [
            opening.open_case(
                session,
                team_id=team_id,
                actor=cat,
                at=window,
                case_type=t,
                severity="sev3",
                summary="a report",
            )[0].key
            for t in types
        ]
    oracle = Oracle([Held(type=t) for t in types])
    oracle.snapshot(0)
    minute = 0
    for gap, op in steps:
        minute += gap
        if oracle.apply(op):
            _run(db, team_id, op, keys, window + timedelta(minutes=minute))
            oracle.snapshot(minute)
    end_minute = minute + tail
    end = window + timedelta(minutes=end_minute)
    expected = oracle.minutes(window, end_minute)

    with db.transaction() as session:
        for who in HOLDERS:
            got = exposure.daily_exposure(
                session, team_id=team_id, member=who, tz=ZONES[who], start=window, end=end
            )
            want = {d: timedelta(minutes=m) for d, m in expected.get(who, {}).items() if m}
            assert got == want, who
        totals = exposure.exposure_by_member(session, team_id=team_id, start=window, end=end)
        assert totals == {
            who: timedelta(minutes=sum(days.values())) for who, days in expected.items()
        }
        # Any sub-window too: its spans are clipped to it.
        lo, hi = sorted(int(c * end_minute) for c in cut)
        part = exposure.exposure_by_member(
            session,
            team_id=team_id,
            start=window + timedelta(minutes=lo),
            end=window + timedelta(minutes=hi),
        )
    partial = _window_oracle(oracle, window, lo, hi)
    assert part == {w: timedelta(minutes=m) for w, m in partial.items() if m}


def _window_oracle(oracle: Oracle, start: datetime, lo: int, hi: int) -> dict[str, int]:
    whole = Oracle(oracle.cases, oracle.timeline)
    counted: dict[str, int] = {}
    cursor, holders = 0, [None] * len(oracle.cases)
    for minute in range(hi):
        while cursor < len(whole.timeline) and whole.timeline[cursor][0] <= minute:
            holders = list(whole.timeline[cursor][1])
            cursor += 1
        if minute >= lo:
            for who in {h for h in holders if h is not None}:
                counted[who] = counted.get(who, 0) + 1
    return counted


def test_a_span_across_local_midnight_counts_on_both_days_of_a_23_hour_day(
    sqlite_db: Database,
) -> None:
    """Ann (Berlin) holds a terrorism case from 22:00 on Saturday 27 March 2027 to 04:00 on
    Sunday, the night the clocks go forward: 2 hours on Saturday, 3 on Sunday (02:00-03:00
    does not exist)."""
    with sqlite_db.transaction() as session:
        team = save_rota(session, _spec("midnight"))
        assert team.id is not None
        ann = actor_for_slack_id(session, team, ANN)
        case, _ = opening.open_case(
            session,
            team_id=team.id,
            actor=ann,
            at=datetime(2027, 3, 27, 21, 0, tzinfo=UTC),  # 22:00 CET
            case_type="terrorism",
            severity="sev2",
            summary="a video",
        )
        service.take(
            session,
            team_id=team.id,
            actor=ann,
            key=case.key,
            at=datetime(2027, 3, 27, 21, 0, tzinfo=UTC),
        )
        service.resolve(
            session,
            team_id=team.id,
            actor=ann,
            key=case.key,
            at=datetime(2027, 3, 28, 2, 0, tzinfo=UTC),
        )  # 04:00 CEST
        days = exposure.daily_exposure(
            session,
            team_id=team.id,
            member=ANN,
            tz="Europe/Berlin",
            start=datetime(2027, 3, 27, tzinfo=UTC),
            end=datetime(2027, 3, 29, tzinfo=UTC),
        )
    assert days == {date(2027, 3, 27): timedelta(hours=2), date(2027, 3, 28): timedelta(hours=3)}


def test_a_running_span_survives_a_restart_and_counts_up_to_the_end_asked(
    sqlite_url: str,
) -> None:
    """Spans are rows: a new process (a new engine on the same file) sees the running one."""
    from chatops.db import make_engine
    from chatops.schema.migrate import upgrade

    first = Database(make_engine(sqlite_url))
    upgrade(first.engine)
    start = datetime(2027, 3, 20, 12, 0, tzinfo=UTC)
    with first.transaction() as session:
        team = save_rota(session, _spec("restart"))
        assert team.id is not None
        team_id = team.id
        ben = actor_for_slack_id(session, team, BEN)
        case, _ = opening.open_case(
            session,
            team_id=team_id,
            actor=ben,
            at=start,
            case_type="threat-of-violence",
            severity="sev2",
            summary="a threat",
        )
        service.acknowledge(session, team_id=team_id, actor=ben, key=case.key, at=start)
    first.dispose()
    second = Database(make_engine(sqlite_url))
    with second.transaction() as session:
        spent = exposure.exposure_by_member(
            session, team_id=team_id, start=start, end=start + timedelta(minutes=90)
        )
        [span] = session.exec(select(ExposureSpan)).all()
    second.dispose()
    assert spent == {BEN: timedelta(minutes=90)}
    assert (span.member, span.ended) == (BEN, None)


@pytest.mark.parametrize("graphic", [True, False])
def test_a_handoff_accepted_ends_the_outgoing_span(db: Database, graphic: bool) -> None:
    """Ann holds a case when Ben accepts her primary handoff: her span ends at that instant.
    A note of hers afterwards starts a new one (she went on working it)."""
    boundary = datetime(2027, 3, 20, 9, 0, tzinfo=UTC)
    world = handoff_world(db, daily_team(), boundary - timedelta(hours=2))
    kind = "terrorism" if graphic else "harassment"
    assert dispatch(f"case open {kind} sev2 A livestream", world.context(ANN)).ok
    assert dispatch("ack TS-2027-0001", world.context(ANN)).ok
    world.advance_to(boundary)
    world.tick()
    world.advance_to(boundary + timedelta(minutes=5))
    assert dispatch("handoff accept", world.context(BEN)).ok
    world.advance_to(boundary + timedelta(hours=1))
    with db.transaction() as session:
        held = exposure.exposure_by_member(
            session, team_id=world.team_id, start=boundary - timedelta(hours=2), end=world.clock()
        )
    assert held == ({ANN: timedelta(hours=2, minutes=5)} if graphic else {})
    assert dispatch("case note TS-2027-0001 Still on it", world.context(ANN)).ok
    world.advance_to(boundary + timedelta(hours=2))
    with db.transaction() as session:
        held = exposure.exposure_by_member(
            session, team_id=world.team_id, start=boundary - timedelta(hours=2), end=world.clock()
        )
        case = session.exec(select(Case)).one()
    assert case.assignee == ANN
    assert held == ({ANN: timedelta(hours=3, minutes=5)} if graphic else {})
