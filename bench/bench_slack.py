"""Slack acknowledgement latency: how long Slack waits for the HTTP 200 of a `/ts` command.

50 client threads send signed slash commands over loopback HTTP to the served app (example
team, SQLite, the fake Web API recording the answers) and time each request until its answer.
The baseline is a bare Bolt app served the same way whose only listener acknowledges a no-op
command, measured in the same run. The chatops app acknowledges before doing the work (a lazy
listener), so the figure shows what that work costs the acknowledgements running beside it.
Between scenarios the previous one's answers are awaited, so none bleeds into the next.
Target (not asserted): p99 ≤ 1.3 × the bare app's p99; Slack's own limit is 3 s.
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slack_bolt import Ack, App
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient

from chatops.clock import ManualClock
from chatops.db import Database, make_engine
from chatops.migrate import upgrade
from chatops.slack import create_app
from chatops.slack.http import SlackHttpServer
from commands.registry import VERBS, dispatch
from tests.fakeslack import RESPONSE_URL, FakeSlack
from tests.served import LUKAS, NOW, PRIYA, SECRET, settings_for
from tests.slackhttp import post, slash_command
from tests.teams import example_team_context

CLIENTS = 50
REQUESTS = 400  # per scenario
TIME_LIMIT_S = 60.0  # per scenario: stop sending after this, report what was measured
DRAIN_LIMIT_S = 60.0


def _bare_app(api_url: str) -> App:
    """A Bolt app with nothing but an acknowledging `/ts` listener: the floor to compare to."""

    def authorize(
        enterprise_id: str | None, team_id: str | None, user_id: str | None
    ) -> AuthorizeResult:
        return AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id, bot_token="xoxb-bare", user_id=user_id
        )

    app = App(
        signing_secret=SECRET,
        authorize=authorize,
        client=WebClient(base_url=api_url),
    )

    @app.command("/ts")
    def noop(ack: Ack) -> None:
        ack()

    return app


@dataclass
class Load:
    latencies: list[float] = field(default_factory=list)  # seconds, answered with 200
    failed: int = 0  # refused or reset connections, timeouts, non-200 answers


def _load(url: str, fake: FakeSlack, text: str, tag: str) -> Load:
    """Send REQUESTS commands from CLIENTS threads; the acknowledgement latency of each."""
    load = Load()
    lock = threading.Lock()
    deadline = time.monotonic() + TIME_LIMIT_S

    def one(i: int) -> None:
        if time.monotonic() > deadline:
            return
        body, kind = slash_command(
            text, user_id=PRIYA, response_url=fake.response_url(f"{tag}-{i}")
        )
        try:
            result = post(url, body, kind, SECRET, timeout=10)
        except OSError:
            with lock:
                load.failed += 1
            return
        with lock:
            if result.status == 200:
                load.latencies.append(result.elapsed)
            else:
                load.failed += 1

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        list(pool.map(one, range(REQUESTS)))
    return load


def _drain(fake: FakeSlack, tag: str, expected: int) -> None:
    """Wait (bounded) until the lazy listeners have answered every command of a scenario."""
    prefix = f"{tag}-"
    deadline = time.monotonic() + DRAIN_LIMIT_S
    while time.monotonic() < deadline:
        done = sum(
            1
            for c in fake.calls
            if c.method == RESPONSE_URL and (c.response_id or "").startswith(prefix)
        )
        if done >= expected:
            return
        time.sleep(0.05)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _open_case(db: Database) -> str | None:
    """A case to escalate, when the case verbs exist in this build; None otherwise."""
    if "case" not in VERBS or "escalate" not in VERBS:
        return None
    ctx = example_team_context(db, LUKAS, NOW)
    reply = dispatch("case open harassment sev3 Benchmark case", replace(ctx, clock=lambda: NOW))
    found = re.search(r"TS-\d{4}-\d+", reply.text)
    return found.group(0) if found else None


def run() -> list[tuple[str, str]]:
    fake = FakeSlack().start()
    servers: list[SlackHttpServer] = []
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as scratch:
        db = Database(make_engine(f"sqlite:///{scratch}/bench.db"))
        upgrade(db.engine)
        try:
            import commands.verbs  # noqa: F401  (fill VERBS)

            case_key = _open_case(db)
            # Saves the example team too (the case above needs it first).
            example_team_context(db, PRIYA, NOW)
            app = create_app(settings_for(fake), db, clock=ManualClock(NOW))
            bare = _bare_app(fake.api_url)
            ours = SlackHttpServer(app, host="127.0.0.1", port=0)
            floor = SlackHttpServer(bare, host="127.0.0.1", port=0)
            for server in (ours, floor):
                server.start()
                servers.append(server)

            scenarios: list[tuple[str, str, str]] = [
                ("/ts who", ours.url, "who"),
                ("/ts rota check", ours.url, "rota check"),
            ]
            if case_key:
                scenarios.append((f"/ts escalate {case_key}", ours.url, f"escalate {case_key}"))
            _load(floor.url, fake, "noop", "warm-bare")  # warm both paths up first
            warm = _load(ours.url, fake, "help", "warm")
            _drain(fake, "warm", len(warm.latencies))

            base = _load(floor.url, fake, "noop", "bare")
            base_p99 = _pct(base.latencies, 0.99) if base.latencies else float("nan")
            rows.append(_row("bare Bolt no-op", base, base_p99))
            for i, (label, url, text) in enumerate(scenarios):
                load = _load(url, fake, text, f"s{i}")
                rows.append(_row(label, load, base_p99))
                _drain(fake, f"s{i}", len(load.latencies))
            if not case_key:
                rows.append(("/ts escalate", "not measured: the case verbs are not in this build"))
        finally:
            for server in servers:
                server.stop()
            fake.stop()
            db.dispose()
    return rows


def _row(label: str, load: Load, base_p99: float) -> tuple[str, str]:
    measured = f"{label}: ack latency, {CLIENTS} clients"
    failed = f", {load.failed} failed" if load.failed else ""
    if not load.latencies:
        return (measured, f"no request answered{failed}")
    p50, p99 = _pct(load.latencies, 0.5), _pct(load.latencies, 0.99)
    return (
        measured,
        f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, p99 {p99 / base_p99:.2f}× bare "
        f"({len(load.latencies)} answered{failed}; "
        f"mean {statistics.fmean(load.latencies) * 1000:.1f} ms)",
    )


if __name__ == "__main__":
    for measured, figure in run():
        print(f"{measured}: {figure}")
