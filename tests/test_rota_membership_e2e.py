"""Adding or removing a rotation member, end to end: the console as `make run` drives it, and
Slack over signed HTTP. The new order takes over at the rotation's next full cycle; every shift
before it stays as it was, a removed member's included (so nothing loses its responder)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chatops.db import Database
from commands.registry import dispatch, dispatch_action
from rota.resolve import compile_rota
from rota.store import find_team, load_rota
from tests.support.clirun import chatops
from tests.support.fakeslack import FakeSlack
from tests.support.fakeslack import fake_slack as fake_slack  # the fixture
from tests.support.served import LUKAS, NOW, Served, button_values, example_rota, serve, texts
from tests.support.teams import example_team_context

MEI = "U01MEILIN0"


@pytest.fixture
def served(sqlite_db: Database, fake_slack: FakeSlack) -> Iterator[Served]:
    with serve(sqlite_db, fake_slack) as app:
        yield app


def test_console_remove_keeps_the_members_shifts_until_the_next_cycle(tmp_path: Path) -> None:
    """Tuesday of Amira's emea week: the cycle Amira, Elena, Lukas restarts on 12 April, so
    Elena's week from 29 March stays hers, and the preview says so."""
    assert chatops("db", "upgrade", cwd=tmp_path).returncode == 0
    assert chatops("demo", cwd=tmp_path).returncode == 0
    script = "/ts rota remove @Elena from emea\n1\n/ts shifts @Elena days:21\n"
    result = chatops(
        "console",
        "--as",
        "Lukas Becker",
        "--now",
        "2027-03-23T12:00:00Z",
        cwd=tmp_path,
        stdin=script,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    preview, done = out.split("[1] Confirm  [2] Cancel", 1)
    assert (
        "From 2027-04-12 08:00 CEST (UTC+02:00) on (the start of emea's next full cycle); "
        in preview
    )
    assert "@Elena Petrova keeps 7 shifts until then, so they stay covered" in preview
    assert "• @Elena Petrova emea: 2027-03-29 08:00 CEST (UTC+02:00)" in preview
    # Removing Elena only changes who holds her place in the cycles after 12 April.
    assert "− @Elena Petrova emea: 2027-03-29" not in preview
    assert "− @Elena Petrova emea: 2027-04-19 08:00 CEST (UTC+02:00)" in preview
    assert "Rota updated by @Lukas Becker: remove" in done
    # Confirmed and stored: her shifts before the cycle are still hers.
    assert "2027-03-29 08:00 CEST (UTC+02:00)" in done.split("Elena Petrova's shifts", 1)[-1]


def test_slack_add_takes_effect_at_the_next_cycle_and_keeps_every_shift_before(
    served: Served,
) -> None:
    """Over signed HTTP: preview, Confirm, and the stored rota agrees with what it said."""
    before = compile_rota(example_rota())
    assert served.command("rota add @Mei to emea", user=LUKAS, rid="a").status == 200
    preview = served.answer("a")
    shown = texts(preview["blocks"])
    # Lukas reads Berlin time; the emea cycle (Amira, Elena, Lukas) restarts on Monday 22nd.
    assert "From 2027-03-22 08:00 CET (UTC+01:00) on (the start of emea's next full cycle); " in (
        shown
    )
    assert "7 shifts change" in shown
    assert "+ <@U01MEILIN0> *emea*: 2027-04-11 23:00 PDT (UTC-07:00)" in shown  # her zone
    assert (
        served.press(
            "rota_confirm", button_values(preview["blocks"])["rota_confirm"], user=LUKAS, rid="c"
        ).status
        == 200
    )
    assert "Done: the rota is updated" in served.answer("c")["text"]

    with served.db.transaction() as session:
        after = compile_rota(load_rota(session, find_team(session)))
    boundary = datetime(2027, 3, 22, 7, tzinfo=UTC)
    assert after.shifts(NOW, boundary) == before.shifts(NOW, boundary)
    emea = [
        s.member
        for s in after.shifts(boundary, boundary + timedelta(weeks=5))
        if s.rotation == "emea" and s.source == "rotation" and s.start.weekday() == 0
    ]
    amira, elena, lukas = example_rota().rotations[1].participants
    assert emea == [amira, elena, lukas, MEI, amira, elena]  # the 26th: CEST, before 07:00Z


def test_a_preview_is_not_applied_at_a_later_cycle_than_it_showed(sqlite_db: Database) -> None:
    """Previewed five minutes before emea's cycle starts and confirmed after: the change would
    take over a whole cycle later than the preview said, so Confirm refuses instead."""
    before = datetime(2027, 3, 22, 6, 55, tzinfo=UTC)
    ctx = example_team_context(sqlite_db, LUKAS, before)
    preview = dispatch("rota add @Mei to emea", ctx)
    assert "From 2027-03-22 08:00 CET (UTC+01:00) on" in preview.text
    late = replace(ctx, clock=lambda: before + timedelta(minutes=10))

    refused = dispatch_action("rota_confirm", button_values(preview.blocks)["rota_confirm"], late)

    assert not refused.ok
    assert "a new cycle of emea started since this change was previewed" in refused.text
    pending = "(from 2027-03-22 08:00 CET (UTC+01:00); until then"
    assert pending not in texts(dispatch("rota show", ctx).blocks)
    again = dispatch("rota add @Mei to emea", ctx)
    confirmed = dispatch_action("rota_confirm", button_values(again.blocks)["rota_confirm"], ctx)
    assert confirmed.ok, confirmed.text
    assert pending in texts(dispatch("rota show", ctx).blocks)
