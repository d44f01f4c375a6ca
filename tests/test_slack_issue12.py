"""Issue #12 items 3, 5 and 6 over real signed HTTP: the example team served with a fixed clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from chatops.db import Database
from chatops.handoff.service import DEFAULT, fire_due, plan_all
from chatops.oncall.boundaries import next_boundary
from rota.resolve import compile_rota
from tests.support.fakeslack import FakeSlack
from tests.support.fakeslack import fake_slack as fake_slack  # the fixture
from tests.support.served import AMIRA, LUKAS, NOW, Served, example_rota, serve, texts


@pytest.fixture
def served(sqlite_db: Database, fake_slack: FakeSlack) -> Iterator[Served]:
    with serve(sqlite_db, fake_slack) as app:
        yield app


def test_an_unknown_language_is_refused_with_the_teams_languages(served: Served) -> None:
    assert served.command("case open harassment sev3 abuse lang:klingon", rid="k").status == 200
    answer = served.answer("k")
    assert "`lang:klingon` is not a language code" in answer["text"]
    assert "your team speaks ar, de, en, es, fr, hi, ru, zh" in answer["text"]


def test_a_note_names_its_handoff_in_the_askers_zone(served: Served) -> None:
    served.command("handoff note rotation:apac the vandal is back", user=AMIRA, rid="n")
    answer = served.answer("n")
    upcoming = next_boundary(compile_rota(example_rota()), NOW, rotation="apac")
    assert upcoming is not None
    assert upcoming.at == NOW.replace(hour=23, minute=30)  # 05:00 in Kolkata
    # in Amira's zone (Berlin), with the weekday there: not UTC, not the rotation's zone
    assert (
        "Your note will be in the *apac* handoff at 2027-03-18 00:30 CET (UTC+01:00) "
        "(Thu, your time)" in answer["text"]
    )


def test_who_shows_a_handoff_waiting_for_acceptance(served: Served) -> None:
    boundary = next_boundary(compile_rota(example_rota()), NOW)
    assert boundary is not None
    served.clock.advance(boundary.at - NOW + timedelta(minutes=1))
    plan_all(served.db, now=served.clock(), settings=DEFAULT)
    fire_due(served.db, now=served.clock(), worker_id="w1", limit=10)
    served.command("who", user=LUKAS, rid="w")
    shown = texts(served.answer("w")["blocks"])
    outgoing = ", ".join(f"<@{m}>" for m in boundary.outgoing_ids)
    assert f"{outgoing} still on call with <@{boundary.incoming}> until accepted" in shown
