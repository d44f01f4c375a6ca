"""Boundaries from the rota (DST, overrides), the coverage watch, and replicas on PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from sqlmodel import select

from chatops.clock import ManualClock
from chatops.db import Database, make_engine
from chatops.oncall.boundaries import boundaries
from chatops.oncall.models import CoverageWatchRun
from chatops.oncall.watch import WatchSettings, firings
from chatops.outbox.notifier import ConsoleNotifier
from chatops.schema.migrate import upgrade
from chatops.worker import run_handoffs_due
from rota.resolve import compile_rota
from rota.spec import MemberSpec, OverrideSpec, RotaSpec, RotationSpec, TeamSpec
from tests.support.handoff_world import ANN, BEN, CAT, EVE, World, daily_team, make_world

NY = "America/New_York"


def test_a_handoff_at_a_missing_or_repeated_local_time_happens_once() -> None:
    spec = RotaSpec(
        team=TeamSpec(name="night"),
        members=(MemberSpec(id=ANN, name="Ann", tz=NY), MemberSpec(id=BEN, name="Ben", tz=NY)),
        rotations=(
            RotationSpec(
                name="night",
                tz=NY,
                handoff="30 2 * * *",
                start=datetime(2027, 1, 1, 7, 30, tzinfo=UTC),
                participants=(ANN, BEN),
            ),
        ),
    )
    rota = compile_rota(spec)
    for day in (date(2027, 3, 14), date(2027, 11, 7)):
        start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
        found = boundaries(rota, start - timedelta(days=2), start + timedelta(days=2))
        assert len(found) == 4  # one a day, none doubled, none lost
        assert len({b.at for b in found}) == 4
    spring = boundaries(rota, datetime(2027, 3, 14, tzinfo=UTC), datetime(2027, 3, 15, tzinfo=UTC))
    assert [b.at for b in spring] == [datetime(2027, 3, 14, 7, 0, tzinfo=UTC)]  # 03:00 EDT


def test_an_override_makes_two_boundaries_and_a_team_wide_one_none() -> None:
    cover = OverrideSpec(
        member=EVE,
        rotation="primary",
        start=datetime(2027, 3, 20, 12, 0, tzinfo=UTC),
        end=datetime(2027, 3, 20, 14, 0, tzinfo=UTC),
    )
    extra = OverrideSpec(
        member=CAT,
        start=datetime(2027, 3, 20, 15, 0, tzinfo=UTC),
        end=datetime(2027, 3, 20, 16, 0, tzinfo=UTC),
    )
    rota = compile_rota(daily_team(overrides=[cover, extra]))
    found = boundaries(
        rota, datetime(2027, 3, 20, 10, tzinfo=UTC), datetime(2027, 3, 20, 20, tzinfo=UTC)
    )
    assert [(b.at.hour, b.incoming, b.outgoing_ids) for b in found] == [
        (12, EVE, [BEN]),
        (14, BEN, [EVE]),
    ]
    same = compile_rota(daily_team(overrides=[cover.model_copy(update={"member": BEN})]))
    assert (
        boundaries(
            same, datetime(2027, 3, 20, 10, tzinfo=UTC), datetime(2027, 3, 20, 20, tzinfo=UTC)
        )
        == []
    )  # Ben covering his own shift hands nothing over


WATCH = WatchSettings(cron="0 9 * * *")
FIRE = datetime(2027, 3, 20, 8, 0, tzinfo=UTC)  # 09:00 in Berlin (CET)


def _watch_world(db: Database, spec: RotaSpec, watch: WatchSettings = WATCH) -> World:
    return make_world(db, spec, FIRE - timedelta(hours=1), watch=watch)


def test_coverage_watch_says_nothing_on_a_covered_rota(db: Database) -> None:
    world = _watch_world(db, daily_team(tz="Europe/Berlin"))
    world.run_until(FIRE + timedelta(minutes=5))
    assert world.dms() == []
    assert [m for m in world.messages() if m.kind == "coverage.watch"] == []
    with db.transaction() as session:
        runs = session.exec(select(CoverageWatchRun)).all()
    assert [(r.fire_at, r.gaps) for r in runs] == [(FIRE, 0)]  # it ran, and found nothing


def test_coverage_watch_finds_a_gap_an_override_made_and_reports_it_once(db: Database) -> None:
    # Two must be on call; Eve (the secondary) covering the primary too leaves one person.
    cover = OverrideSpec(
        member=EVE,
        rotation="primary",
        start=datetime(2027, 3, 25, 12, 0, tzinfo=UTC),
        end=datetime(2027, 3, 25, 18, 0, tzinfo=UTC),
    )
    world = _watch_world(db, daily_team(overrides=[cover], required=2, tz="Europe/Berlin"))
    world.run_until(FIRE - timedelta(seconds=1))
    assert world.dms() == []
    world.run_until(FIRE + timedelta(minutes=30))
    [dm] = world.dms()
    assert dm.channel == CAT  # the manager
    assert "1 coverage gap(s) in the next 14 days" in dm.text
    assert "2027-03-25T12:00:00Z – 2027-03-25T18:00:00Z: 1 of 2 on call" in dm.text
    assert "Eve (U0EVE): 2027-03-25 14:00 EET (UTC+02:00)" in dm.text
    assert "Ann (U0ANN): 2027-03-25 13:00 CET (UTC+01:00)" in dm.text
    restarted = World(db=db, team_id=world.team_id, clock=world.clock, watch=WATCH, worker_id="w2")
    restarted.run_until(FIRE + timedelta(hours=2))
    assert [d for d in restarted.dms() if "coverage" in d.text] == []  # once, across restarts


def test_coverage_watch_can_say_all_is_well(db: Database) -> None:
    loud = WatchSettings(cron="0 9 * * *", quiet=False)
    world = _watch_world(db, daily_team(tz="Europe/Berlin"), loud)
    world.run_until(FIRE)
    [dm] = world.dms()
    assert dm.channel == CAT and "no coverage gaps in the next 14 days" in dm.text


def test_watch_cron_follows_the_teams_zone_across_dst() -> None:
    got = firings(
        "0 9 * * *", NY, datetime(2027, 3, 13, tzinfo=UTC), datetime(2027, 3, 15, tzinfo=UTC)
    )
    assert got == [
        datetime(2027, 3, 13, 14, 0, tzinfo=UTC),
        datetime(2027, 3, 14, 13, 0, tzinfo=UTC),
    ]


def test_replicas_on_postgresql_post_each_handoff_once(postgres_url: str) -> None:
    first = Database(make_engine(postgres_url))
    upgrade(first.engine)
    boundary = datetime(2027, 3, 20, 9, 0, tzinfo=UTC)
    world = make_world(first, daily_team(), boundary - timedelta(hours=1))
    replicas = [Database(make_engine(postgres_url)) for _ in range(3)]
    notifiers = [ConsoleNotifier() for _ in replicas]
    instants = [
        boundary + timedelta(minutes=m) for m in (-15, -10, 0, 0, 1, 10, 10, 11, 24 * 60 - 15)
    ]
    instants.append(boundary + timedelta(days=1))
    try:
        for at in instants:
            clock = ManualClock(at)
            barrier = threading.Barrier(len(replicas))

            def run(
                i: int, clock: ManualClock = clock, barrier: threading.Barrier = barrier
            ) -> None:
                barrier.wait()
                run_handoffs_due(replicas[i], clock, notifiers[i], worker_id=f"r{i}")

            threads = [threading.Thread(target=run, args=(i,)) for i in range(len(replicas))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        sent = Counter((s.channel, s.text.splitlines()[0]) for n in notifiers for s in n.sent)
        assert all(count == 1 for count in sent.values()), sent
        channels = Counter(s.channel for n in notifiers for s in n.sent)
        assert channels == {"C0TEAM": 2, BEN: 1, ANN: 2, CAT: 1}  # posts, reminders, pages
        assert world.team_id
    finally:
        for r in replicas:
            r.dispose()
        first.dispose()
