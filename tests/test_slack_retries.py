"""Events retried by Slack (`X-Slack-Retry-Num`) are handled once, whichever replica gets the
retry, and a retry of an event never taken is handled (#13)."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator

import pytest

from chatops.clock import ManualClock
from chatops.db import Database, make_engine
from chatops.slack import create_app
from chatops.slack.http import SlackHttpServer
from tests.support.fakeslack import FakeSlack
from tests.support.fakeslack import fake_slack as fake_slack  # the fixture
from tests.support.served import AMIRA, NOW, SECRET, serve, settings_for
from tests.support.slackhttp import app_home_opened, get, signed_headers
from tests.test_probes import probes, value


def retry(url: str, body: bytes, kind: str, number: int, *, offset: int = 0) -> int:
    """Send `body` as Slack's retry number `number`: fresh timestamp and signature."""
    headers = {
        "Content-Type": kind,
        "X-Slack-Retry-Num": str(number),
        "X-Slack-Retry-Reason": "http_timeout",
        **signed_headers(body, SECRET, timestamp=int(time.time()) + offset),
    }
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=5) as answer:
        return int(answer.status)


def publishes(fake: FakeSlack) -> int:
    return len(fake.calls_to("views.publish"))


@pytest.fixture
def replicas(sqlite_url: str, sqlite_db: Database, fake_slack: FakeSlack) -> Iterator[list[str]]:
    """Two replicas on one database, each with its own engine; yields their events URLs."""
    other = Database(make_engine(sqlite_url))
    app = create_app(settings_for(fake_slack), other, clock=ManualClock(NOW))
    with serve(sqlite_db, fake_slack) as first, SlackHttpServer(app, host="127.0.0.1") as second:
        try:
            yield [first.url, second.url]
        finally:
            other.dispose()


def test_a_retry_of_an_event_never_taken_is_handled_once(
    replicas: list[str], fake_slack: FakeSlack
) -> None:
    # The first delivery never arrived (Slack timed out on the network): its retries come.
    body, kind = app_home_opened(AMIRA, event_id="Ev0LOST")
    assert retry(replicas[0], body, kind, 1) == 200
    fake_slack.wait_for("views.publish")
    assert retry(replicas[1], body, kind, 2, offset=1) == 200
    assert retry(replicas[0], body, kind, 3, offset=2) == 200
    time.sleep(0.3)  # a second publish, had one started, would be recorded by now
    assert publishes(fake_slack) == 1


def test_retries_spread_over_replicas_publish_once(
    replicas: list[str], fake_slack: FakeSlack
) -> None:
    body, kind = app_home_opened(AMIRA, event_id="Ev0SPREAD")
    headers = {"Content-Type": kind, **signed_headers(body, SECRET)}
    request = urllib.request.Request(replicas[1], data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 200
    fake_slack.wait_for("views.publish")
    for number, url in enumerate([replicas[0], replicas[1], replicas[0]], start=1):
        assert retry(url, body, kind, number, offset=number) == 200
    time.sleep(0.3)
    assert publishes(fake_slack) == 1


def test_ignored_retries_are_counted(sqlite_db: Database, fake_slack: FakeSlack) -> None:
    with serve(sqlite_db, fake_slack) as served:
        app = create_app(settings_for(fake_slack), sqlite_db, clock=served.clock)
        with SlackHttpServer(
            app, host="127.0.0.1", port=0, probes=probes(sqlite_db, served.clock)
        ) as server:
            base = f"http://127.0.0.1:{server.port}"
            metric = "chatops_slack_replays_ignored_total"
            before = value(get(base + "/metrics").body, metric, kind="event")
            body, kind = app_home_opened(AMIRA, event_id="Ev0COUNTED")
            assert retry(server.url, body, kind, 1) == 200
            fake_slack.wait_for("views.publish")
            assert retry(server.url, body, kind, 2, offset=1) == 200
            after = value(get(base + "/metrics").body, metric, kind="event")
    assert after == before + 1
