"""Delivering the outbox: claim due rows with a lease, send each, settle it.

One discipline for everything the worker sends (docs/architecture.md, invariants 4, 5, 12):
claim a batch (`claims`), and for each row, while its lease lasts: look it up first if an
earlier send is in doubt (`indoubt`), post it with its outbox id as metadata, and settle it
(`settle`) before the next. The Slack call happens outside any transaction or lock.

When Slack misbehaves (issue #13): a 429's Retry-After is stored for every worker
(`ratelimits`) and read before claiming and before each call; a 429 is not a failure and a row
handed back keeps its place in the queue, so the oldest pages still go first. A timeout leaves
its message in doubt and hands the rest of the batch back, so one slow answer holds no other
page. Pages of open sev1/sev2 cases are claimed first, in small batches. A stopping worker
(SIGTERM) finishes the message in flight and hands the rest back.

Everything here runs through SQLAlchemy Core on one connection held for the worker's pass: no
ORM unit of work and no pool checkout per message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from sqlalchemy import Connection

from chatops import metrics
from chatops.clock import Clock
from chatops.db import Database
from chatops.logs import correlated
from chatops.outbox.claims import (
    BATCH,
    LEASE_MARGIN,
    RENEW_BELOW,
    URGENT_BATCH,
    Claim,
    claim,
    release,
    renew,
)
from chatops.outbox.indoubt import still_to_send
from chatops.outbox.notifier import Notifier
from chatops.outbox.ratelimits import KNOWN_LIMIT, RATE_SCOPE, limited_until
from chatops.outbox.settle import (
    IN_DOUBT_ERRORS,
    retry_at,
    settle_failed,
    settle_limited,
    settle_sent,
)

log = logging.getLogger(__name__)

#: The worker's Slack client timeout (per phase), below `LEASE_MARGIN`.
SEND_TIMEOUT = 4.0


def deliver_due(
    db: Database,
    *,
    clock: Clock,
    notifier: Notifier,
    worker_id: str,
    limit: int,
    stopping: Callable[[], bool] | None = None,
) -> int:
    """Claim and send up to `limit` due messages on one connection; how many were attempted."""
    with db.engine.connect() as connection:
        connection.info.pop(KNOWN_LIMIT, None)  # a pooled connection's: from an earlier pass

        def take(now: datetime, n: int) -> list[Claim]:
            # Urgent pages first, a few at a time; then the rest in due order.
            urgent = claim(
                connection, now=now, worker_id=worker_id, limit=min(n, URGENT_BATCH), urgent=True
            )
            if urgent:
                return urgent
            return claim(connection, now=now, worker_id=worker_id, limit=min(n, BATCH))

        return deliver_claimed(
            claim=take,
            send=lambda c: send_one(
                connection, claim=c, clock=clock, notifier=notifier, worker_id=worker_id
            ),
            release=lambda claims, due_at: release(
                connection, claims=claims, worker_id=worker_id, due_at=due_at
            ),
            clock=clock,
            limit=limit,
            batch=BATCH,
            renew=lambda claims, now: renew(
                connection, claims=claims, worker_id=worker_id, now=now
            ),
            gate=lambda now: limited_until(connection, now=now),
            stopping=stopping,
        )


class Leased(Protocol):
    @property
    def lease_until(self) -> datetime: ...


_L = TypeVar("_L", bound=Leased)


def deliver_claimed(
    *,
    claim: Callable[[datetime, int], Sequence[_L]],
    send: Callable[[_L], datetime | None],
    release: Callable[[Sequence[_L], datetime], object],
    clock: Clock,
    limit: int,
    batch: int,
    renew: Callable[[Sequence[_L], datetime], Sequence[_L]] | None = None,
    gate: Callable[[datetime], datetime | None] | None = None,
    stopping: Callable[[], bool] | None = None,
) -> int:
    """Claim (`claim(now, n)`) and send up to `limit` due rows; how many were attempted.

    Before claiming and before each send, `gate(now)` says whether Slack's rate limit (stored
    by any worker) is on: then nothing is called and the rest of the batch is handed back. While
    a batch is sent its lease is renewed (`renew`) once it runs low; a claim too near the end of
    its lease (or no longer ours) is handed back unsent, with the rest of its batch: once the
    lease ends another worker may take it, and sending it now could double it. When `send`
    returns an instant (a 429's end, or now after a timeout), the rest of the batch is handed
    back for then and the pass ends. Once `stopping()` is true nothing more is claimed or sent:
    the rest of the batch is handed back at once (the message in flight is finished first).
    """
    attempted = 0
    while attempted < limit:
        if stopping is not None and stopping():
            break
        if gate is not None and gate(clock()) is not None:
            break
        claims: Sequence[_L] = claim(clock(), min(batch, limit - attempted))
        if not claims:
            break
        i = 0
        while i < len(claims):
            now = clock()
            if stopping is not None and stopping():
                release(claims[i:], now)
                return attempted
            if renew is not None and claims[i].lease_until - now < RENEW_BELOW:
                kept = renew(claims[i:], now)
                claims, i = list(kept), 0
                if not claims:
                    break
            if now >= claims[i].lease_until - LEASE_MARGIN:
                release(claims[i:], now)
                break
            if gate is not None and (until := gate(now)) is not None:
                release(claims[i:], until)
                return attempted
            attempted += 1
            later = send(claims[i])
            if later is not None:
                release(claims[i + 1 :], later)
                return attempted
            i += 1
    return attempted


def send_one(
    connection: Connection, *, claim: Claim, clock: Clock, notifier: Notifier, worker_id: str
) -> datetime | None:
    """Send one claimed row and settle it: sent only on Slack's ok, otherwise due again later.

    A row in doubt is looked up first and sent only if absent. Returns when the rest of the
    batch may go: the end of the rate limit after a 429, now after a timeout (so other workers
    take them while this one's connection is in trouble), None to go on.
    """
    where = {"outbox_id": claim.id, "topic": claim.topic, "kind": claim.kind, **claim.refs()}
    with correlated():
        if claim.doubt_at is not None:
            if not still_to_send(
                connection, claim=claim, notifier=notifier, clock=clock, worker_id=worker_id
            ):
                return None
            if (fresh := _keep_lease(connection, claim, clock(), worker_id)) is None:
                return None
            claim = fresh
        started = clock()
        outcome = notifier.send(
            channel=claim.recipient, text=claim.text, blocks=claim.blocks, outbox_id=claim.id
        )
        now = clock()
        metrics.outbox_attempt(claim.topic, outcome.ok, outcome.retry_after)
        if outcome.ok:
            sent = settle_sent(
                connection, claim=claim, worker_id=worker_id, at=now, message_ts=outcome.ts
            )
            if not sent:
                log.warning("message sent after its claim expired", extra=where)
            if claim.first_due_at is not None:
                metrics.delivery_lag(claim.topic, (now - claim.first_due_at).total_seconds())
            return None
        error = outcome.error or "unknown"
        if outcome.retry_after is not None:
            until = now + timedelta(seconds=outcome.retry_after)
            settle_limited(
                connection,
                claim=claim,
                worker_id=worker_id,
                at=now,
                error=error,
                until=until,
                scope=RATE_SCOPE,
            )
            log.warning(
                "slack rate limit; every worker waits",
                extra={**where, "error": error, "until": until.isoformat()},
            )
            return until
        doubt = error in IN_DOUBT_ERRORS
        retry = retry_at(outcome, failures=claim.failures + 1, now=now, cap=claim.max_backoff_s)
        settle_failed(
            connection,
            claim=claim,
            worker_id=worker_id,
            at=now,
            error=error,
            retry_at=retry,
            doubt_at=started if doubt else None,
        )
        log.warning(
            "message not delivered; will retry" + (" (looked up first)" if doubt else ""),
            extra={
                **where,
                "attempt": claim.attempts,
                "error": outcome.error,
                "retry_at": retry.isoformat(),
            },
        )
        return now if doubt else None


def _keep_lease(
    connection: Connection, claim: Claim, now: datetime, worker_id: str
) -> Claim | None:
    """After a lookup (which took calls), the claim with enough lease left to send, or None
    when it is no longer ours."""
    if now < claim.lease_until - LEASE_MARGIN:
        return claim
    kept = renew(connection, claims=[claim], worker_id=worker_id, now=now)
    return replace(claim, lease_until=kept[0].lease_until) if kept else None
