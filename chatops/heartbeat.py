"""Worker heartbeats in the database: how any replica knows that SOME worker is alive.

Each `Worker` writes its row at most every `EVERY` (at the start of a pass), so `/readyz` on an
HTTP replica that runs no worker of its own can still tell whether pages are being delivered.
The database, not a file or a process-local flag, because the replica asking and the worker
answering are usually different machines. Rows of workers gone for a day are pruned by whoever
beats.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from sqlalchemy import delete, func
from sqlmodel import Field, SQLModel, col, select

from chatops.db import Database, as_utc
from rota.models import utc_column

log = logging.getLogger(__name__)

#: How often a worker writes its heartbeat (it passes at least every few seconds).
EVERY = timedelta(seconds=5)
#: Rows of workers not seen for this long are deleted.
FORGET_AFTER = timedelta(days=1)


class WorkerHeartbeat(SQLModel, table=True):
    """One worker process (its `worker_id`) and when it last started a pass."""

    __tablename__ = "worker_heartbeat"

    worker_id: str = Field(primary_key=True, max_length=200)
    started_at: datetime = utc_column(nullable=False)
    seen_at: datetime = utc_column(nullable=False, index=True)


def beat(db: Database, *, worker_id: str, now: datetime) -> None:
    """Record that `worker_id` is alive at `now` (one short transaction)."""
    with db.transaction() as session:
        row = session.get(WorkerHeartbeat, worker_id)
        if row is None:
            row = WorkerHeartbeat(worker_id=worker_id, started_at=now, seen_at=now)
            session.execute(
                delete(WorkerHeartbeat).where(col(WorkerHeartbeat.seen_at) < now - FORGET_AFTER)
            )
        row.seen_at = now
        session.add(row)


def latest(db: Database) -> datetime | None:
    """When any worker last beat, or None when none ever did (or all were forgotten)."""
    with db.transaction() as session:
        seen = session.exec(select(func.max(col(WorkerHeartbeat.seen_at)))).one()
    return as_utc(seen) if seen is not None else None


class Heartbeat:
    """A worker's heartbeat, written at most every `every` of its own monotonic time.

    A failure to write is logged and otherwise ignored: the pass that follows will meet the
    same database trouble and report it, and a heartbeat must never stop the pages.
    """

    def __init__(self, db: Database, worker_id: str, every: timedelta = EVERY) -> None:
        self.db, self.worker_id, self.every = db, worker_id, every.total_seconds()
        self._last: float | None = None

    def __call__(self, now: datetime) -> None:
        tick = time.monotonic()
        if self._last is not None and tick - self._last < self.every:
            return
        try:
            beat(self.db, worker_id=self.worker_id, now=now)
        except Exception:
            log.warning("worker heartbeat not recorded", exc_info=True)
            return
        self._last = tick
