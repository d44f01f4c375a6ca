"""Page delivery throughput: due pages sent by the worker to the local fake Slack Web API.

Each figure is Web API calls per second, beside a bare loop of `slack_sdk` calls to the same fake
server in the same run (the ceiling: the worker adds a claim per batch and a settle per page).
Workers run as separate processes with their own engine, as replicas would. The fake server is
a single Python process (ThreadingHTTPServer) on the same two CPUs, so with several workers it
is the likely limit: the scale-out rows compare 3 workers with 1 and with 3 bare loops run at
once from their own processes (what the fake allows 3 clients with no database at all).
Every page is settled in its own durable transaction before the next is sent (docs/architecture.md,
invariant 4): on PostgreSQL one statement, committed on its own; on SQLite one transaction. The
worker sends through one kept-open httpx transport (`chatops.outbox.notifier`), where slack_sdk
opens a connection per call, so it is also compared with a bare loop on that same transport:
that ratio is what the claims, settles, audit sealing and the worker's other duties cost.
A worker pass (up to 100 pages here) also fires timers, plans handoffs, runs the coverage and
reporting duties and seals the pass's audit events into the hash chain.

Size: CHATOPS_BENCH_PAGES (default 10,000).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.cpu import MachineCpu
from chatops.db import Database, make_engine, normalise_url
from chatops.outbox.notifier import SlackNotifier
from chatops.schema.migrate import upgrade
from tests.support.pages import BLOCKS, run_workers_timed, seed_due_pages

PAGES = int(os.environ.get("CHATOPS_BENCH_PAGES", "10000"))
LATENCY_PAGES = int(os.environ.get("CHATOPS_BENCH_LATENCY_PAGES", "1000"))
#: Slack's answer time in the scale-out rows that wait for it (the fake's delay per call).
SLACK_LATENCY_S = 0.05
BARE_CALLS = 2_000
POSTGRES_URL = os.environ.get(
    "CHATOPS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def bare_loop(api_url: str, calls: int = BARE_CALLS) -> float:
    """Calls per second of plain `chat_postMessage` calls to the same server."""
    client = WebClient(token="xoxb-bench", base_url=api_url)
    started = time.perf_counter()
    for i in range(calls):
        client.chat_postMessage(channel=f"U{i:07d}", text=f"bare-{i}", blocks=BLOCKS)
    return calls / (time.perf_counter() - started)


def bare_kept_loop(api_url: str, calls: int = BARE_CALLS) -> float:
    """Calls per second of the same calls through the notifier's kept-open client."""
    notifier = SlackNotifier(token="xoxb-bench", base_url=api_url)
    blocks: list[Any] = json.loads(BLOCKS)
    started = time.perf_counter()
    for i in range(calls):
        assert notifier.send(channel=f"U{i:07d}", text=f"k-{i}", blocks=blocks).ok
    seconds = time.perf_counter() - started
    notifier.close()
    return calls / seconds


def _kept_into(queue: Any, api_url: str, calls: int) -> None:
    queue.put(_timed_kept(api_url, calls))


def _timed_kept(api_url: str, calls: int) -> tuple[int, float, float]:
    notifier = SlackNotifier(token="xoxb-bench", base_url=api_url)
    blocks: list[Any] = json.loads(BLOCKS)
    started = time.perf_counter()
    for i in range(calls):
        assert notifier.send(channel=f"U{i:07d}", text=f"p-{i}", blocks=blocks).ok
    ended = time.perf_counter()
    notifier.close()
    return calls, started, ended


