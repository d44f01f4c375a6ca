"""Delivering the outbox: claim due rows with a lease, send each, settle it.

One discipline for everything the worker sends. `claim` moves due rows to "sending" in one
statement (under ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so replicas never take the same row;
SQLite's BEGIN IMMEDIATE serialises a single worker), bumps `attempts` (the fencing token) and
sets `due_at` to the end of the claim's lease. The Slack call happens after that commit, outside
any lock. `settle_sent` / `settle_failed` then update the row only while it is still ours
(`state = sending AND attempts = n AND claimed_by = me`), so a worker that lost its lease cannot
overwrite the newer claim, and write the audit row in the same transaction iff the update took
effect. Only Slack's `ok` marks a message sent; every failure is audited and retried. A crash
between send and settle leaves the row "sending"; when the lease ends it is due again and sent
once more: that one message in flight is the only possible duplicate (invariant 4).

Everything here runs through SQLAlchemy Core on one connection held for the worker's pass: no
ORM unit of work and no pool checkout per message, statements built once with bound parameters.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, bindparam, insert, update
from sqlmodel import col, select

from chatops.audit import AuditEvent
from chatops.blockkit import Block
from chatops.clock import Clock
from chatops.db import Database
from chatops.logs import correlated, correlation_id
from chatops.outbox.models import OutboxMessage, OutboxState, Topic
from chatops.outbox.notifier import Notifier, Outcome
from rota.models import UTCDateTime

log = logging.getLogger(__name__)

#: How long a claim lasts; a claimed message not settled by then is sent again.
LEASE = timedelta(seconds=60)
#: Stop sending a claimed batch this long before its lease ends (the rest is handed back).
LEASE_MARGIN = timedelta(seconds=20)
#: Messages claimed per transaction. Small enough that a batch is sent well within its lease.
BATCH = 50
#: Backoff after a failure without Retry-After: 5 s, 10 s, 20 s … at most 5 minutes.
FIRST_RETRY = timedelta(seconds=5)
LONGEST_RETRY = timedelta(minutes=5)


@dataclass(frozen=True)
class AuditNames:
    """How a topic's rows appear in the audit trail."""

    sent: str
    retry: str
    subject: str  # the subject's prefix: "<subject>:<outbox id>"


#: Page names predate the one outbox and are kept, so the trail reads the same across it.
AUDIT = {
    Topic.page: AuditNames(sent="page.delivered", retry="page.retry", subject="page"),
    Topic.handoff: AuditNames(
        sent="handoff.message_sent", retry="handoff.message_retry", subject="handoff_message"
    ),
    Topic.duty: AuditNames(sent="duty.message_sent", retry="duty.message_retry", subject="duty"),
}


@dataclass(frozen=True)
class Claim:
    """A claimed row: what to send, and the fencing token (`attempts`) that settles it."""

    id: int
    attempts: int
    team_id: int
    topic: str
    kind: str
    case_id: int | None
    handoff_id: int | None
    recipient: str
    text: str
    blocks: list[Block]
    lease_until: datetime

    def refs(self) -> dict[str, Any]:
        """The domain ids an audit row names (a page's case; a handoff message's handoff)."""
        if self.topic == Topic.page:
            return {"case_id": self.case_id}
        if self.topic == Topic.duty:
            return {"case_id": self.case_id, "kind": self.kind}
        return {"handoff_id": self.handoff_id, "kind": self.kind}


_CLAIMED = (
    col(OutboxMessage.id),
    col(OutboxMessage.attempts),
    col(OutboxMessage.team_id),
    col(OutboxMessage.topic),
    col(OutboxMessage.kind),
    col(OutboxMessage.case_id),
    col(OutboxMessage.handoff_id),
    col(OutboxMessage.recipient),
    col(OutboxMessage.text),
    col(OutboxMessage.blocks),
)


