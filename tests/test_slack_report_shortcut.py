"""*Report to Trust & Safety* on a message, over signed HTTP (issue #14).

The shortcut's payload makes the app ask the fake Slack for the message's link and open the
form; the submitted form opens a case that keeps the link and the author (never the message's
text) and pages like any case. A reporter outside the team is told the case id and nothing
else, checked word by word. A message the bot cannot read, or a payload without a message, is
one line and changes nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import select

from chatops.audit import AuditEvent
from chatops.cases.models import Case, CaseEvent
from chatops.cases.origins import CaseOrigin
from chatops.db import Database
from chatops.outbox.models import OutboxMessage
from chatops.slack.shortcut import BAD_PAYLOAD, CANNOT_READ
from commands import forms
from commands.verbs.emergency import ANSWER
from tests.support.fakeslack import RESPONSE_URL, FakeSlack, error
from tests.support.fakeslack import fake_slack as fake_slack  # the fixture
from tests.support.served import AMIRA, NOBODY, SECRET, Served, example_rota, serve, texts
from tests.support.slackhttp import message_action, post, view_submission

MESSAGE_TEXT = "I know where you live and I will come tonight"
AUTHOR = "U0AUTHOR"
WHAT = "This user threatens another member in #general"


@pytest.fixture
def served(sqlite_db: Database, fake_slack: FakeSlack) -> Iterator[Served]:
    with serve(sqlite_db, fake_slack) as app:
        yield app


def shortcut(served: Served, user: str, *, rid: str = "s1", **knobs: Any) -> int:
    message = knobs.pop(
        "message",
        {"type": "message", "user": AUTHOR, "ts": "1700000000.000200", "text": MESSAGE_TEXT},
    )
    body, kind = message_action(
        forms.REPORT_FORM,
        user_id=user,
        response_url=served.fake.response_url(rid),
        message=message,
        **knobs,
    )
    return post(served.url, body, kind, SECRET).status


def submit(
    served: Served,
    user: str,
    metadata: str,
    case_type: str = "threat-of-violence",
    what: str = WHAT,
) -> int:
    values = {
        forms.TYPE_BLOCK: {forms.VALUE: {"selected_option": {"value": case_type}}},
        forms.SEVERITY_BLOCK: {forms.VALUE: {"selected_option": {"value": "sev1"}}},
        forms.WHAT_BLOCK: {forms.VALUE: {"value": what}},
    }
    body, kind = view_submission(forms.REPORT_FORM, values, user_id=user, private_metadata=metadata)
    return post(served.url, body, kind, SECRET).status


def opened_form(served: Served, count: int = 1) -> dict[str, Any]:
    call = served.fake.wait_for("views.open", count=count)[count - 1]
    view = call.json_arg("view")
    assert view["callback_id"] == forms.REPORT_FORM
    return dict(view)


def report(served: Served, user: str, case_type: str = "threat-of-violence", n: int = 1) -> str:
    """Shortcut, form, submission; the DM the reporter got back."""
    assert shortcut(served, user, rid=f"s{n}") == 200
    view = opened_form(served, n)
    # Each submission its own words: the same bytes within a second would be a replay.
    what = WHAT if n == 1 else f"{WHAT} (again, {n})"
    assert submit(served, user, view["private_metadata"], case_type, what) == 200
    dm = served.fake.wait_for(
        lambda c: c.method == "chat.postMessage" and c.args.get("channel") == user, count=n
    )[n - 1]
    return str(dm.args.get("text", "")) + "\n" + texts(dm.json_arg("blocks") or [])


def rows(served: Served, table: Any) -> list[Any]:
    with served.db.transaction() as session:
        return list(session.exec(select(table)))


def test_a_non_member_reports_a_message_and_learns_the_case_id_only(served: Served) -> None:
    answer = report(served, NOBODY)

    [case] = rows(served, Case)
    assert (case.reporter, case.type, case.severity, case.summary) == (
        NOBODY,
        "threat-of-violence",
        "sev1",
        WHAT,
    )
    [origin] = rows(served, CaseOrigin)
    assert (origin.case_id, origin.message_author, origin.message_channel) == (
        case.id,
        AUTHOR,
        "C0GENERAL",
    )
    assert origin.permalink == "https://fake.slack.com/archives/C0GENERAL/p1700000000000200"
    assert rows(served, OutboxMessage), "the on-call is paged"

    # Word by word: the acknowledgement's words, the case id, nothing else.
    allowed = set(re.findall(r"[\w-]+", ANSWER.format(key=case.key).lower()))
    said = set(re.findall(r"[\w-]+", answer.lower()))
    assert said <= allowed, said - allowed
    everything_to_reporter = [
        c for c in served.fake.calls if c.args.get("channel") == NOBODY or c.method == RESPONSE_URL
    ]
    assert len(everything_to_reporter) == 1


def test_the_message_text_is_stored_nowhere(served: Served) -> None:
    report(served, NOBODY, "child-safety")
    [case] = rows(served, Case)
    assert case.restricted
    with served.db.transaction() as session:
        stored = [
            *(json.dumps(m.model_dump(mode="json")) for m in session.exec(select(OutboxMessage))),
            *(json.dumps(e.model_dump(mode="json")) for e in session.exec(select(AuditEvent))),
            *(json.dumps(e.model_dump(mode="json")) for e in session.exec(select(CaseEvent))),
            json.dumps(case.model_dump(mode="json")),
        ]
    assert not any(MESSAGE_TEXT in s for s in stored)
    channel_posts = [m for m in rows(served, OutboxMessage) if m.kind == "channel"]
    assert channel_posts
    for posted in channel_posts:
        assert WHAT not in posted.text + posted.blocks
        assert "archives" not in posted.text + posted.blocks


def test_a_member_report_opens_like_case_open(served: Served) -> None:
    answer = report(served, AMIRA)
    assert "Reported as" in answer and "Paged" in answer
    [case] = rows(served, Case)
    assert case.reporter == AMIRA


def test_a_non_member_may_report_twice_a_minute(served: Served) -> None:
    report(served, NOBODY, n=1)
    report(served, NOBODY, n=2)
    third = report(served, NOBODY, n=3)
    assert "2 cases in the last minute" in third
    assert len(rows(served, Case)) == 2


def test_a_message_the_bot_cannot_read_is_one_line_and_nothing_else(served: Served) -> None:
    served.fake.script("chat.getPermalink", error("channel_not_found"))
    assert shortcut(served, NOBODY) == 200
    assert served.answer("s1")["text"] == CANNOT_READ
    assert served.fake.calls_to("views.open") == []
    assert rows(served, Case) == []


def test_a_payload_without_the_message_is_one_line(served: Served) -> None:
    assert shortcut(served, NOBODY, message={"type": "message", "ts": "1700000000.000200"}) == 200
    assert served.answer("s1")["text"] == BAD_PAYLOAD
    assert served.fake.calls_to("views.open") == []
    with served.db.transaction() as session:
        assert session.exec(select(func.count()).select_from(Case)).one() == 0


def test_a_submission_whose_reference_was_tampered_with_opens_nothing(served: Served) -> None:
    assert (
        submit(served, NOBODY, json.dumps({"c": "C0X", "ts": "1.2", "a": "x", "p": "evil"})) == 200
    )
    dm = served.fake.wait_for(
        lambda c: c.method == "chat.postMessage" and c.args.get("channel") == NOBODY
    )[0]
    assert "lost track of its message" in str(dm.args.get("text"))
    assert rows(served, Case) == []


def test_the_team_rota_is_the_example(served: Served) -> None:
    # The reporter outside the team is not in the example rota (the word check relies on it).
    assert NOBODY not in {m.id for m in example_rota().members}


def test_case_show_links_the_reported_message_for_those_with_access(served: Served) -> None:
    report(served, AMIRA)
    [case] = rows(served, Case)
    assert served.command(f"case show {case.key}", user=AMIRA, rid="show").status == 200
    shown = json.dumps(served.answer("show"))
    assert "https://fake.slack.com/archives/C0GENERAL/p1700000000000200" in shown
    assert f"<@{AUTHOR}>" in shown and MESSAGE_TEXT not in shown


def test_the_reporter_outside_the_team_cannot_show_the_case(served: Served) -> None:
    report(served, NOBODY)
    [case] = rows(served, Case)
    assert served.command(f"case show {case.key}", user=NOBODY, rid="show").status == 200
    shown = json.dumps(served.answer("show"))
    assert "not a member" in shown and "archives" not in shown and WHAT not in shown
