"""The probes of real `chatops` processes (#13): an HTTP replica without a worker is unready
until a `chatops worker` (another process) beats in the shared database; the worker answers its
own probes on `--http-port`; both stop cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatops.db import Database
from tests.support.clirun import command, command_env
from tests.support.fakeslack import FakeSlack, Scripted
from tests.support.fakeslack import fake_slack as fake_slack  # the fixture
from tests.support.slackhttp import get
from tests.test_serve import closed_port

WAIT_S = 30.0


def readyz(port: int) -> tuple[int, dict[str, object]] | None:
    try:
        got = get(f"http://127.0.0.1:{port}/readyz", timeout=2)
    except OSError:
        return None  # not listening yet
    return got.status, json.loads(got.body)


def wait_ready(port: int, status: int) -> dict[str, object]:
    deadline = time.monotonic() + WAIT_S
    seen = None
    while time.monotonic() < deadline:
        seen = readyz(port)
        if seen is not None and seen[0] == status:
            return seen[1]
        time.sleep(0.1)
    raise AssertionError(f"/readyz on {port} never answered {status}; last {seen}")


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(5)


def start(
    spawn: list[subprocess.Popen[str]], tmp_path: Path, env: dict[str, str], *args: str
) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        command(*args),
        cwd=tmp_path,
        env=command_env(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    spawn.append(process)
    return process


def test_a_replica_is_ready_once_a_worker_elsewhere_beats(
    tmp_path: Path,
    sqlite_url: str,
    sqlite_db: Database,
    fake_slack: FakeSlack,
    spawn: list[subprocess.Popen[str]],
) -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "signing",
        "SLACK_API_URL": fake_slack.api_url,
        "DATABASE_URL": sqlite_url,
        "CHATOPS_LOG_FORMAT": "text",
        "CHATOPS_WORK_PROCESSES": "0",
    }
    web_port, worker_port = closed_port(), closed_port()
    web = start(spawn, tmp_path, env, "serve", "--no-worker", "--port", str(web_port))
    body = wait_ready(web_port, 503)
    assert body["reason"] == "no worker has ever run"

    worker = start(spawn, tmp_path, env, "worker", "--http-port", str(worker_port))
    wait_ready(worker_port, 200)  # its own probes
    wait_ready(web_port, 200)  # the replica sees it through the database (cached ≤ 1 s)
    metrics = get(f"http://127.0.0.1:{worker_port}/metrics").body
    assert "chatops_worker_heartbeat_age_seconds " in metrics

    for process in (worker, web):
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
        assert process.returncode == 0, err
        assert "Traceback" not in err


def test_a_taken_probe_port_stops_the_worker_with_one_line(
    tmp_path: Path,
    sqlite_url: str,
    sqlite_db: Database,
    fake_slack: FakeSlack,
    spawn: list[subprocess.Popen[str]],
) -> None:
    import socket

    env = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": fake_slack.api_url}
    env["DATABASE_URL"] = sqlite_url
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        worker = start(spawn, tmp_path, env, "worker", "--http-port", str(port))
        _out, err = worker.communicate(timeout=30)
    assert worker.returncode == 2
    assert err.strip().splitlines() == [
        f"chatops: cannot listen on port {port} for probes (Address already in use)"
    ]


@pytest.mark.parametrize(
    ("scopes", "missing"),
    [
        ("commands,chat:write,im:write", "channels:history, groups:history, im:history"),
        ("commands,chat:write,channels:history,groups:history,im:history", None),
    ],
)
def test_a_worker_says_at_start_which_history_scopes_are_missing(
    tmp_path: Path,
    sqlite_url: str,
    sqlite_db: Database,
    fake_slack: FakeSlack,
    scopes: str,
    missing: str | None,
) -> None:
    """`chatops worker` alone says it at start, as `chatops serve` does, not at the first send
    in doubt (which may come at 3 a.m.); and then it does not try lookups it cannot make."""
    fake_slack.script("auth.test", Scripted(headers={"X-OAuth-Scopes": scopes}))
    env = {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_API_URL": fake_slack.api_url,
        "DATABASE_URL": sqlite_url,
        "CHATOPS_LOG_FORMAT": "text",
    }
    done = subprocess.run(
        command("worker", "--once"),
        cwd=tmp_path,
        env=command_env(env),
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stderr.splitlines() if "history" in line]
    if missing is None:
        assert said == []
    else:
        assert said == [
            f"chatops: the Slack app lacks {missing}: a message whose send is in doubt (a "
            "timeout, a crash) is sent again without looking, so it may arrive twice; see "
            "README, Reading history"
        ]
    assert [c.method for c in fake_slack.calls].count("auth.test") == 1