def claim(
    on: Database | Connection,
    *,
    now: datetime,
    worker_id: str,
    limit: int,
    lease: timedelta = LEASE,
) -> list[Claim]:
    """Claim up to `limit` due rows (pending, or sending with an expired lease), by id.

    One statement: the locked selection is a CTE (evaluated once) that the update joins. Rows
    are taken in `due_at` order, ties in index order: ordering ties by id as well would make
    PostgreSQL sort every due row (its index has `due_at` only) when a backlog shares one
    instant. Given a `Connection` (the worker's, held for its pass) the claim is its own
    transaction on it.
    """
    lease_until = now + lease
    due = (
        select(OutboxMessage.id)
        .where(col(OutboxMessage.due_at) <= now)
        .order_by(col(OutboxMessage.due_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    statement = (
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == due.c.id)
        .values(
            state=OutboxState.sending.value,
            attempts=col(OutboxMessage.attempts) + 1,
            claimed_by=worker_id,
            due_at=lease_until,
        )
        .returning(*_CLAIMED)
    )
    if isinstance(on, Connection):
        with on.begin():
            rows = on.execute(statement).all()
    else:
        with on.engine.begin() as connection:
            rows = connection.execute(statement).all()
    claims = [_claim_of(r, lease_until) for r in rows]
    return sorted(claims, key=lambda c: c.id)


def _claim_of(row: Any, lease_until: datetime) -> Claim:
    return Claim(
        id=row.id,
        attempts=row.attempts,
        team_id=row.team_id,
        topic=row.topic,
        kind=row.kind,
        case_id=row.case_id,
        handoff_id=row.handoff_id,
        recipient=row.recipient,
        text=row.text,
        blocks=json.loads(row.blocks),
        lease_until=lease_until,
    )


# Settles run once per message, so their statements are built once, with bound parameters.
_OURS = (
    col(OutboxMessage.id) == bindparam("b_id"),
    col(OutboxMessage.state) == OutboxState.sending.value,
    col(OutboxMessage.attempts) == bindparam("b_attempts"),
    col(OutboxMessage.claimed_by) == bindparam("b_worker"),
)
_SENT = (
    update(OutboxMessage)
    .where(*_OURS)
    .values(
        state=OutboxState.sent.value,
        due_at=None,
        sent_at=bindparam("b_at", type_=UTCDateTime()),
        message_ts=bindparam("b_ts"),
        last_error=None,
    )
)
_FAILED = (
    update(OutboxMessage)
    .where(*_OURS)
    .values(
        state=OutboxState.pending.value,
        due_at=bindparam("b_due", type_=UTCDateTime()),
        last_error=bindparam("b_error"),
    )
)
_RELEASED = (
    update(OutboxMessage)
    .where(*_OURS)
    .values(
        state=OutboxState.pending.value,
        due_at=bindparam("b_due", type_=UTCDateTime()),
        attempts=col(OutboxMessage.attempts) - 1,
        claimed_by=None,
    )
)
_AUDIT = insert(AuditEvent)


def _ours(claim: Claim, worker_id: str) -> dict[str, Any]:
    return {"b_id": claim.id, "b_attempts": claim.attempts, "b_worker": worker_id}


def _settle(
    connection: Connection, change: Any, params: dict[str, Any], audit: dict[str, Any]
) -> bool:
    """The fenced update and its audit row (iff it matched), committed as one transaction.

    `connection` must not be in a transaction: a settle commits before the next send.
    """
    with connection.begin():
        if not connection.execute(change, params).rowcount:
            return False
        connection.execute(_AUDIT, audit)
    return True


def _audit_row(claim: Claim, *, at: datetime, action: str, **detail: Any) -> dict[str, Any]:
    """An audit row, the same shape `audit.record` writes."""
    return {
        "team_id": claim.team_id,
        "at": at,
        "actor": "system",
        "action": action,
        "subject": f"{AUDIT[Topic(claim.topic)].subject}:{claim.id}",
        "detail": json.dumps({**claim.refs(), **detail}, sort_keys=True, default=str),
        "correlation_id": correlation_id(),
    }


def settle_sent(
    connection: Connection,
    *,
    claim: Claim,
    worker_id: str,
    at: datetime,
    message_ts: str | None,
) -> bool:
    """Mark a message sent (and audit it); False when the claim was no longer ours."""
    names = AUDIT[Topic(claim.topic)]
    return _settle(
        connection,
        _SENT,
        {**_ours(claim, worker_id), "b_at": at, "b_ts": message_ts},
        _audit_row(claim, at=at, action=names.sent, kind=claim.kind, attempt=claim.attempts),
    )


def settle_failed(
    connection: Connection,
    *,
    claim: Claim,
    worker_id: str,
    at: datetime,
    error: str,
    retry_at: datetime,
) -> bool:
    """Back to pending, due at `retry_at`, audited: a failure is retried, never dropped."""
    names = AUDIT[Topic(claim.topic)]
    return _settle(
        connection,
        _FAILED,
        {**_ours(claim, worker_id), "b_due": retry_at, "b_error": error[:200]},
        _audit_row(
            claim,
            at=at,
            action=names.retry,
            attempt=claim.attempts,
            error=error[:200],
            retry_at=retry_at,
        ),
    )


def release(
    connection: Connection, *, claims: Sequence[Claim], worker_id: str, due_at: datetime
) -> int:
    """Give back claims that were not attempted (e.g. after a 429): pending again, no attempt."""
    if not claims:
        return 0
    with connection.begin():
        result = connection.execute(
            _RELEASED, [{**_ours(c, worker_id), "b_due": due_at} for c in claims]
        )
    return int(result.rowcount)


def deliver_due(
    db: Database, *, clock: Clock, notifier: Notifier, worker_id: str, limit: int
) -> int:
    """Claim and send up to `limit` due messages on one connection; how many were attempted."""
    with db.engine.connect() as connection:
        return deliver_claimed(
            claim=lambda now, n: claim(connection, now=now, worker_id=worker_id, limit=n),
            send=lambda c: send_one(
                connection, claim=c, clock=clock, notifier=notifier, worker_id=worker_id
            ),
            release=lambda claims, due_at: release(
                connection, claims=claims, worker_id=worker_id, due_at=due_at
            ),
            clock=clock,
            limit=limit,
            batch=BATCH,
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
) -> int:
    """Claim (`claim(now, n)`) and send up to `limit` due rows; how many were attempted.

    A claim too near the end of its lease is handed back unsent, with the rest of its batch:
    once the lease ends another worker may take it, and sending it now could double it. When
    `send` returns a retry instant (a 429), the rest of the batch waits until then and the pass
    ends.
    """
    attempted = 0
    while attempted < limit:
        claims = claim(clock(), min(batch, limit - attempted))
        if not claims:
            break
        for i, claimed in enumerate(claims):
            now = clock()
            if now >= claimed.lease_until - LEASE_MARGIN:
                release(claims[i:], now)
                break
            attempted += 1
            retry_at = send(claimed)
            if retry_at is not None:
                release(claims[i + 1 :], retry_at)
                return attempted
    return attempted


def send_one(
    connection: Connection, *, claim: Claim, clock: Clock, notifier: Notifier, worker_id: str
) -> datetime | None:
    """Send one claimed row and settle it: sent only on Slack's ok, otherwise due again later.

    Returns the retry instant after a 429 (so the caller hands its batch back until then).
    """
    where = {"outbox_id": claim.id, "topic": claim.topic, "kind": claim.kind, **claim.refs()}
    with correlated():
        outcome = notifier.send(channel=claim.recipient, text=claim.text, blocks=claim.blocks)
        now = clock()
        if outcome.ok:
            sent = settle_sent(
                connection, claim=claim, worker_id=worker_id, at=now, message_ts=outcome.ts
            )
            if not sent:
                log.warning("message sent after its claim expired", extra=where)
            return None
        retry = retry_at(outcome, attempts=claim.attempts, now=now)
        error = outcome.error or "unknown"
        settle_failed(
            connection, claim=claim, worker_id=worker_id, at=now, error=error, retry_at=retry
        )
        log.warning(
            "message not delivered; will retry",
            extra={
                **where,
                "attempt": claim.attempts,
                "error": outcome.error,
                "retry_at": retry.isoformat(),
            },
        )
        return retry if outcome.retry_after is not None else None


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff by attempt number, capped."""
    return min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), LONGEST_RETRY)


def retry_at(outcome: Outcome, *, attempts: int, now: datetime) -> datetime:
    """When to try again: exactly Retry-After when Slack said so, else the backoff."""
    if outcome.retry_after is not None:
        return now + timedelta(seconds=outcome.retry_after)
    return now + retry_delay(attempts)
