"""Readiness: may this process take traffic? The database answers, its schema is the code's (or a
newer release's, during a rollout), and some worker (any replica's) started a pass recently.

Liveness (`/healthz`) is only "the process answers"; readiness is what a load balancer or an
orchestrator should route on, and what an operator's alert should watch. A check runs at most
once per `CACHE_S` and never twice at once: probes from several balancers, or a database that
hangs, cannot pile up connections; a probe arriving while a check runs gets the last answer.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import text

from chatops import heartbeat
from chatops.clock import Clock, system_clock
from chatops.db import Database
from chatops.schema.migrate import alembic_config, current_revision, head_revision

log = logging.getLogger(__name__)

#: A worker passes at least every few seconds and beats every 5 s; a minute of silence means
#: no worker is running (or all are stuck), so pages are not going out.
STALE_AFTER = timedelta(seconds=60)
#: Seconds an answer is reused.
CACHE_S = 1.0


@dataclass(frozen=True)
class Verdict:
    """Ready or not, with a one-line reason (empty when ready) and what was seen."""

    ready: bool
    reason: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ready": self.ready, **self.detail}
        if self.reason:
            out["reason"] = self.reason
        return out


class Readiness:
    """The readiness check of one process; `need_worker=False` skips the heartbeat."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock = system_clock,
        stale_after: timedelta = STALE_AFTER,
        need_worker: bool = True,
        cache_s: float = CACHE_S,
    ) -> None:
        self.db, self.clock = db, clock
        self.stale_after, self.need_worker, self.cache_s = stale_after, need_worker, cache_s
        self._head: str | None = None
        self._known: frozenset[str] = frozenset()
        self._lock = threading.Lock()
        self._last: tuple[float, Verdict] | None = None

    def __call__(self) -> Verdict:
        if not self._lock.acquire(blocking=False):
            last = self._last
            return last[1] if last is not None else Verdict(False, "readiness check under way")
        try:
            if self._last is not None and time.monotonic() - self._last[0] < self.cache_s:
                return self._last[1]
            verdict = self._check()
            self._last = (time.monotonic(), verdict)
            return verdict
        finally:
            self._lock.release()

    def _check(self) -> Verdict:
        engine = self.db.engine
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            current = current_revision(engine)
        except Exception as error:
            # The driver's message may quote the URL; the class name says enough here.
            log.warning("readiness: database unreachable", extra={"error": type(error).__name__})
            return Verdict(False, "database unreachable", {"database": type(error).__name__})
        if self._head is None:
            self._head = head_revision(engine)
            script = ScriptDirectory.from_config(alembic_config(engine))
            self._known = frozenset(r.revision for r in script.walk_revisions())
        detail: dict[str, Any] = {"database": "ok", "schema": current, "code_schema": self._head}
        # A revision this code does not know is a newer release's, migrated before its rollout
        # (docs/deploy.md): this older process stays ready until it is replaced.
        if current != self._head and (current is None or current in self._known):
            return Verdict(
                False,
                f"migrations not current (database at {current or 'none'}, code at "
                f"{self._head}); run `chatops db upgrade`",
                detail,
            )
        if not self.need_worker:
            return Verdict(True, "", detail)
        try:
            seen = heartbeat.latest(self.db)
        except Exception as error:
            return Verdict(
                False, "worker heartbeat unreadable", {**detail, "worker": type(error).__name__}
            )
        if seen is None:
            return Verdict(False, "no worker has ever run", {**detail, "worker": None})
        age = (self.clock() - seen).total_seconds()
        detail["worker_seen_s_ago"] = round(age, 1)
        if age > self.stale_after.total_seconds():
            return Verdict(False, f"no worker seen for {age:.0f}s (start `chatops worker`)", detail)
        return Verdict(True, "", detail)
