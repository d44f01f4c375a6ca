"""`chatops worker` processes on PostgreSQL killed or stopped mid-batch (issue #13, finding 5).

Real worker processes (`python -m chatops worker`) against the fake Slack, on the real clock:
each worker has its own token, so the fake tells whose post is whose. Pages are of an open
sev1 case (a backoff cap), so they are claimed five at a time.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text, update
from sqlmodel import col, select

from chatops.db import Database, make_engine
from chatops.escalation.pages import URGENT_MAX_BACKOFF_S
from chatops.outbox.claims import LEASE
from chatops.outbox.models import OutboxMessage, OutboxState
from chatops.schema.migrate import upgrade
from tests.support.clirun import command, command_env
from tests.support.fakeslack import FakeSlack, fake_slack
from tests.support.pages import seed_due_pages

__all__ = ["fake_slack"]

POST = "chat.postMessage"
PAGES = 30


@pytest.fixture
def pages(postgres_url: str) -> Iterator[Database]:
    db = Database(make_engine(postgres_url))
    upgrade(db.engine)
    yield db
    db.dispose()


def _seed(db: Database) -> None:
    seed_due_pages(db, PAGES, at=datetime.now(UTC))
    with db.transaction() as session:
        session.execute(update(OutboxMessage).values(max_backoff_s=URGENT_MAX_BACKOFF_S))


def _worker(
    url: str, fake: FakeSlack, name: str, logs: Path, how: str = "worker"
) -> subprocess.Popen[bytes]:
    """`chatops worker`, or `chatops serve` with its in-process worker (`how="serve"`)."""
    env = {
        "DATABASE_URL": url,
        "SLACK_BOT_TOKEN": f"xoxb-{name}",
        "SLACK_API_URL": fake.api_url,
        "CHATOPS_COVERAGE_WATCH": "false",
        "CHATOPS_LOG_FORMAT": "text",
    }
    if how == "serve":
        env |= {"SLACK_SIGNING_SECRET": "signing", "PORT": str(_free_port())}
        env |= {"CHATOPS_WORK_PROCESSES": "0"}
    out = (logs / f"{name}.log").open("wb")
    return subprocess.Popen(command(how), env=command_env(env), stdout=out, stderr=out)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _by(fake: FakeSlack, name: str) -> int:
    return sum(c.token == f"xoxb-{name}" for c in fake.calls_to(POST))


def _states(db: Database) -> Counter[str]:
    with db.transaction() as session:
        return Counter(r.state for r in session.exec(select(OutboxMessage)))


def _wait_all_sent(db: Database, deadline: float) -> float:
    while time.monotonic() < deadline:
        if _states(db) == {OutboxState.sent.value: PAGES}:
            return time.monotonic()
        time.sleep(0.05)
    raise AssertionError(f"not all sent in time: {_states(db)}")


def _posted_once(fake: FakeSlack) -> None:
    texts = Counter(m["text"] for i in range(PAGES) for m in fake.messages_in(f"U{i:07d}"))
    assert texts == {f"page-{i}": 1 for i in range(PAGES)}  # 0 lost, 0 doubled
    assert len(fake.calls_to(POST)) == PAGES  # nothing posted a second time either


def test_sigkill_mid_batch_loses_and_doubles_nothing_and_is_taken_over_within_10s(
    postgres_url: str, pages: Database, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    fake_slack.slow(POST, 0.15)  # each answer comes 0.15 s after the post: kill mid-send
    _seed(pages)
    victim = _worker(postgres_url, fake_slack, "victim", tmp_path)
    other = _worker(postgres_url, fake_slack, "other", tmp_path)
    try:
        fake_slack.wait_for(lambda c: c.token == "xoxb-victim", count=3, timeout=20)
        victim.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        victim.wait(5)
        assert _by(fake_slack, "victim") < PAGES
        done = _wait_all_sent(pages, killed + 15)
    finally:
        for p in (victim, other):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(15)
    assert timedelta(seconds=10) >= LEASE
    assert done - killed <= 10.0, done - killed
    _posted_once(fake_slack)
    # The victim's claims were taken over and looked up (the one in flight found, not posted).
    assert fake_slack.calls_to("conversations.history")
    with pages.transaction() as session:
        rows = session.exec(select(OutboxMessage)).all()
    assert all(r.doubt_at is None for r in rows)


@pytest.mark.parametrize("how", ["worker", "serve"])
def test_sigterm_finishes_the_message_in_flight_hands_back_the_rest_and_exits_0(
    postgres_url: str, pages: Database, fake_slack: FakeSlack, tmp_path: Path, how: str
) -> None:
    fake_slack.slow(POST, 0.15)
    _seed(pages)
    first = _worker(postgres_url, fake_slack, "first", tmp_path, how)
    try:
        fake_slack.wait_for(lambda c: c.token == "xoxb-first", count=3, timeout=20)
        first.send_signal(signal.SIGTERM)  # mid-send: its answer is 0.15 s away
        assert first.wait(10) == 0, (tmp_path / "first.log").read_text()
    finally:
        if first.poll() is None:
            first.kill()
    stopped = _states(pages)
    assert OutboxState.sending.value not in stopped  # nothing left claimed: handed back
    assert 0 < stopped[OutboxState.sent.value] < PAGES
    assert _by(fake_slack, "first") == stopped[OutboxState.sent.value]  # in flight: settled
    with pages.transaction() as session:
        rest = session.exec(
            select(OutboxMessage).where(col(OutboxMessage.state) == OutboxState.pending.value)
        ).all()
    # Due at once (not after a lease), no attempt counted, nothing in doubt.
    now = datetime.now(UTC)
    assert all(r.due_at is not None and r.due_at <= now for r in rest)
    assert all(r.attempts == 0 and r.doubt_at is None and r.claimed_by is None for r in rest)
    restarted = time.monotonic()
    second = _worker(postgres_url, fake_slack, "second", tmp_path)
    try:
        done = _wait_all_sent(pages, restarted + 20)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(15) == 0
    assert done > restarted
    assert fake_slack.calls_to("conversations.history") == []  # nothing was in doubt
    _posted_once(fake_slack)


def test_sigstop_mid_batch_is_taken_over_and_the_resumed_worker_doubles_nothing(
    postgres_url: str, pages: Database, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """A frozen worker (SIGSTOP: a paused VM, a stuck host) is a dead one to the others: its
    claims are taken over when the lease ends. When it wakes, its lease is gone: it settles
    nothing over the newer claims and posts nothing again."""
    fake_slack.slow(POST, 0.15)
    _seed(pages)
    victim = _worker(postgres_url, fake_slack, "victim", tmp_path)
    other = _worker(postgres_url, fake_slack, "other", tmp_path)
    try:
        fake_slack.wait_for(lambda c: c.token == "xoxb-victim", count=3, timeout=20)
        victim.send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        by_victim = _by(fake_slack, "victim")
        assert by_victim < PAGES
        done = _wait_all_sent(pages, stopped + 15)
        victim.send_signal(signal.SIGCONT)
        time.sleep(2.0)  # the woken worker finds its lease gone, and goes on idle
        assert victim.poll() is None  # woke and carried on
        # At most the post it was waiting on when frozen came after the stop; none after.
        assert _by(fake_slack, "victim") <= by_victim + 1
    finally:
        for p in (victim, other):
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.send_signal(signal.SIGTERM)
                p.wait(15)
    assert done - stopped <= 10.0, done - stopped
    _posted_once(fake_slack)
    with pages.transaction() as session:
        rows = session.exec(select(OutboxMessage)).all()
    assert all(r.state == OutboxState.sent.value and r.doubt_at is None for r in rows)


def test_database_connections_cut_mid_batch_lose_and_double_nothing(
    postgres_url: str, pages: Database, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """PostgreSQL ends both workers' sessions mid-batch (a failover, an admin's
    pg_terminate_backend): a post whose settle was lost is looked up, not posted again, and
    the workers reconnect and finish within seconds."""
    fake_slack.slow(POST, 0.15)
    _seed(pages)
    workers = [_worker(postgres_url, fake_slack, n, tmp_path) for n in ("one", "two")]
    try:
        fake_slack.wait_for(lambda c: c.token.startswith("xoxb-"), count=6, timeout=20)
        with pages.engine.connect() as connection:
            cut = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        assert cut >= 2  # each worker held a session
        terminated = time.monotonic()
        done = _wait_all_sent(pages, terminated + 20)
        assert all(w.poll() is None for w in workers)  # reconnected, not crashed
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
                w.wait(15)
    assert done - terminated <= 12.0, done - terminated
    _posted_once(fake_slack)