def parallel_kept_loops(api_url: str, processes: int, calls: int = BARE_CALLS) -> float:
    """Calls per second of `processes` bare kept-open loops at once, each in its own process:
    what the fake Slack allows that many workers, with no database at all."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_kept_into, args=(queue, api_url, calls)) for _ in range(processes)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    return sum(r[0] for r in results) / (max(r[2] for r in results) - min(r[1] for r in results))


@contextlib.contextmanager
def scratch_postgres() -> Iterator[str | None]:
    """A fresh PostgreSQL database's URL for one measurement, dropped afterwards; None when
    PostgreSQL cannot be reached (the caller reports the rows as skipped)."""
    admin_url = normalise_url(POSTGRES_URL)
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        name = f"chatops_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception:
        yield None
        return
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            # Flush what the run wrote now, not in the middle of the next benchmark.
            with contextlib.suppress(Exception):  # CHECKPOINT needs a privileged role
                connection.execute(text("CHECKPOINT"))
        admin.dispose()


def _drain(url: str, api_url: str, workers: int, fake: Any, pages: int) -> tuple[float, float]:
    """`pages` due pages drained by `workers` processes: (calls/s, share of the CPUs busy)."""
    db = Database(make_engine(url))
    upgrade(db.engine)
    seed_due_pages(db, pages)
    db.dispose()
    before = len(fake.calls)
    with MachineCpu() as cpu:
        attempts, started, ended = run_workers_timed(url, api_url, workers)
    sent = len(fake.calls) - before
    assert attempts == pages and sent == pages, (attempts, sent)
    return sent / (ended - started), cpu.busy(started, ended)


def _measure(url: str, api_url: str, workers: int, fake: Any) -> tuple[float, float, float, float]:
    """(worker calls/s, bare slack_sdk calls/s, bare kept-open calls/s, CPUs busy), one run."""
    bare = bare_loop(api_url)
    kept = bare_kept_loop(api_url)
    rate, busy = _drain(url, api_url, workers, fake, PAGES)
    return rate, bare, kept, busy


def _at_slack_latency(fake: Any) -> list[tuple[str, str]]:
    """Scale-out when each call waits SLACK_LATENCY_S for Slack's answer, as real calls do:
    the workers then wait rather than compute, and the figure is how well they share the queue."""
    rates: dict[int, tuple[float, float]] = {}
    fake.slow("chat.postMessage", SLACK_LATENCY_S)
    try:
        for workers in (1, 3):
            with scratch_postgres() as url:
                if url is None:
                    return [("scale-out at Slack's latency", "skipped: PostgreSQL unreachable")]
                rates[workers] = _drain(url, fake.api_url, workers, fake, LATENCY_PAGES)
    finally:
        fake.slow("chat.postMessage", 0.0)
    where = f"{LATENCY_PAGES:,} pages, Slack answering after {SLACK_LATENCY_S * 1000:.0f} ms"
    rows = [
        (f"PostgreSQL, {n} worker(s), {where}", f"{rate:,.1f} calls/s; CPUs {busy:.0%} busy")
        for n, (rate, busy) in rates.items()
    ]
    ratio = rates[3][0] / rates[1][0]
    rows.append(("scale-out at Slack's latency: 3 workers / 1 [target ≥ 2.5×]", f"{ratio:.2f}×"))
    return rows


def run() -> list[tuple[str, str]]:
    from tests.support.fakeslack import FakeSlack

    fake = FakeSlack().start()
    rows: list[tuple[str, str]] = []
    postgres: dict[int, float] = {}
    busy: dict[int, float] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            sqlite_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            rows += _rows("SQLite, 1 worker", *_measure(sqlite_url, fake.api_url, 1, fake))
        for workers in (1, 3):
            with scratch_postgres() as url:
                if url is None:
                    rows.append((f"PostgreSQL, {workers} worker(s)", "skipped: unreachable"))
                    continue
                figures = _measure(url, fake.api_url, workers, fake)
                postgres[workers], busy[workers] = figures[0], figures[3]
                rows += _rows(f"PostgreSQL, {workers} worker(s)", *figures)
        if len(postgres) == 2:
            ceiling = parallel_kept_loops(fake.api_url, 3)
            rows += [
                (
                    "scale-out: PostgreSQL, 3 workers / 1 worker [target ≥ 2.5×]",
                    f"{postgres[3] / postgres[1]:.2f}× (the CPUs: {busy[1]:.0%} busy with one "
                    f"worker, {busy[3]:.0%} with three)",
                ),
                (
                    "scale-out: 3 bare kept-open loops at once, own processes (the fake's ceiling)",
                    f"{ceiling:,.0f} calls/s; 3 workers reach {postgres[3] / ceiling:.0%} of it",
                ),
            ]
        rows += _at_slack_latency(fake)
    finally:
        fake.stop()
    return rows


def _rows(
    label: str, worker: float, bare: float, kept: float, busy: float
) -> list[tuple[str, str]]:
    return [
        (f"{label}: {PAGES:,} pages", f"{worker:,.0f} calls/s; CPUs {busy:.0%} busy"),
        (f"{label}: bare slack_sdk loop, same run", f"{bare:,.0f} calls/s"),
        (f"{label}: worker / bare slack_sdk loop [target ≥ 70%]", f"{worker / bare:.0%}"),
        (f"{label}: bare loop on the kept-open connection, same run", f"{kept:,.0f} calls/s"),
        (f"{label}: worker / bare kept-open loop", f"{worker / kept:.0%}"),
    ]


if __name__ == "__main__":
    for label, figure in run():
        print(f"{label}: {figure}")
