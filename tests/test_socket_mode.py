"""Socket Mode end to end: the real `serve()` against a fake Web API and a fake Socket Mode server.

Most deployments reach Slack this way (no public URL needed), yet it is the one path HTTP tests
cannot see: slack_sdk's own WebSocket client, envelopes instead of signed requests, and answers
that must come back as acks carrying the envelope id within Slack's 3 seconds. Here the bot asks
the fake Web API for its WebSocket URL as in production, connects to `tests.fakesocket`, and is
sent what Slack sends; answers are checked where Slack would see them (acks on the socket,
response_url posts, Web API calls) and state in the database.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import pytest
from pydantic import SecretStr
from sqlmodel import select

from chatops.cases.models import Case
from chatops.clock import Clock, ManualClock, system_clock
from chatops.db import Database
from chatops.serve import serve
from commands.forms import CASE_OPEN_FORM
from rota.store import save_rota
from tests.fakeslack import RESPONSE_URL, FakeSlack, ok
from tests.fakeslack import fake_slack as fake_slack  # the fixture
from tests.fakesocket import TICKET, Ack, Envelope, FakeSocketMode
from tests.fakesocket import fake_socket as fake_socket  # the fixture
from tests.served import ELENA, LUKAS, NOW, TEAM_CHANNEL, example_rota, settings_for
from tests.slackhttp import app_home_opened, block_action, slash_command, view_submission

APP_TOKEN = "xapp-1-test"
ACK_LIMIT_S = 1.0  # well inside Slack's 3 seconds, as for HTTP
WAIT_S = 10.0
WORK_WAIT_S = 30.0  # a spawned work process imports the app first
# Stopping waits for slack_sdk's reading thread, which polls its socket every 3 seconds.
STOP_S = 15.0


def _form_fields(body: bytes) -> dict[str, str]:
    """A form-encoded request body (as `tests.slackhttp` builds them) as Slack's JSON payload."""
    return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))


def _interactive(body: bytes) -> dict[str, Any]:
    """The `payload=<json>` of an interactive request, as Socket Mode carries it: unwrapped."""
    payload: dict[str, Any] = json.loads(_form_fields(body)["payload"])
    return payload


@dataclass
class Running:
    """`serve()` in a thread with Socket Mode settings, and the fakes standing in for Slack."""

    fake: FakeSlack
    socket: FakeSocketMode
    db: Database
    stop: threading.Event
    thread: threading.Thread
    outcome: list[int | BaseException] = field(default_factory=list)

    def command(self, text: str, *, user: str, rid: str) -> Envelope:
        body, _kind = slash_command(text, user_id=user, response_url=self.fake.response_url(rid))
        return self.socket.send_envelope("slash_commands", _form_fields(body))

    def press(self, action_id: str, value: str, *, user: str, rid: str) -> Envelope:
        url = self.fake.response_url(rid)
        body, _kind = block_action(action_id, value, user_id=user, response_url=url)
        return self.socket.send_envelope("interactive", _interactive(body))

    def acked(self, envelope: Envelope) -> Ack:
        """The ack of `envelope`, which must have come within `ACK_LIMIT_S`."""
        ack = self.socket.wait_for_ack(envelope.envelope_id, timeout=WAIT_S)
        took = ack.at - envelope.sent_at
        assert took < ACK_LIMIT_S, f"acked after {took:.2f}s"
        return ack

    def answer(self, rid: str, *, timeout: float = WAIT_S) -> dict[str, Any]:
        """The first body POSTed to response_url `rid`."""
        calls = self.fake.wait_for(
            lambda c: c.method == RESPONSE_URL and c.response_id == rid, timeout=timeout
        )
        return calls[0].args

    def cases(self) -> list[Case]:
        with self.db.transaction() as session:
            return list(session.exec(select(Case)))

    def finish(self) -> int:
        """Set the stop event and return serve()'s exit code."""
        self.stop.set()
        self.thread.join(timeout=STOP_S)
        assert not self.thread.is_alive(), f"serve() still running {STOP_S}s after stop"
        (result,) = self.outcome
        if isinstance(result, BaseException):
            raise result
        return result


