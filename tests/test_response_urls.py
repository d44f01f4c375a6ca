"""Answers to a `response_url`: one kept-open connection per process, and what is retried."""

from __future__ import annotations

import socket
import time

import pytest

from chatops.slack import answers, response_urls
from tests.support.fakeslack import (
    RESPONSE_URL,
    FakeSlack,
    Scripted,
    delayed,
    rate_limited,
    server_error,
)
from tests.support.fakeslack import fake_slack as fake_slack  # the fixture


def test_answers_share_one_kept_open_connection(fake_slack: FakeSlack) -> None:
    for i in range(12):
        assert answers.send(fake_slack.response_url(f"r{i}"), {"text": f"answer {i}"})
    assert [c.args["text"] for c in fake_slack.calls_to(RESPONSE_URL)] == [
        f"answer {i}" for i in range(12)
    ]
    assert fake_slack.connections == 1  # a handshake per answer would show 12


def test_a_server_error_is_retried_once_it_passes(fake_slack: FakeSlack) -> None:
    fake_slack.script(RESPONSE_URL, server_error(500), server_error(503))
    waits: list[float] = []
    status = response_urls.post(fake_slack.response_url("r"), {"text": "hi"}, sleep=waits.append)
    assert status == 200
    assert len(fake_slack.calls_to(RESPONSE_URL)) == 3
    assert waits == [0.5, 1.0]  # backing off, not hammering a struggling Slack


def test_server_errors_give_up_after_the_retries(fake_slack: FakeSlack) -> None:
    fake_slack.script(RESPONSE_URL, *[server_error(500)] * 5)
    status = response_urls.post(fake_slack.response_url("r"), {"text": "hi"}, sleep=lambda _: None)
    assert status == 500
    assert len(fake_slack.calls_to(RESPONSE_URL)) == 1 + response_urls.SERVER_ERROR_RETRIES


def test_a_rate_limit_is_waited_out_then_sent(fake_slack: FakeSlack) -> None:
    fake_slack.script(RESPONSE_URL, rate_limited(retry_after=2), rate_limited(retry_after=1))
    waits: list[float] = []
    status = response_urls.post(fake_slack.response_url("r"), {"text": "hi"}, sleep=waits.append)
    assert status == 200
    assert waits == [2.0, 1.0]
    assert len(fake_slack.calls_to(RESPONSE_URL)) == 3


def test_a_retry_after_too_long_for_a_person_gives_up(fake_slack: FakeSlack) -> None:
    fake_slack.script(RESPONSE_URL, rate_limited(retry_after=600))
    waits: list[float] = []
    status = response_urls.post(fake_slack.response_url("r"), {"text": "hi"}, sleep=waits.append)
    assert status == 429
    assert waits == []
    assert len(fake_slack.calls_to(RESPONSE_URL)) == 1


def test_an_answer_that_may_have_been_shown_is_not_sent_twice(fake_slack: FakeSlack) -> None:
    """Slack got the request but answered too late: sending again could show it twice."""
    fake_slack.script(RESPONSE_URL, delayed(1.5))
    started = time.monotonic()
    assert response_urls.post(fake_slack.response_url("r"), {"text": "hi"}, timeout=0.3) is None
    assert time.monotonic() - started < 1.4
    fake_slack.wait_for(RESPONSE_URL, timeout=3)
    time.sleep(1.5)  # the late answer lands; nothing else may follow it
    assert len(fake_slack.calls_to(RESPONSE_URL)) == 1


def test_an_unreachable_response_url_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    assert answers.send(f"http://127.0.0.1:{port}/response/r", {"text": "secret"}) is False
    assert "response_url unreachable" in caplog.text
    assert "secret" not in caplog.text


def test_a_404_for_an_expired_url_is_not_retried(fake_slack: FakeSlack) -> None:
    fake_slack.script(RESPONSE_URL, Scripted(status=404, body={"error": "expired_url"}))
    assert answers.send(fake_slack.response_url("r"), {"text": "hi"}) is False
    assert len(fake_slack.calls_to(RESPONSE_URL)) == 1


@pytest.mark.parametrize("url", ["not a url", "file:///etc/passwd", "http://", "ftp://x/y"])
def test_a_response_url_that_is_not_http_is_refused_without_a_call(url: str) -> None:
    assert answers.send(url, {"text": "hi"}) is False
