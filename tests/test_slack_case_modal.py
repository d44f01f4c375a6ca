"""`/ts case open` alone opens a modal; its submission opens the case like the typed command.

Over real signed HTTP: the slash command, then the `view_submission` Slack posts when the form is
sent. Mistakes are answered inline (`response_action: errors`) and open nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import select

from chatops.cases.models import SEVERITY_MEANING, Case, CaseType, Severity
from chatops.db import Database
from chatops.outbox.notifier import SlackNotifier
from commands.forms import CASE_OPEN_FORM, OPTION_TEXT_MAX
from commands.registry import dispatch
from tests.support.case_world import escalation_pass, make_world
from tests.support.fakeslack import RESPONSE_URL, FakeSlack, error
from tests.support.fakeslack import fake_slack as fake_slack  # the fixture
from tests.support.served import (
    AMIRA,
    BOT_TOKEN,
    NOBODY,
    SECRET,
    TEAM_CHANNEL,
    Served,
    serve,
    texts,
)
from tests.support.slackhttp import HttpResult, post, view_submission


@pytest.fixture
def served(sqlite_db: Database, fake_slack: FakeSlack) -> Iterator[Served]:
    with serve(sqlite_db, fake_slack) as app:
        yield app


def _values(
    *,
    case_type: str | None = "harassment",
    severity: str | None = "sev3",
    summary: str | None = "Doxxing thread on a user talk page",
    details: str | None = "thread id 1234",
    language: str | None = None,
    restricted: bool = False,
) -> dict[str, dict[str, Any]]:
    """`view.state.values` as Slack sends it for our modal."""

    def select(value: str | None) -> dict[str, Any]:
        chosen = {"text": {"type": "plain_text", "text": value}, "value": value}
        return {"type": "static_select", "selected_option": chosen if value else None}

    def typed(value: str | None) -> dict[str, Any]:
        return {"type": "plain_text_input", "value": value}

    ticked = [{"text": {"type": "plain_text", "text": "x"}, "value": "yes"}] if restricted else []
    return {
        "case_type": {"value": select(case_type)},
        "severity": {"value": select(severity)},
        "summary": {"value": typed(summary)},
        "details": {"value": typed(details)},
        "language": {"value": typed(language)},
        "restricted": {"value": {"type": "checkboxes", "selected_options": ticked}},
    }


def _submit(served: Served, values: dict[str, dict[str, Any]], user: str = AMIRA) -> HttpResult:
    body, kind = view_submission(CASE_OPEN_FORM, values, user_id=user, private_metadata="C0ASKED")
    return post(served.url, body, kind, SECRET)


def _cases(db: Database) -> list[Case]:
    with db.transaction() as session:
        return list(session.exec(select(Case)))


def _worker_pass(served: Served) -> None:
    """Deliver the pages the opening queued, as the worker inside `chatops serve` would."""
    notifier = SlackNotifier(token=BOT_TOKEN, base_url=served.fake.api_url)
    escalation_pass(served.db, served.clock, notifier, worker_id="w1")


def test_case_open_alone_opens_the_modal_with_the_trigger_id(served: Served) -> None:
    assert served.command("  Case OPEN ").status == 200

    (opened,) = served.fake.wait_for("views.open")
    assert opened.args["trigger_id"] == "1.2.3"
    assert opened.token == BOT_TOKEN
    view = opened.json_arg("view")
    assert view["type"] == "modal"
    assert view["callback_id"] == CASE_OPEN_FORM
    assert view["private_metadata"] == "C0ASKED"
    blocks = {b["block_id"]: b for b in view["blocks"]}
    assert list(blocks) == ["case_type", "severity", "summary", "details", "language", "restricted"]
    types = [o["value"] for o in blocks["case_type"]["element"]["options"]]
    assert types == [t.value for t in CaseType]
    severities = blocks["severity"]["element"]["options"]
    assert [o["value"] for o in severities] == [s.value for s in Severity]
    for option, severity in zip(severities, Severity, strict=True):
        description = option["description"]["text"]
        assert len(description) <= OPTION_TEXT_MAX
        assert SEVERITY_MEANING[severity].startswith(description.rstrip("…"))
    assert blocks["summary"]["optional"] is False
    assert blocks["summary"]["element"]["type"] == "plain_text_input"
    assert blocks["details"]["optional"] is True
    assert blocks["details"]["element"]["multiline"] is True
    assert blocks["language"]["optional"] is True
    assert blocks["restricted"]["element"]["type"] == "checkboxes"
    assert "self-harm and child-safety" in blocks["restricted"]["hint"]["text"]
    assert _cases(served.db) == []


def test_expired_trigger_falls_back_to_the_typed_usage(served: Served) -> None:
    served.fake.script("views.open", error("expired_trigger_id"))

    served.command("case open")

    answer = served.answer()
    assert answer["response_type"] == "ephemeral"
    assert "a case needs a type, a severity and a summary" in answer["text"]
    assert "opens a form" in answer["text"]


def test_other_case_commands_do_not_open_a_modal(served: Served) -> None:
    served.command("case open harassment sev3 Doxxing thread")

    assert served.answer()["text"].startswith(":white_check_mark: Opened *TS-2027-0001")
    assert served.fake.calls_to("views.open") == []


def test_submission_opens_the_case_dms_the_submitter_and_announces_it(served: Served) -> None:
    submitted = _submit(served, _values(language="ar"))

    assert submitted.status == 200
    assert submitted.body == ""  # a plain ack closes the modal
    (dm,) = served.fake.wait_for(lambda c: c.method == "chat.postMessage")
    assert dm.args["channel"] == AMIRA
    assert dm.args["text"].startswith(
        ":white_check_mark: Opened *TS-2027-0001 · harassment · sev3*. Paged level 1:"
    )
    (case,) = _cases(served.db)
    assert (case.key, case.type, case.severity, case.reporter) == (
        "TS-2027-0001",
        "harassment",
        "sev3",
        AMIRA,
    )
    assert (case.summary, case.details, case.language) == (
        "Doxxing thread on a user talk page",
        "thread id 1234",
        "ar",
    )
    assert case.restricted is False

    _worker_pass(served)

    channel = [
        c for c in served.fake.calls_to("chat.postMessage") if c.args["channel"] == TEAM_CHANNEL
    ]
    (announcement,) = channel
    assert announcement.args["text"].startswith(":rotating_light: New case *TS-2027-0001")
    assert "Doxxing thread on a user talk page" in texts(announcement.json_arg("blocks"))


def test_a_ticked_box_restricts_and_the_channel_sees_no_summary(served: Served) -> None:
    _submit(served, _values(summary="Secret summary", details="Secret details", restricted=True))

    (dm,) = served.fake.wait_for("chat.postMessage")
    assert "Restricted: the channel sees only its id" in dm.args["text"]
    (case,) = _cases(served.db)
    assert case.restricted is True
    _worker_pass(served)
    channel = [
        c for c in served.fake.calls_to("chat.postMessage") if c.args["channel"] == TEAM_CHANNEL
    ]
    assert channel
    assert all("Secret" not in json.dumps(c.args) for c in channel)


def test_an_invalid_submission_is_answered_inline_and_opens_nothing(served: Served) -> None:
    submitted = _submit(served, _values(summary="   ", language="not a code"))

    assert submitted.status == 200
    answer = json.loads(submitted.body)
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"summary", "language"}
    assert "ar or pt-BR" in answer["errors"]["language"]
    assert _cases(served.db) == []
    served.command("who", rid="later")  # a later request is answered, so the lazy part had time
    served.answer("later")
    assert served.fake.calls_to("chat.postMessage") == []


def test_a_stranger_submitting_is_told_by_dm_and_nothing_opens(served: Served) -> None:
    _submit(served, _values(), user=NOBODY)

    (dm,) = served.fake.wait_for("chat.postMessage")
    assert dm.args["channel"] == NOBODY
    assert "not a member of the *Trust &amp; Safety* team" in dm.args["text"]
    assert _cases(served.db) == []
    assert [c for c in served.fake.calls if c.method == RESPONSE_URL] == []


def test_console_case_open_alone_gives_the_usage_and_the_form_hint(sqlite_db: Database) -> None:
    world = make_world(sqlite_db)

    reply = dispatch("case open", world.context("U0ANN"))

    assert not reply.ok
    assert reply.text.splitlines() == [
        ":warning: a case needs a type, a severity and a summary (in Slack, `/ts case open` "
        "alone opens a form)",
        'Usage: `/ts case open <type> <sev1-4> <summary…> [lang:xx] [details:"…"]`',
    ]
