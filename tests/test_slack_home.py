"""The App Home tab over real HTTP: `app_home_opened` in, `views.publish` out with the sections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from chatops.db import Database
from chatops.escalation.models import PageKind
from chatops.outbox.models import OutboxMessage
from rota.resolve import compile_rota
from rota.spec import MemberSpec, RestrictionSpec, RotaSpec, RotationSpec, TeamSpec, Weekday
from rota.timefmt import fmt_local
from tests.support.fakeslack import FakeSlack
from tests.support.fakeslack import fake_slack as fake_slack  # the fixture
from tests.support.served import AMIRA, NOBODY, NOW, Served, example_rota, serve, texts


def _home(served: Served, user: str) -> str:
    assert served.open_home(user).status == 200
    (published,) = served.fake.wait_for("views.publish")
    assert published.args["user_id"] == user
    view = published.json_arg("view")
    assert view["type"] == "home"
    return texts(view["blocks"])


def test_home_shows_my_shifts_who_is_on_and_coverage(
    sqlite_db: Database, fake_slack: FakeSlack
) -> None:
    with serve(sqlite_db, fake_slack) as served:
        home = _home(served, AMIRA)

    rota = compile_rota(example_rota())
    mine = rota.shifts(NOW, NOW + timedelta(days=7), member=AMIRA)
    assert "Type `/ts help`" in home
    assert "*Your next shifts*\n" in home
    assert mine, "the example gives Amira shifts every few weeks"
    for shift in mine[:10]:
        assert f"{fmt_local(shift.start, 'Europe/Berlin')} → " in home
    assert "Times in Europe/Berlin." in home
    assert "*On call now*\n" in home
    for shift in rota.on_call(NOW):
        end = fmt_local(shift.end, "Europe/Berlin")
        assert f"*{shift.rotation}* — <@{shift.member}> until {end}" in home
    assert ":white_check_mark: No uncovered minute in the next 28 days." in home


def test_home_shows_the_next_gap_in_local_times(sqlite_db: Database, fake_slack: FakeSlack) -> None:
    # One rotation covering Berlin office hours only: every night is a gap.
    rota = RotaSpec(
        team=TeamSpec(name="Office hours", channel="C0OFFICE"),
        members=(
            MemberSpec(id="U0ALICE", name="Alice", tz="Europe/Berlin"),
            MemberSpec(id="U0BOB", name="Bob", tz="America/New_York"),
        ),
        rotations=(
            RotationSpec(
                name="day",
                tz="Europe/Berlin",
                handoff="0 9 * * mon",
                start=datetime(2027, 3, 15, 8, tzinfo=UTC),
                participants=("U0ALICE", "U0BOB"),
                restrictions=(
                    RestrictionSpec.model_validate(
                        {"days": list(Weekday), "from": "09:00", "to": "17:00"}
                    ),
                ),
            ),
        ),
    )
    with serve(sqlite_db, fake_slack, rota=rota) as served:
        home = _home(served, "U0BOB")

    assert "*Your next shifts*\n2027-03-22 04:00 EDT (UTC-04:00) → 2027-03-22 12:00 EDT" in home
    assert "*Next coverage gap* (28 gaps in all; `/ts rota check`)" in home
    assert ":rotating_light: 2027-03-17 12:00 EDT (UTC-04:00) → 2027-03-18 04:00 EDT" in home
    assert "Alice: 2027-03-17 17:00 CET (UTC+01:00) – 2027-03-18 09:00 CET" in home


def test_home_of_a_stranger_is_only_the_way_in(sqlite_db: Database, fake_slack: FakeSlack) -> None:
    with serve(sqlite_db, fake_slack) as served:
        home = _home(served, NOBODY)

    assert "Type `/ts help`" in home
    assert "Your next shifts" not in home
    assert "On call now" not in home


def _paged(db: Database) -> set[str]:
    with db.transaction() as session:
        pages = session.exec(
            select(OutboxMessage).where(OutboxMessage.kind == PageKind.dm.value)
        ).all()
        return {p.recipient for p in pages}


def _home_number(served: Served, user: str, n: int) -> str:
    """The text of the `n`-th App Home published (1-based), opened now by `user`."""
    assert served.open_home(user).status == 200
    published = served.fake.wait_for("views.publish", count=n)[n - 1]
    assert published.args["user_id"] == user
    return texts(published.json_arg("view")["blocks"])


def test_home_lists_my_open_cases_and_hides_restricted_text(
    sqlite_db: Database, fake_slack: FakeSlack
) -> None:
    with serve(sqlite_db, fake_slack) as served:
        for rid, line in (
            ("c1", "case open harassment sev3 Doxxing thread"),
            ("c2", 'case open self-harm sev2 Goodbye note details:"wiki Y"'),
            ("c3", "case open other sev4 Old report"),
        ):  # one at a time, so the case numbers follow this order
            served.command(line, rid=rid)
            assert served.answer(rid)["text"].startswith(":white_check_mark: Opened")
        paged = _paged(sqlite_db)
        assert AMIRA not in paged, "Amira reports; someone on call is paged"
        responder = sorted(paged)[0]
        helper = next(m.id for m in example_rota().members if m.id not in paged | {AMIRA})
        served.command(f"case assign TS-2027-0001 <@{helper}>", rid="a")
        served.command("case resolve TS-2027-0003", rid="r")
        assert served.answer("a")["text"].endswith(f"assigned to <@{helper}>.")
        assert served.answer("r")["text"].startswith(":white_check_mark: TS-2027-0003 is resolved")

        theirs = _home_number(served, responder, 1)
        helpers = _home_number(served, helper, 2)
        reporters = _home_number(served, AMIRA, 3)

    assert "*Your open cases*\n" in theirs
    assert "*TS-2027-0001 · harassment · sev3* — open: Doxxing thread" in theirs
    assert "*TS-2027-0002 · self-harm · sev2* — :lock: restricted" in theirs
    assert "Goodbye" not in theirs and "wiki Y" not in theirs
    assert "TS-2027-0003" not in theirs  # resolved
    assert "*Your open cases*\n*TS-2027-0001 · harassment · sev3* — open: Doxxing" in helpers
    assert "TS-2027-0002" not in helpers
    assert "*Your open cases*\nNo open cases assigned to you or paging you." in reporters
