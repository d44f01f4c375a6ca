"""The one Web API client the worker sends through (httpx), against the fake Slack server."""

from __future__ import annotations

import socket
import time

import pytest

from chatops.outbox.notifier import Outcome, SlackNotifier
from tests.support.fakeslack import (
    FakeSlack,
    Scripted,
    error,
    fake_slack,
    rate_limited,
    server_error,
)

__all__ = ["fake_slack"]  # the fixture, imported for pytest

BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "page"}}]


def notifier_for(fake: FakeSlack, **knobs: float) -> SlackNotifier:
    return SlackNotifier(token="xoxb-kept", base_url=fake.api_url, **knobs)


def test_consecutive_pages_share_one_connection_and_carry_the_token(
    fake_slack: FakeSlack,
) -> None:
    notifier = notifier_for(fake_slack)
    before = fake_slack.connections
    outcomes = [notifier.send(channel=f"U{n}", text=f"page {n}", blocks=BLOCKS) for n in range(5)]
    assert all(o.ok and o.ts for o in outcomes)
    assert len({o.ts for o in outcomes}) == 5
    assert fake_slack.connections - before == 1
    calls = fake_slack.calls_to("chat.postMessage")
    assert [c.args["channel"] for c in calls] == [f"U{n}" for n in range(5)]
    assert {c.token for c in calls} == {"xoxb-kept"}
    assert calls[0].headers["user-agent"].startswith("chatops/")
    assert calls[0].args["blocks"] == BLOCKS


def test_a_connection_idle_too_long_is_not_reused(fake_slack: FakeSlack) -> None:
    notifier = notifier_for(fake_slack, idle_s=0.05)
    before = fake_slack.connections
    assert notifier.send(channel="U1", text="one", blocks=[]).ok
    time.sleep(0.1)
    assert notifier.send(channel="U1", text="two", blocks=[]).ok
    assert fake_slack.connections - before == 2


def test_slacks_refusals_read_as_outcomes(fake_slack: FakeSlack) -> None:
    """A 429 keeps its Retry-After, an HTML 5xx keeps only its status, ok: false its code."""
    kept = notifier_for(fake_slack)
    fake_slack.script(
        "chat.postMessage", rate_limited(30), server_error(503), error("channel_not_found")
    )
    outcomes = [kept.send(channel="U1", text="x", blocks=[]) for _ in range(3)]
    assert outcomes == [
        Outcome(ok=False, error="ratelimited", retry_after=30.0),
        Outcome(ok=False, error="http 503"),
        Outcome(ok=False, error="channel_not_found"),
    ]
    # After the refusals the kept connection still works.
    assert kept.send(channel="U1", text="x", blocks=[]).ok


def test_an_unreachable_slack_is_an_outcome_not_an_exception() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    notifier = SlackNotifier(token="xoxb-x", base_url=f"http://127.0.0.1:{port}/api/", timeout=2)
    outcome = notifier.send(channel="U1", text="x", blocks=[])
    assert outcome == Outcome(ok=False, error="ConnectError")


def test_a_connection_the_server_closes_is_replaced(fake_slack: FakeSlack) -> None:
    notifier = notifier_for(fake_slack)
    before = fake_slack.connections
    fake_slack.script("chat.postMessage", Scripted(headers={"Connection": "close"}))
    assert notifier.send(channel="U1", text="one", blocks=[]).ok
    assert notifier.send(channel="U1", text="two", blocks=[]).ok
    assert notifier.send(channel="U1", text="three", blocks=[]).ok
    assert fake_slack.connections - before == 2  # one closed by the server, one kept


def test_a_configured_proxy_carries_the_calls(
    fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY is honoured by the one client: no second transport for proxied sites."""
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", fake_slack.base_url)  # the fake stands in for the proxy
    notifier = SlackNotifier(token="xoxb-x", base_url="http://slack.invalid/api/", timeout=2)
    assert notifier.send(channel="U1", text="via the proxy", blocks=[]).ok
    [call] = fake_slack.calls_to("chat.postMessage")
    assert call.headers["host"] == "slack.invalid" and call.args["text"] == "via the proxy"
    assert call.token == "xoxb-x"


def test_refuses_a_base_url_that_is_not_http() -> None:
    with pytest.raises(ValueError, match="not an http"):
        SlackNotifier(token="xoxb-x", base_url="ftp://slack.com/api/")
