"""`serve()` at startup: one line per failed attempt, exit 2 on a refused token, clean stops."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import pytest
from pydantic import SecretStr

from chatops.db import Database
from chatops.settings import Settings
from chatops.slack.reach import Backoff
from chatops.slack.serve import serve
from tests.support.fakeslack import FakeSlack, Scripted, error, rate_limited, server_error
from tests.support.fakeslack import fake_slack as fake_slack  # the fixture
from tests.support.slackhttp import get

REPO = Path(__file__).resolve().parent.parent
UNREACHABLE = re.compile(
    r"^chatops: Slack unreachable at http://127\.0\.0\.1:\d+/api/ \(connection refused\); "
    r"retrying in \d+(\.\d)?s$"
)


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def settings_for(api_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": SecretStr("xoxb-test"),
        "slack_signing_secret": SecretStr("signing"),
        "slack_api_url": api_url,
        **overrides,
    }
    return Settings(_env_file=None, **values)


# -- the real command line --


def _start_cli(tmp_path: Path, sqlite_url: str, api_url: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHATOPS_"))}
    env.update(
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET="signing-secret",
        SLACK_API_URL=api_url,
        DATABASE_URL=sqlite_url,
        CHATOPS_LOG_FORMAT="text",
        PYTHONPATH=str(REPO),
    )
    env.pop("PORT", None)
    return subprocess.Popen(
        [sys.executable, "-m", "chatops", "serve", "--no-worker"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _lines(stream: IO[str]) -> queue.Queue[str | None]:
    """Stderr lines as they arrive (None at the end), read by a thread so tests never block."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def test_cli_retries_an_unreachable_slack_with_one_line_per_attempt(
    tmp_path: Path, sqlite_url: str, sqlite_db: Database
) -> None:
    process = _start_cli(tmp_path, sqlite_url, f"http://127.0.0.1:{closed_port()}/api/")
    assert process.stderr is not None
    lines = _lines(process.stderr)
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 15
        while sum(bool(UNREACHABLE.match(x)) for x in seen) < 2:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, f"chatops ended early: {seen}"
            seen.append(line)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=10)
    while (rest := lines.get(timeout=5)) is not None:
        seen.append(rest)

    assert code == 0, seen
    assert "Traceback" not in "\n".join(seen)
    attempts = [x for x in seen if x.startswith("chatops:")]
    assert attempts and all(UNREACHABLE.match(x) for x in attempts), attempts
    assert "Failed to send a request" not in "\n".join(seen)  # slack_sdk's own noise is muted


def test_cli_exits_2_with_one_line_when_the_token_is_refused(
    tmp_path: Path, sqlite_url: str, sqlite_db: Database, fake_slack: FakeSlack
) -> None:
    fake_slack.script("auth.test", error("invalid_auth"))
    process = _start_cli(tmp_path, sqlite_url, fake_slack.api_url)
    _out, err = process.communicate(timeout=30)

    assert process.returncode == 2
    assert err.strip().splitlines() == [
        "chatops: SLACK_BOT_TOKEN was refused by Slack (invalid_auth); check the token"
    ]
    (call,) = fake_slack.calls_to("auth.test")
    assert call.token == "xoxb-test"


# -- serve() in-process --


@pytest.mark.parametrize("code", ["invalid_auth", "not_authed"])
def test_refused_token_exits_2_naming_the_variable(
    sqlite_db: Database,
    fake_slack: FakeSlack,
    capsys: pytest.CaptureFixture[str],
    code: str,
) -> None:
    fake_slack.script("auth.test", error(code))

    result = serve(settings_for(fake_slack.api_url), sqlite_db, port=0, worker=False)

    assert result == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "SLACK_BOT_TOKEN" in err[0] and code in err[0]


