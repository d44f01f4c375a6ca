"""Pages due in bulk, and worker processes that drain them: shared by the delivery tests and
the page benchmarks (bench/ imports this; tests never import bench)."""

from __future__ import annotations

import multiprocessing as mp
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert

from chatops.cases.models import Case
from chatops.db import Database, make_engine
from chatops.escalation.models import PageKind
from chatops.escalation.pages import page_key
from chatops.oncall.watch import WatchSettings
from chatops.outbox.models import OutboxMessage
from chatops.outbox.notifier import SlackNotifier
from chatops.worker import next_due, run_due
from rota.models import Team

NOW = datetime(2027, 3, 20, 12, 0, tzinfo=UTC)
BLOCKS = '[{"type": "section", "text": {"type": "mrkdwn", "text": "page"}}]'
#: The pages are what is measured: the daily coverage watch stays off.
NO_WATCH = WatchSettings(enabled=False)


def seed_due_pages(db: Database, count: int, *, at: datetime = NOW) -> int:
    """A team, one case and `count` pages due at `at`, each with a unique text; the team id."""
    with db.transaction() as session:
        team = Team(name=f"bench-{uuid.uuid4().hex[:6]}", channel="C0BENCH")
        session.add(team)
        session.flush()
        assert team.id is not None
        case = Case(
            team_id=team.id,
            key="TS-2027-0001",
            type="other",
            severity="sev1",
            summary="bench",
            reporter="U0BENCH",
            opened_at=at,
        )
        session.add(case)
        session.flush()
        rows = [
            {
                "team_id": team.id,
                "topic": "page",
                "key": page_key(case_id=case.id, batch=i, kind=PageKind.dm, recipient=f"U{i:07d}"),
                "case_id": case.id,
                "batch": i,
                "step": 0,
                "level": "1",
                "kind": "dm",
                "role": "responder",
                "recipient": f"U{i:07d}",
                "text": f"page-{i}",
                "blocks": BLOCKS,
                "state": "pending",
                "due_at": at,
                "attempts": 0,
                "created_at": at,
            }
            for i in range(count)
        ]
        for start in range(0, count, 2_000):
            session.execute(insert(OutboxMessage), rows[start : start + 2_000])
        return team.id


def drain(url: str, api_url: str, worker_id: str, now_iso: str) -> tuple[int, float, float]:
    """One worker with its own engine: deliver until nothing is due; (attempts, start, end)."""
    db = Database(make_engine(url))
    now = datetime.fromisoformat(now_iso)
    # As `chatops worker` builds it.
    notifier = SlackNotifier(token="xoxb-bench", base_url=api_url)
    done = 0
    started = time.perf_counter()
    while True:
        # The pages are what is measured: the daily coverage watch stays off.
        n = run_due(db, lambda: now, notifier, worker_id=worker_id, limit=100, watch=NO_WATCH)
        done += n
        if n == 0 and next_due(db) is None:
            break
        if n == 0:
            time.sleep(0.01)  # others hold the last claims
    ended = time.perf_counter()
    db.dispose()
    return done, started, ended


def _drain_into(queue: Any, *args: str) -> None:
    queue.put(drain(*args))


def run_workers(url: str, api_url: str, workers: int, *, now: datetime = NOW) -> tuple[int, float]:
    """`workers` processes draining the due pages at `url`; (attempts, wall seconds)."""
    total, started, ended = run_workers_timed(url, api_url, workers, now=now)
    return total, ended - started


def run_workers_timed(
    url: str, api_url: str, workers: int, *, now: datetime = NOW
) -> tuple[int, float, float]:
    """As `run_workers`: (attempts, the first worker's start, the last one's end), in
    `time.perf_counter()`, which is one clock for every process on Linux."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_drain_into, args=(queue, url, api_url, f"bench-{i}", now.isoformat()))
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    results = [queue.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    total = sum(r[0] for r in results)
    return total, min(r[1] for r in results), max(r[2] for r in results)
