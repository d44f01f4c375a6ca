"""The kept-open Web API connection the worker pages through, against the fake Slack server."""

from __future__ import annotations

import socket
import time

import pytest
from slack_sdk import WebClient

from chatops.outbox.notifier import Outcome, SlackNotifier
from chatops.outbox.webapi import KeepAliveWebApi
from tests.fakeslack import (
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
    return SlackNotifier(KeepAliveWebApi(token="xoxb-kept", base_url=fake.api_url, **knobs))


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


def test_slacks_refusals_read_as_with_slack_sdk(fake_slack: FakeSlack) -> None:
    """The same Outcome for the same answer, whichever transport the notifier uses."""
    kept = notifier_for(fake_slack)
    sdk = SlackNotifier(WebClient(token="xoxb-kept", base_url=fake_slack.api_url))
    outcomes: dict[str, list[Outcome]] = {"kept": [], "sdk": []}
    for name, notifier in (("kept", kept), ("sdk", sdk)):
        fake_slack.script(
            "chat.postMessage", rate_limited(30), server_error(503), error("channel_not_found")
        )
        for _ in range(3):
            outcomes[name].append(notifier.send(channel="U1", text="x", blocks=[]))
    assert outcomes["kept"] == outcomes["sdk"]
    assert outcomes["kept"] == [
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
    notifier = SlackNotifier(
        KeepAliveWebApi(token="xoxb-x", base_url=f"http://127.0.0.1:{port}/api/", timeout=2)
    )
    outcome = notifier.send(channel="U1", text="x", blocks=[])
    assert outcome == Outcome(ok=False, error="ConnectionRefusedError")


def test_a_connection_the_server_closes_is_replaced(fake_slack: FakeSlack) -> None:
    notifier = notifier_for(fake_slack)
    before = fake_slack.connections
    fake_slack.script("chat.postMessage", Scripted(headers={"Connection": "close"}))
    assert notifier.send(channel="U1", text="one", blocks=[]).ok
    assert notifier.send(channel="U1", text="two", blocks=[]).ok
    assert notifier.send(channel="U1", text="three", blocks=[]).ok
    assert fake_slack.connections - before == 2  # one closed by the server, one kept


def test_settings_choose_the_kept_connection_unless_a_proxy_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    plain = SlackNotifier.from_settings(token="xoxb-x", base_url="https://slack.com/api/")
    assert isinstance(plain.client, KeepAliveWebApi)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    proxied = SlackNotifier.from_settings(token="xoxb-x", base_url="https://slack.com/api/")
    assert isinstance(proxied.client, WebClient)


def test_refuses_a_base_url_that_is_not_http() -> None:
    with pytest.raises(ValueError, match="not an http"):
        KeepAliveWebApi(token="xoxb-x", base_url="ftp://slack.com/api/")
