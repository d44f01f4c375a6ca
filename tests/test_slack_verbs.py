"""Every verb over real signed HTTP against the served app, with the example team and a fixed clock.

One happy path and the main refusal each; edits go all the way: preview, a signed Confirm press,
and the announcement the fake Web API records in the team channel.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

import commands.verbs  # noqa: F401  (registers every verb, so the list below is complete)
from chatops.db import Database
from commands.registry import VERBS
from rota.cover import covered_shifts
from tests.support.fakeslack import FakeSlack
from tests.support.fakeslack import fake_slack as fake_slack  # the fixture
from tests.support.served import (
    AMIRA,
    ELENA,
    LUKAS,
    NOW,
    SOFIA,
    TEAM_CHANNEL,
    Served,
    button_values,
    example_rota,
    first_shift,
    iso,
    serve,
    texts,
)

# Amira's next emea day, and a night when Elena (emea only) holds nothing.
_SHIFT = first_shift(AMIRA, "emea", NOW + timedelta(days=1))
SPAN = f"{iso(_SHIFT.start)} to {iso(_SHIFT.end)}"
NIGHT = "2027-03-23T03:00Z to 2027-03-23T05:00Z"


@pytest.fixture
def served(sqlite_db: Database, fake_slack: FakeSlack) -> Iterator[Served]:
    with serve(sqlite_db, fake_slack) as app:
        yield app


def test_help_answers_for_every_registered_verb(served: Served) -> None:
    names = sorted(VERBS)
    for i, name in enumerate(names):
        assert served.command(f"help {name}", rid=f"h{i}").status == 200
    for i, name in enumerate(names):
        answer = served.answer(f"h{i}")
        assert answer["blocks"][0]["text"]["text"] == f"/ts {name}", name
        assert f"Usage: {VERBS[name].usage}" in answer["text"], name


@pytest.mark.parametrize(
    ("text", "user", "expected"),
    [
        ("who", AMIRA, "On call now: "),
        ("who at 2027-03-18 09:00", AMIRA, "On call 2027-03-18 09:00 CET"),
        ("shifts", AMIRA, "shift(s) in the next 7 days"),
        ("shifts all days:1", SOFIA, "shift(s) in the next 1 days"),
        ("rota show", AMIRA, "Trust &amp; Safety rota: 4 rotations"),
        ("rota check", AMIRA, ":white_check_mark: Covered: no uncovered minute in the next 28"),
        ("rota check days:3", AMIRA, "in the next 3 days"),
    ],
)
def test_reading_verbs_answer_the_asker(
    served: Served, text: str, user: str, expected: str
) -> None:
    served.command(text, user=user)

    answer = served.answer()
    assert answer["response_type"] == "ephemeral"
    assert expected in answer["text"]


@pytest.mark.parametrize(
    ("text", "user", "expected"),
    [
        ("who at 25:00", AMIRA, "`25:00` is not a time of day"),
        ("shifts days:99", AMIRA, "days must be a number from 1 to 60"),
        ("rota show everything", AMIRA, "unexpected `everything`"),
        ("rota check days:0", AMIRA, "days:N takes 1 to 366"),
        ("rota override @amira tomorrow 08:00 to tomorrow 18:00", AMIRA, "only managers"),
        (f"swap request {NIGHT}", ELENA, "no rotation shift in that window"),
        ("who", "U0NOBODY", "not a member of the *Trust &amp; Safety* team"),
    ],
)
def test_main_refusals_say_why_and_post_nothing(
    served: Served, text: str, user: str, expected: str
) -> None:
    served.command(text, user=user)

    answer = served.answer()
    assert answer["response_type"] == "ephemeral"
    assert expected in answer["text"]
    assert ":warning:" in answer["text"] or "not a member" in answer["text"]
    assert served.fake.calls_to("chat.postMessage") == []


def test_rota_override_preview_confirm_and_announcement(served: Served) -> None:
    served.command(
        "rota override @amira 2027-03-18 08:00 to 2027-03-18 18:00 rotation:emea sick cover",
        user=LUKAS,
    )
    preview = served.answer()
    assert preview["text"].startswith("Preview: <@U01AHADDAD> covers on emea")
    assert "Coverage over the next 28 days stays complete." in texts(preview["blocks"])
    confirm = button_values(preview["blocks"])["rota_confirm"]

    pressed = served.press("rota_confirm", confirm, user=LUKAS, rid="c1")

    assert pressed.status == 200
    done = served.answer("c1")
    assert done["replace_original"] is False
    assert "the rota is updated" in done["text"]
    (announcement,) = served.posted()
    assert announcement.args["channel"] == TEAM_CHANNEL
    assert announcement.args["text"].startswith(":white_check_mark: Rota updated by <@U01LBECKER>")
    assert "<@U01AHADDAD> *emea* (override)" in texts(announcement.json_arg("blocks"))


def test_rota_confirm_pressed_by_a_responder_is_refused(served: Served) -> None:
    served.command("rota override @amira 2027-03-18 08:00 to 2027-03-18 18:00", user=LUKAS)
    confirm = button_values(served.answer()["blocks"])["rota_confirm"]

    served.press("rota_confirm", confirm, user=AMIRA, rid="c1")

    refused = served.answer("c1")
    assert refused["replace_original"] is False
    assert "only managers can edit the rota" in refused["text"]
    assert served.fake.calls_to("chat.postMessage") == []


def test_swap_request_is_posted_and_the_first_take_wins(served: Served) -> None:
    held = covered_shifts(example_rota(), AMIRA, _SHIFT.start, _SHIFT.end)
    served.command(f"swap request {SPAN} dentist", user=AMIRA)

    asked = served.answer()
    assert asked["response_type"] == "ephemeral"
    assert f"Your swap request ({len(held)} shift(s)) is posted" in asked["text"]
    (request,) = served.posted()
    assert request.args["channel"] == TEAM_CHANNEL
    assert "<@U01AHADDAD> asks someone to take their shifts" in request.args["text"]
    take = button_values(request.json_arg("blocks"))["swap_take"]

    served.press("swap_take", take, user=ELENA, rid="t1")
    taken = served.answer("t1")
    served.press("swap_take", take, user=LUKAS, rid="t2")
    late = served.answer("t2")

    assert taken["replace_original"] is True
    assert taken["text"].startswith(":handshake: <@U01EPETROV> took <@U01AHADDAD>'s shifts")
    _, told = served.posted(count=2)
    assert told.args["text"].startswith("<@U01AHADDAD>, you are covered: <@U01EPETROV>")
    assert late["replace_original"] is False
    assert late["response_type"] == "ephemeral"
    assert "already taken by <@U01EPETROV>" in late["text"]
    middle = _SHIFT.start + (_SHIFT.end - _SHIFT.start) / 2
    served.command(f"who at {iso(middle)}", user=AMIRA, rid="w")
    assert "*emea* — <@U01EPETROV> until" in texts(served.answer("w")["blocks"])
