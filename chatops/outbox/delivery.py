"""Claiming due rows of an outbox table (pages, handoff messages) with a lease.

One discipline for everything the worker sends: claim due rows with `FOR UPDATE SKIP LOCKED`
(so several replicas on PostgreSQL never take the same row), mark them `sending` with one more
attempt and a lease, and send after the claim commits, outside any lock. A crash leaves the row
to be claimed again when its lease ends, so at most the one message in flight goes out twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, update
from sqlmodel import Session, SQLModel, col, select

from chatops.blockkit import Block
from chatops.clock import Clock
from chatops.logs import correlated
from chatops.outbox.notifier import Notifier, Outcome

log = logging.getLogger(__name__)

#: Stop sending a claimed batch this long before its lease ends (the rest is handed back).
LEASE_MARGIN = timedelta(seconds=20)
#: Backoff after a failure without Retry-After: 5 s, 10 s, 20 s … at most 5 minutes.
FIRST_RETRY = timedelta(seconds=5)
LONGEST_RETRY = timedelta(minutes=5)


def claim_due_rows(
    session: Session | Connection,
    table: type[SQLModel],
    *,
    now: datetime,
    worker_id: str,
    limit: int,
    lease_until: datetime,
    sending: str,
    returning: Sequence[Any],
) -> Sequence[Any]:
    """Claim up to `limit` rows of `table` due at `now`; returns the `returning` columns.

    `table` has `id`, `due_at` (NULL when final), `state`, `attempts` and `claimed_by`. One
    statement: the locked selection is a CTE (evaluated once) that the update joins. Rows are
    taken in `due_at` order, ties in index order: ordering ties by id as well would make
    PostgreSQL sort every due row (its index has `due_at` only) when a backlog shares one instant.
    """
    table_: Any = table
    due = (
        select(table_.id)
        .where(col(table_.due_at) <= now)
        .order_by(col(table_.due_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    return session.execute(
        update(table_)
        .where(col(table_.id) == due.c.id)
        .values(
            state=sending,
            attempts=col(table_.attempts) + 1,
            claimed_by=worker_id,
            due_at=lease_until,
        )
        .returning(*returning)
        .execution_options(synchronize_session=False)
    ).all()


class Claimed(Protocol):
    """What a claimed outbox row carries for sending (claims are frozen, so read-only)."""

    @property
    def id(self) -> int: ...
    @property
    def attempts(self) -> int: ...
    @property
    def recipient(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def blocks(self) -> list[Block]: ...


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


def send_claimed(
    claim: Claimed,
    *,
    notifier: Notifier,
    clock: Clock,
    settle_sent: Callable[[datetime, str | None], bool],
    settle_failed: Callable[[datetime, str, datetime], object],
    what: str,
    log_extra: dict[str, Any],
) -> datetime | None:
    """Send one claimed row and settle it: sent only on Slack's ok, otherwise due again later.

    Returns the retry instant after a 429 (so the caller hands its batch back until then).
    """
    with correlated():
        outcome = notifier.send(channel=claim.recipient, text=claim.text, blocks=claim.blocks)
        now = clock()
        if outcome.ok:
            if not settle_sent(now, outcome.ts):
                log.warning(f"{what} sent after its claim expired", extra=log_extra)
            return None
        retry = retry_at(outcome, attempts=claim.attempts, now=now)
        settle_failed(now, outcome.error or "unknown", retry)
        log.warning(
            f"{what} not delivered; will retry",
            extra={
                **log_extra,
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
