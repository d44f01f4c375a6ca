"""Claiming due rows of an outbox table (pages, handoff messages) with a lease.

One discipline for everything the worker sends: claim due rows with `FOR UPDATE SKIP LOCKED`
(so several replicas on PostgreSQL never take the same row), mark them `sending` with one more
attempt and a lease, and send after the claim commits, outside any lock. A crash leaves the row
to be claimed again when its lease ends, so at most the one message in flight goes out twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, SQLModel, col, select

from chatops.escalation.notifier import Outcome

#: Backoff after a failure without Retry-After: 5 s, 10 s, 20 s … at most 5 minutes.
FIRST_RETRY = timedelta(seconds=5)
LONGEST_RETRY = timedelta(minutes=5)


def claim_due_rows(
    session: Session,
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

    `table` has `id`, `due_at` (NULL when final), `state`, `attempts` and `claimed_by`.
    """
    table_: Any = table
    ids = list(
        session.exec(
            select(table_.id)
            .where(col(table_.due_at) <= now)
            .order_by(col(table_.due_at), col(table_.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not ids:
        return []
    return session.execute(
        update(table_)
        .where(col(table_.id).in_(ids))
        .values(
            state=sending,
            attempts=col(table_.attempts) + 1,
            claimed_by=worker_id,
            due_at=lease_until,
        )
        .returning(*returning)
    ).all()


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff by attempt number, capped."""
    return min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), LONGEST_RETRY)


def retry_at(outcome: Outcome, *, attempts: int, now: datetime) -> datetime:
    """When to try again: exactly Retry-After when Slack said so, else the backoff."""
    if outcome.retry_after is not None:
        return now + timedelta(seconds=outcome.retry_after)
    return now + retry_delay(attempts)
