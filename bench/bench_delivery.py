"""Delivery on real time, with real worker processes on PostgreSQL (issue #13).

* Timer lag: 10,000 pages fall due evenly over one minute of real time (no injected clock: the
  workers are `chatops.worker.Worker` loops on the system clock, as `chatops worker` runs them),
  with 1 and then 3 workers. A page's lag is the instant its settle recorded (just after Slack's
  answer) minus the instant it fell due. Target: p99 ≤ 1 s. The worker must keep up with
  ~167 pages/s for this to hold; on a shared machine it may not, and then the lag grows through
  the minute (the last page's lag says so).
* Crash: 3 workers drain 10,000 due pages; one is SIGKILLed after about a quarter of the pages
  went out and another after about half, each replaced at once by a fresh worker (as an
  orchestrator would). Counted from the fake Slack's record: pages never sent (lost), pages sent
  more than once (doubled: at most the one in flight per kill, invariant 4), and when the latest
  page went out. A killed worker's claimed batch waits for its lease (`LEASE`, 10 s) to end.

Sizes: CHATOPS_BENCH_LAG_PAGES, CHATOPS_BENCH_LAG_SECONDS, CHATOPS_BENCH_CRASH_PAGES.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import statistics
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, text
from sqlmodel import col, select

from bench.bench_pages import scratch_postgres
from bench.fake import TimedFakeSlack
from chatops.db import Database, make_engine
from chatops.outbox.claims import LEASE
from chatops.outbox.models import OutboxMessage, OutboxState
from chatops.outbox.notifier import SlackNotifier
from chatops.schema.migrate import upgrade
from chatops.worker import Worker
from tests.support.pages import NO_WATCH, seed_due_pages

LAG_PAGES = int(os.environ.get("CHATOPS_BENCH_LAG_PAGES", "10000"))
LAG_SECONDS = float(os.environ.get("CHATOPS_BENCH_LAG_SECONDS", "60"))
CRASH_PAGES = int(os.environ.get("CHATOPS_BENCH_CRASH_PAGES", "10000"))
LEAD_S = 1.0  # after the seeding, before the first page falls due
DRAIN_LIMIT_S = 600.0


def _worker_process(url: str, api_url: str, worker_id: str, ready: Any) -> None:
    """One `chatops worker` loop on the system clock until SIGTERM (or SIGKILL).

    Stopped by a signal, not a shared Event: setting a multiprocessing Event waits for every
    process that waits on it, and a SIGKILLed one never wakes.
    """
    db = Database(make_engine(url))
    notifier = SlackNotifier(token="xoxb-bench", base_url=api_url, timeout=4.0)
    worker = Worker(db, notifier, worker_id=worker_id, max_sleep=0.5, watch=NO_WATCH)
    signal.signal(signal.SIGTERM, lambda _signal, _frame: worker.stop())
    ready.release()
    worker.run()
    notifier.close()
    db.dispose()


class _Workers:
    def __init__(self, url: str, api_url: str) -> None:
        self.ctx = mp.get_context("spawn")
        self.url, self.api_url = url, api_url
        self.ready = self.ctx.Semaphore(0)
        self.procs: list[mp.process.BaseProcess] = []

    def start(self, name: str) -> mp.process.BaseProcess:
        args = (self.url, self.api_url, name, self.ready)
        process = self.ctx.Process(target=_worker_process, args=args, daemon=True)
        process.start()
        self.procs.append(process)
        return process

    def wait_ready(self, count: int) -> None:
        """Until `count` started workers have imported everything and are about to loop."""
        for _ in range(count):
            if not self.ready.acquire(timeout=120):
                raise RuntimeError("a worker process did not start")

    def close(self) -> None:
        for p in self.procs:
            if p.is_alive():
                p.terminate()  # SIGTERM: the worker finishes its pass and stops
        for p in self.procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()


def _sent(db: Database) -> int:
    with db.engine.connect() as connection:
        query = select(func.count()).where(col(OutboxMessage.state) == OutboxState.sent.value)
        return int(connection.execute(query).scalar_one())


def _wait_sent(db: Database, count: int, limit_s: float = DRAIN_LIMIT_S) -> bool:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if _sent(db) >= count:
            return True
        time.sleep(0.2)
    return False


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _lag(url: str, api_url: str, workers: int) -> tuple[str, str]:
    db = Database(make_engine(url))
    upgrade(db.engine)
    pool = _Workers(url, api_url)
    for i in range(workers):
        pool.start(f"lag-{workers}-{i}")
    pool.wait_ready(workers)
    # Seeded far ahead, then one statement makes page i due at start + i·step.
    seed_due_pages(db, LAG_PAGES, at=datetime.now(UTC) + timedelta(days=1))
    start = datetime.now(UTC) + timedelta(seconds=LEAD_S)
    step = LAG_SECONDS / LAG_PAGES
    with db.engine.begin() as connection:
        connection.execute(
            text("UPDATE outbox SET due_at = :start + make_interval(secs => batch * :step)"),
            {"start": start, "step": step},
        )
    drained = _wait_sent(db, LAG_PAGES, LEAD_S + LAG_SECONDS + DRAIN_LIMIT_S)
    pool.close()
    with db.engine.connect() as connection:
        rows = connection.execute(
            select(col(OutboxMessage.batch), col(OutboxMessage.sent_at)).where(
                col(OutboxMessage.state) == OutboxState.sent.value
            )
        ).all()
    db.dispose()
    lags = sorted(
        ((r.sent_at - (start + timedelta(seconds=r.batch * step))).total_seconds(), r.batch)
        for r in rows
    )
    values = [lag for lag, _ in lags]
    last = max(lags, key=lambda lb: lb[1])[0] if lags else float("nan")
    label = f"timer lag, {workers} worker(s), {LAG_PAGES:,} pages due over {LAG_SECONDS:.0f} s"
    if not values:
        return (label, "nothing sent")
    unsent = "" if drained else f", {LAG_PAGES - len(values):,} NOT sent in time"
    return (
        label + " [target p99 ≤ 1 s]",
        f"p50 {_pct(values, 0.5) * 1000:,.0f} ms, p99 {_pct(values, 0.99) * 1000:,.0f} ms, "
        f"max {values[-1]:.2f} s, last page's {last:.2f} s, "
        f"mean {statistics.fmean(values) * 1000:,.0f} ms{unsent}",
    )


def _crash(url: str, fake: Any) -> list[tuple[str, str]]:
    db = Database(make_engine(url))
    upgrade(db.engine)
    before = len(fake.calls)
    fake.arrivals.clear()
    # The lag runs' databases numbered their pages from 1 too, to the same recipients: an
    # in-doubt lookup must not find their messages (a second install on one workspace would).
    fake.history.clear()
    pool = _Workers(url, fake.api_url)
    workers = [pool.start(f"crash-{i}") for i in range(3)]
    pool.wait_ready(3)
    seed_due_pages(db, CRASH_PAGES, at=datetime.now(UTC))
    started = time.monotonic()
    kills: list[float] = []
    for victim, share in ((0, 0.25), (1, 0.5)):
        deadline = time.monotonic() + DRAIN_LIMIT_S
        while len(fake.calls) - before < CRASH_PAGES * share and time.monotonic() < deadline:
            time.sleep(0.01)
        pid = workers[victim].pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        kills.append(time.monotonic() - started)
        pool.start(f"crash-{victim}-replacement")
    drained = _wait_sent(db, CRASH_PAGES)
    pool.close()
    calls = [c for c in fake.calls[before:] if c.method == "chat.postMessage"]
    arrivals = fake.arrived("/api/chat.postMessage")
    last_call = (max(a[0] for a in arrivals) if arrivals else started) - started
    db.dispose()
    texts = Counter(str(c.args.get("text")) for c in calls)
    expected = {f"page-{i}" for i in range(CRASH_PAGES)}
    lost = len(expected - set(texts))
    doubled = sum(1 for t, n in texts.items() if t in expected and n > 1)
    extra = sum(n - 1 for t, n in texts.items() if t in expected and n > 1)
    label = f"crash: 3 workers, {CRASH_PAGES:,} pages, 2 SIGKILLs"
    return [
        (f"{label}: lost [target 0]", f"{lost}" + ("" if drained else " (drain timed out)")),
        (f"{label}: doubled", f"{doubled} page(s), {extra} extra call(s)"),
        (
            f"{label}: latest page",
            f"{last_call:.1f} s after the start (kills at "
            + ", ".join(f"{k:.1f} s" for k in kills)
            + f"; a killed worker's claims wait out the {LEASE.total_seconds():.0f} s lease)",
        ),
    ]


def run() -> list[tuple[str, str]]:
    fake = TimedFakeSlack()
    fake.start()
    rows: list[tuple[str, str]] = []
    try:
        for workers in (1, 3):
            with scratch_postgres() as url:
                if url is None:
                    return [("delivery", "skipped: PostgreSQL unreachable")]
                rows.append(_lag(url, fake.api_url, workers))
        with scratch_postgres() as url:
            if url is not None:
                rows += _crash(url, fake)
    finally:
        fake.stop()
    return rows


if __name__ == "__main__":
    for label, figure in run():
        print(f"{label}: {figure}")