def test_a_url_that_is_not_the_web_api_exits_2_naming_slack_api_url(
    sqlite_db: Database, fake_slack: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_slack.script("auth.test", Scripted(status=404, raw=b"<html>no such page</html>"))

    result = serve(settings_for(fake_slack.api_url), sqlite_db, port=0, worker=False)

    assert result == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("chatops: SLACK_API_URL: ") and "HTTP 404" in line


def test_gives_up_after_max_attempts_with_capped_backoff(
    sqlite_db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    api = f"http://127.0.0.1:{closed_port()}/api/"

    result = serve(
        settings_for(api),
        sqlite_db,
        port=0,
        worker=False,
        retry_base=0.01,
        retry_max=0.02,
        max_attempts=3,
    )

    assert result == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3
    assert all("(connection refused)" in line for line in err)
    assert err[-1].endswith("giving up after 3 attempts")
    assert "Traceback" not in "\n".join(err)


def test_serves_http_after_transient_failures_and_stops_cleanly(
    sqlite_db: Database, fake_slack: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_slack.script("auth.test", server_error(503), rate_limited(retry_after=0))
    stop = threading.Event()
    worker_saw: list[str] = []
    health: list[int] = []

    def worker(stopping: threading.Event) -> None:
        worker_saw.append("started")
        stopping.wait()
        worker_saw.append("stopped")

    def listening(port: int) -> None:
        health.append(get(f"http://127.0.0.1:{port}/healthz").status)
        stop.set()

    result = serve(
        settings_for(fake_slack.api_url),
        sqlite_db,
        port=0,
        worker=True,
        run_worker=worker,
        retry_base=0.01,
        stop=stop,
        on_listening=listening,
    )

    assert result == 0
    assert health == [200]
    assert worker_saw == ["started", "stopped"]
    err = capsys.readouterr().err.strip().splitlines()
    assert ["(HTTP 503)" in err[0], "(rate limited)" in err[1]] == [True, True]
    assert len(fake_slack.calls_to("auth.test")) == 3


@pytest.mark.parametrize(
    ("scopes", "missing"),
    [
        ("commands,chat:write,im:write", "channels:history, groups:history, im:history"),
        ("commands,chat:write,channels:history,groups:history", "im:history"),
        ("commands,chat:write,channels:history,groups:history,im:history", None),
    ],
)
def test_startup_says_once_which_history_scopes_are_missing(
    sqlite_db: Database,
    fake_slack: FakeSlack,
    capsys: pytest.CaptureFixture[str],
    scopes: str,
    missing: str | None,
) -> None:
    fake_slack.script("auth.test", Scripted(headers={"X-OAuth-Scopes": scopes}))
    stop = threading.Event()

    result = serve(
        settings_for(fake_slack.api_url),
        sqlite_db,
        port=0,
        worker=False,
        stop=stop,
        on_listening=lambda _port: stop.set(),
    )

    assert result == 0
    said = [x for x in capsys.readouterr().err.splitlines() if "history" in x]
    if missing is None:
        assert said == []
    else:
        assert len(said) == 1, said
        assert said[0].startswith(f"chatops: the Slack app lacks {missing}: ")
        assert "Reading history" in said[0]


def test_no_worker_flag_leaves_the_worker_hook_alone(
    sqlite_db: Database, fake_slack: FakeSlack
) -> None:
    stop = threading.Event()
    started: list[bool] = []

    result = serve(
        settings_for(fake_slack.api_url),
        sqlite_db,
        port=0,
        worker=False,
        run_worker=lambda _stop: started.append(True),
        stop=stop,
        on_listening=lambda _port: stop.set(),
    )

    assert result == 0
    assert started == []


def test_socket_mode_asks_the_configured_api_url_for_its_websocket(
    sqlite_db: Database, fake_slack: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(fake_slack.api_url, slack_app_token=SecretStr("xapp-test"))

    # The fake hands out a WebSocket URL on a closed port, so the connection itself fails.
    result = serve(settings, sqlite_db, port=0, worker=False, retry_base=0.01, max_attempts=1)

    assert result == 1
    opened = fake_slack.calls_to("apps.connections.open")
    assert opened and all(call.token == "xapp-test" for call in opened)
    assert "WebSocket" in capsys.readouterr().err


def test_refused_app_token_exits_2_naming_it(
    sqlite_db: Database, fake_slack: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_slack.script("apps.connections.open", error("invalid_auth"))
    settings = settings_for(fake_slack.api_url, slack_app_token=SecretStr("xapp-test"))

    result = serve(settings, sqlite_db, port=0, worker=False, max_attempts=1)

    assert result == 2
    assert "SLACK_APP_TOKEN" in capsys.readouterr().err


def test_backoff_doubles_up_to_the_cap_with_bounded_jitter() -> None:
    backoff = Backoff(base=1.0, cap=8.0, jitter=0.2)
    for attempt, expected in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        delays = [backoff.delay(attempt) for _ in range(50)]
        assert all(expected * 0.8 - 1e-9 <= d <= min(8.0, expected * 1.2) for d in delays)