@pytest.fixture
def start_serving(
    sqlite_db: Database, sqlite_url: str, fake_slack: FakeSlack, fake_socket: FakeSocketMode
) -> Iterator[Callable[..., Running]]:
    """Start serve() over Socket Mode with the example team saved; stopped after the test.

    A fixed clock keeps the slow halves in the serving process (`serving_app`); pass
    `clock=system_clock` to have them run in work processes as in production.
    """
    started: list[Running] = []

    def start(*, clock: Clock | None = None, **overrides: Any) -> Running:
        with sqlite_db.transaction() as session:
            save_rota(session, example_rota())
        fake_slack.script("apps.connections.open", ok(url=fake_socket.url))
        settings = settings_for(
            fake_slack,
            slack_app_token=SecretStr(APP_TOKEN),
            slack_signing_secret=None,
            database_url=sqlite_url,
            **overrides,
        )
        stop = threading.Event()
        outcome: list[int | BaseException] = []
        when = clock or ManualClock(NOW)

        def run() -> None:
            try:
                outcome.append(
                    serve(settings, sqlite_db, port=0, worker=False, stop=stop, clock=when)
                )
            except BaseException as error:  # handed to the test by `finish()`
                outcome.append(error)

        thread = threading.Thread(target=run, name="serve-socket-mode", daemon=True)
        running = Running(fake_slack, fake_socket, sqlite_db, stop, thread, outcome)
        started.append(running)
        thread.start()
        deadline = time.monotonic() + WAIT_S
        while not fake_socket.connections:
            assert thread.is_alive(), f"serve() ended before connecting: {outcome}"
            assert time.monotonic() < deadline, f"no WebSocket after {WAIT_S}s: {fake_slack.calls}"
            time.sleep(0.01)
        return running

    yield start
    for running in started:
        running.stop.set()
    for running in started:
        running.thread.join(timeout=STOP_S)
        assert not running.thread.is_alive(), "serve() did not stop"
    assert fake_socket.errors == []


def test_help_is_acked_with_its_envelope_id_and_answered_through_response_url(
    start_serving: Callable[..., Running],
) -> None:
    running = start_serving()

    envelope = running.command("help", user=LUKAS, rid="r1")

    ack = running.acked(envelope)
    assert ack.message == {"envelope_id": envelope.envelope_id}  # no payload: nothing shown yet
    answer = running.answer("r1")
    assert answer["response_type"] == "ephemeral"
    assert answer["blocks"][0]["type"] == "header"
    assert "/ts help" in answer["text"]
    # The WebSocket is the one the Web API handed out for the app token.
    (opened,) = running.fake.calls_to("apps.connections.open")
    assert opened.token == APP_TOKEN
    (connection,) = running.socket.connections
    assert connection.target.startswith(f"/link/?ticket={TICKET}&")


def test_a_member_opens_a_case_and_it_is_in_the_database(
    start_serving: Callable[..., Running],
) -> None:
    running = start_serving()

    running.acked(running.command("case open harassment sev3 Something odd", user=LUKAS, rid="o1"))

    text = running.answer("o1")["text"]
    assert text.startswith(":white_check_mark: Opened *TS-2027-0001 · harassment · sev3*"), text
    (case,) = running.cases()
    assert (case.key, case.reporter, case.summary) == ("TS-2027-0001", LUKAS, "Something odd")


def test_a_button_press_is_acked_and_answered_through_response_url(
    start_serving: Callable[..., Running],
) -> None:
    running = start_serving()
    running.command("case open harassment sev3 Doxxing thread", user=LUKAS, rid="o1")
    assert "TS-2027-0001" in running.answer("o1")["text"]

    pressed = running.press("case.take", "TS-2027-0001", user=ELENA, rid="t1")

    assert running.acked(pressed).message == {"envelope_id": pressed.envelope_id}
    taken = running.answer("t1")
    assert taken["text"] == ":raised_hand: TS-2027-0001 is yours now; its escalation is stopped."
    assert taken["replace_original"] is False
    (case,) = running.cases()
    assert case.assignee == ELENA
    told = running.fake.wait_for(
        lambda c: c.method == "chat.postMessage" and c.args.get("channel") == TEAM_CHANNEL
    )
    assert told[0].args["text"].endswith("taken by <@U01EPETROV>.")


