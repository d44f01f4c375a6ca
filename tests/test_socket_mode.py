"""Socket Mode end to end: the real `serve()` against a fake Web API and a fake Socket Mode server.

Most deployments reach Slack this way (no public URL needed), yet it is the one path HTTP tests
cannot see: a WebSocket client, envelopes instead of signed requests, and answers that must come
back as acks carrying the envelope id within Slack's 3 seconds, also while Slack refreshes the
connection or the network drops it. Here the bot asks the fake Web API for its WebSocket URL as
in production, connects to `tests.support.fakesocket`, and is sent what Slack sends; answers are
checked where Slack would see them (acks on the socket, response_url posts, Web API calls) and
state in the database.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import pytest
from pydantic import SecretStr
from sqlmodel import select

import chatops.slack.socket_mode
from chatops.cases.models import Case
from chatops.clock import Clock, ManualClock, system_clock
from chatops.db import Database
from chatops.slack.serve import serve
from commands.forms import CASE_OPEN_FORM
from rota.store import save_rota
from tests.support.fakeslack import RESPONSE_URL, FakeSlack, delayed, ok, server_error
from tests.support.fakeslack import fake_slack as fake_slack  # the fixture
from tests.support.fakesocket import CLOSE, TICKET, Ack, Connection, Envelope, FakeSocketMode
from tests.support.fakesocket import fake_socket as fake_socket  # the fixture
from tests.support.served import ELENA, LUKAS, NOW, TEAM_CHANNEL, example_rota, settings_for
from tests.support.slackhttp import app_home_opened, block_action, slash_command, view_submission

APP_TOKEN = "xapp-1-test"
ACK_LIMIT_S = 1.0  # well inside Slack's 3 seconds, as for HTTP
WAIT_S = 10.0
WORK_WAIT_S = 30.0  # a spawned work process imports the app first
STOP_S = 15.0  # how long a test waits for serve() to end, to report a hang rather than hang
STOP_LIMIT_S = 1.0  # how long stopping may take: a restart or deploy waits for it
RECONNECT_S = 5.0  # a connection dropped by the network is replaced within this
CPU_SHARE = 0.5  # CPU seconds per second the process may use while it reconnects


def _form_fields(body: bytes) -> dict[str, str]:
    """A form-encoded body (as `tests.support.slackhttp` builds them) as Slack's JSON payload."""
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
    `clock=system_clock` to have them run in work processes as in production. `retry_base` is
    serve()'s first pause between attempts to reach Slack.
    """
    started: list[Running] = []

    def start(*, clock: Clock | None = None, retry_base: float = 1.0, **overrides: Any) -> Running:
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
                    serve(
                        settings,
                        sqlite_db,
                        port=0,
                        worker=False,
                        stop=stop,
                        clock=when,
                        retry_base=retry_base,
                    )
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


def test_the_stop_event_ends_serve_with_0_promptly_and_closes_the_socket(
    start_serving: Callable[..., Running],
) -> None:
    running = start_serving()
    (connection,) = running.socket.connections
    running.acked(running.command("help", user=LUKAS, rid="r1"))

    started = time.monotonic()
    assert running.finish() == 0
    took = time.monotonic() - started
    assert took < STOP_LIMIT_S, f"stopping took {took:.2f}s"
    running.socket.wait_closed(connection, timeout=WAIT_S)
    assert connection.closed_by_client
    # With a close frame, so Slack knows the bot left rather than lost its network.
    assert [f.opcode for f in running.socket.frames if f.connection == 1][-1:] == [CLOSE]
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
    # Closed with a close frame, while the new one stays open.
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


@pytest.mark.parametrize("fake_socket", ["tls"], indirect=True)
def test_over_tls_requests_that_arrive_together_are_all_answered_at_once(
    start_serving: Callable[..., Running],
) -> None:
    """Slack is reached over TLS, where one read can decrypt more than the frame it was for.

    The rest is then in the TLS layer rather than the socket, so waiting on the socket alone
    would leave the second request for the next ping, seconds later.
    """
    running = start_serving()
    (connection,) = running.socket.connections
    assert isinstance(connection.sock, ssl.SSLSocket)
    payloads = []
    for rid in ("t1", "t2", "t3"):
        body, _kind = slash_command(
            "help", user_id=LUKAS, response_url=running.fake.response_url(rid)
        )
        payloads.append(_form_fields(body))

    envelopes = running.socket.send_envelopes("slash_commands", payloads)

    for envelope in envelopes:
        running.acked(envelope)
    assert running.finish() == 0
    assert [f.opcode for f in running.socket.frames][-1:] == [CLOSE]


def test_a_command_right_after_a_refresh_is_acked_promptly(
    start_serving: Callable[..., Running],
) -> None:
    """The new connection is read from its first frame, not once the old one has let go.

    Slack starts sending on the new connection as soon as it is open, and a refresh comes every
    few hours, so a command sent then is an everyday case; several refreshes, each timed.
    """
    running = start_serving()
    for number in (2, 3, 4):
        running.fake.script("apps.connections.open", ok(url=running.socket.url))
        running.socket.send({"type": "disconnect", "reason": "refresh_requested"})
        running.socket.wait_connected(number, timeout=WAIT_S)

        running.acked(running.command("help", user=LUKAS, rid=f"after{number}"))

        assert "/ts help" in running.answer(f"after{number}")["text"]
    assert len(running.fake.calls_to("apps.connections.open")) == 4


def test_slack_closing_the_old_connection_mid_refresh_costs_no_extra_connection(
    start_serving: Callable[..., Running],
) -> None:
    """Slack closes the old connection soon after `disconnect`, maybe before the new one is open."""
    running = start_serving()
    old = running.socket.wait_connected(1)
    running.fake.script("apps.connections.open", delayed(0.5, ok(url=running.socket.url)))
    running.socket.send({"type": "disconnect", "reason": "refresh_requested"})
    running.fake.wait_for("apps.connections.open", count=2)  # asked; answered 0.5 s later

    running.socket.drop(old, "eof")

    running.socket.wait_connected(2, timeout=WAIT_S)
    time.sleep(0.5)  # long enough for serve() to have asked for a third, had it wanted one
    assert len(running.socket.connections) == 2
    assert len(running.fake.calls_to("apps.connections.open")) == 2
    running.acked(running.command("help", user=LUKAS, rid="after"))


def _drop_and_reconnect(running: Running, how: str) -> None:
    """Drop the first connection `how`; the second must follow within seconds, CPU kept idle.

    `serve()` runs in this process, so its CPU time is the process's; the window is counted as at
    least a second, so the work of reconnecting itself is not mistaken for spinning.
    """
    old = running.socket.wait_connected(1)
    cpu_before = time.process_time()
    dropped_at = running.socket.drop(old, how)
    new: Connection | None = None
    with contextlib.suppress(AssertionError):  # measured either way
        new = running.socket.wait_connected(2, timeout=RECONNECT_S)
    took = time.monotonic() - dropped_at
    cpu = time.process_time() - cpu_before
    figures = f"reconnected: {new is not None} after {took:.2f}s, {cpu:.2f}s of CPU"
    assert new is not None, figures
    assert cpu < CPU_SHARE * max(took, 1.0), figures


@pytest.mark.parametrize("how", ["reset", "eof", "silent"])
def test_a_connection_dropped_without_a_close_frame_is_replaced_within_seconds(
    start_serving: Callable[..., Running], monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """A network that drops the connection (reset, cut short, or gone silent) says nothing in
    WebSocket terms.

    The bot must notice, ask for a new WebSocket and answer again within seconds, and not spin
    meanwhile. A silent one is noticed by its unanswered pings, here sent more often than in
    production.
    """
    monkeypatch.setattr(chatops.slack.socket_mode, "PING_INTERVAL_S", 0.5)
    monkeypatch.setattr(chatops.slack.socket_mode, "PONG_TIMEOUT_S", 0.3)
    running = start_serving()
    running.fake.script("apps.connections.open", ok(url=running.socket.url))

    _drop_and_reconnect(running, how)

    assert len(running.fake.calls_to("apps.connections.open")) == 2
    running.acked(running.command("help", user=LUKAS, rid="again"))
    assert "/ts help" in running.answer("again")["text"]


def test_while_slack_stays_unreachable_the_bot_retries_with_backoff_and_one_line_each(
    start_serving: Callable[..., Running], capsys: pytest.CaptureFixture[str]
) -> None:
    """After a drop, reconnecting meets the same backoff and messages as starting up does."""
    running = start_serving(retry_base=0.2)
    running.fake.script(
        "apps.connections.open", server_error(503), server_error(503), ok(url=running.socket.url)
    )

    _drop_and_reconnect(running, "reset")

    assert len(running.fake.calls_to("apps.connections.open")) == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2, err
    assert all(
        re.fullmatch(r"chatops: Slack unreachable at \S+ \(HTTP 503\); retrying in \S+s", x)
        for x in err
    ), err
    running.acked(running.command("help", user=LUKAS, rid="back"))