def test_an_invalid_form_is_answered_in_the_ack_payload(
    start_serving: Callable[..., Running],
) -> None:
    """Over HTTP the inline errors are the response body; over Socket Mode, the ack's payload."""
    running = start_serving()

    def select_(value: str) -> dict[str, Any]:
        option = {"text": {"type": "plain_text", "text": value}, "value": value}
        return {"type": "static_select", "selected_option": option}

    values = {
        "case_type": {"value": select_("harassment")},
        "severity": {"value": select_("sev3")},
        "summary": {"value": {"type": "plain_text_input", "value": "   "}},
        "details": {"value": {"type": "plain_text_input", "value": None}},
        "language": {"value": {"type": "plain_text_input", "value": None}},
        "restricted": {"value": {"type": "checkboxes", "selected_options": []}},
    }
    body, _kind = view_submission(CASE_OPEN_FORM, values, user_id=LUKAS, private_metadata="C0")

    envelope = running.socket.send_envelope("interactive", _interactive(body))

    ack = running.acked(envelope)
    assert ack.payload is not None, ack.message
    assert ack.payload["response_action"] == "errors"
    assert set(ack.payload["errors"]) == {"summary"}
    assert running.cases() == []


def test_app_home_opened_is_acked_and_publishes_the_tab(
    start_serving: Callable[..., Running],
) -> None:
    running = start_serving()
    body, _kind = app_home_opened(LUKAS)

    envelope = running.socket.send_envelope("events_api", json.loads(body))

    assert running.acked(envelope).message == {"envelope_id": envelope.envelope_id}
    (published,) = running.fake.wait_for("views.publish")
    assert published.args["user_id"] == LUKAS
    assert published.json_arg("view")["type"] == "home"


def test_the_stop_event_ends_serve_with_0_and_closes_the_socket(
    start_serving: Callable[..., Running],
) -> None:
    running = start_serving()
    (connection,) = running.socket.connections
    running.acked(running.command("help", user=LUKAS, rid="r1"))

    assert running.finish() == 0
    running.socket.wait_closed(connection, timeout=WAIT_S)
    assert connection.closed_by_client
    # Closed for good: no new WebSocket asked for, no second connection.
    assert len(running.fake.calls_to("apps.connections.open")) == 1
    assert len(running.socket.connections) == 1


def test_a_refresh_from_slack_reconnects_and_requests_keep_being_answered(
    start_serving: Callable[..., Running],
) -> None:
    """Slack asks every connection to move on every few hours (`disconnect`, refresh_requested)."""
    running = start_serving()
    old = running.socket.wait_connected(1)
    running.fake.script("apps.connections.open", ok(url=running.socket.url))

    running.socket.send({"type": "disconnect", "reason": "refresh_requested"})

    new = running.socket.wait_connected(2, timeout=WAIT_S)
    assert len(running.fake.calls_to("apps.connections.open")) == 2
    # The old connection is closed by the client once its reading thread lets go of it; only
    # then does that thread read the new one (see the report on Socket Mode refreshes).
    running.socket.wait_closed(old, timeout=WAIT_S)
    assert old.closed_by_client and not new.closed.is_set()
    running.acked(running.command("help", user=LUKAS, rid="after"))
    assert "/ts help" in running.answer("after")["text"]


def test_work_processes_answer_commands_that_arrive_over_socket_mode(
    start_serving: Callable[..., Running],
) -> None:
    """As in production: the system clock, so the slow halves run in a spawned work process."""
    running = start_serving(clock=system_clock, work_processes=1)
    workers = [p for p in multiprocessing.active_children() if p.name == "chatops-work"]
    assert len(workers) == 1

    running.acked(running.command("case open harassment sev2 Threats", user=LUKAS, rid="o1"))

    text = running.answer("o1", timeout=WORK_WAIT_S)["text"]
    key = re.search(r"TS-\d{4}-\d{4}", text)
    assert key is not None, text
    (case,) = running.cases()  # written by the work process to the same database
    assert (case.key, case.reporter) == (key.group(0), LUKAS)
    assert running.finish() == 0
    assert not workers[0].is_alive()  # serve() let the work process finish and stopped it
