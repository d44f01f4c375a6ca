"""Claiming due outbox rows with a short lease, renewing it, and handing rows back.

`claim` moves due rows to "sending" in one statement (under ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so replicas never take the same row; SQLite's BEGIN IMMEDIATE serialises a single
worker), bumps `attempts` (the fencing token) and sets `due_at` to the end of the claim's
lease. The lease is short and renewed while its batch is sent, so a dead worker's rows are
taken over within about `LEASE` (docs/architecture.md, invariants 5 and 12). A row claimed
again while still "sending" was left by a worker that died, maybe mid-send: the claim marks it
in doubt (`doubt_at`, the end of that lease) so it is looked up before being sent again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, func, update
from sqlmodel import col, select

from chatops.blockkit import Block
from chatops.db import Database
from chatops.outbox.models import OutboxMessage, OutboxState, Topic
from rota.models import UTCDateTime

#: How long a claim lasts; a claimed message not settled by then is claimed again. Short, and
#: renewed while the batch is being sent, so a dead worker's rows wait at most this long.
LEASE = timedelta(seconds=8)
#: A send starts only with this much of its lease left (more than the client timeout, so a
#: claim cannot expire while its message is in flight); otherwise the rest is handed back.
LEASE_MARGIN = timedelta(seconds=6)
#: Renew a batch's lease once less than this is left (about every second of sending).
RENEW_BELOW = timedelta(seconds=7)
#: Messages claimed per transaction. Small enough that a batch is sent well within its lease.
BATCH = 50
#: Pages of open sev1/sev2 cases are claimed first, this many at a time, so one worker's
#: trouble (a slow Slack, a crash) holds few of them.
URGENT_BATCH = 5


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
    queue_at: datetime  # its place in the queue, restored when it is handed back unsent
    failures: int = 0
    max_backoff_s: int | None = None
    doubt_at: datetime | None = None  # a send of it may have reached Slack: look before sending
    first_due_at: datetime | None = None  # when it was first wanted: its delivery lag's start

    def refs(self) -> dict[str, Any]:
        """The domain ids an audit row names (a page's case; a handoff message's handoff)."""
        if self.topic == Topic.page:
            return {"case_id": self.case_id}
        if self.topic in {Topic.duty, Topic.care}:
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
    col(OutboxMessage.failures),
    col(OutboxMessage.max_backoff_s),
    col(OutboxMessage.doubt_at),
    col(OutboxMessage.first_due_at),
)


def _doubt(due: Any) -> Any:
    """`doubt_at` for a row being claimed: unchanged, unless it is still "sending" (its worker
    died with the lease) and is the lowest id this claim takes from that worker. A worker sends
    its batch in id order and settles each row before the next, so of its rows still "sending"
    only the lowest can have been in flight; the rest were never started and need no lookup.
    (A claim that takes part of a dead batch may mark one row too many: one extra lookup.) The
    doubt begins at the end of that lease; SET expressions read the row as it was."""
    dead = due.alias("dead")
    first_of_dead = (
        select(func.min(dead.c.id))
        .where(
            dead.c.state == OutboxState.sending.value,
            dead.c.claimed_by == col(OutboxMessage.claimed_by),
        )
        .scalar_subquery()
    )
    return case(
        (
            and_(
                col(OutboxMessage.state) == OutboxState.sending.value,
                col(OutboxMessage.doubt_at).is_(None),
                col(OutboxMessage.id) == first_of_dead,
            ),
            col(OutboxMessage.due_at),
        ),
        else_=col(OutboxMessage.doubt_at),
    )


def claim(
    on: Database | Connection,
    *,
    now: datetime,
    worker_id: str,
    limit: int,
    lease: timedelta = LEASE,
    urgent: bool = False,
) -> list[Claim]:
    """Claim up to `limit` due rows (pending, or sending with an expired lease), by id.

    One statement: the locked selection is a CTE (evaluated once) that the update joins. Rows
    are taken in `due_at` order, ties in index order: ordering ties by id as well would make
    PostgreSQL sort every due row (its index has `due_at` only) when a backlog shares one
    instant. `urgent` takes only rows with a backoff cap (pages of open sev1/sev2 cases), by
    their partial index. Given a `Connection` (the worker's, held for its pass) the claim is
    its own transaction on it.
    """
    lease_until = now + lease
    due = select(
        col(OutboxMessage.id), col(OutboxMessage.state), col(OutboxMessage.claimed_by)
    ).where(col(OutboxMessage.due_at) <= now, col(OutboxMessage.held).is_(False))
    if urgent:
        due = due.where(col(OutboxMessage.max_backoff_s).is_not(None))
    locked = (
        due.order_by(col(OutboxMessage.due_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    statement = (
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == locked.c.id)
        .values(
            state=OutboxState.sending.value,
            attempts=col(OutboxMessage.attempts) + 1,
            claimed_by=worker_id,
            due_at=lease_until,
            doubt_at=_doubt(locked),
        )
        .returning(*_CLAIMED)
    )
    if isinstance(on, Connection):
        with on.begin():
            rows = on.execute(statement).all()
    else:
        with on.engine.begin() as connection:
            rows = connection.execute(statement).all()
    # Rows come back in no particular order; they were due in `due_at` order, ties by id.
    rows = sorted(rows, key=lambda r: r.id)
    n = len(rows)
    return [
        _claim_of(r, lease_until, now - timedelta(microseconds=n - i)) for i, r in enumerate(rows)
    ]


def _claim_of(row: Any, lease_until: datetime, queue_at: datetime) -> Claim:
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
        queue_at=queue_at,
        failures=row.failures,
        max_backoff_s=row.max_backoff_s,
        doubt_at=row.doubt_at,
        first_due_at=row.first_due_at,
    )


#: The fencing condition: the row is still in this claim (state, attempt and worker).
OURS = (
    col(OutboxMessage.id) == bindparam("b_id"),
    col(OutboxMessage.state) == OutboxState.sending.value,
    col(OutboxMessage.attempts) == bindparam("b_attempts"),
    col(OutboxMessage.claimed_by) == bindparam("b_worker"),
)


def ours(claim: Claim, worker_id: str) -> dict[str, Any]:
    """The bound parameters of `OURS` for `claim`."""
    return {"b_id": claim.id, "b_attempts": claim.attempts, "b_worker": worker_id}


def renew(
    connection: Connection,
    *,
    claims: Sequence[Claim],
    worker_id: str,
    now: datetime,
    lease: timedelta = LEASE,
) -> list[Claim]:
    """Extend the lease of claims still ours to `now + lease`; the ones renewed.

    A claim whose lease had already been taken over is not renewed (and must not be sent).
    """
    if not claims:
        return []
    until = now + lease
    tokens = {c.id: c.attempts for c in claims}
    with connection.begin():
        rows = connection.execute(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.id).in_(list(tokens)),
                col(OutboxMessage.state) == OutboxState.sending.value,
                col(OutboxMessage.claimed_by) == worker_id,
            )
            .values(due_at=until)
            .returning(col(OutboxMessage.id), col(OutboxMessage.attempts))
        ).all()
    # Another claim of a row by this same worker (a later attempt) is not this one.
    still = {r.id for r in rows if tokens[r.id] == r.attempts}
    return [replace(c, lease_until=until) for c in claims if c.id in still]


_RELEASED = (
    update(OutboxMessage)
    .where(*OURS)
    .values(
        state=OutboxState.pending.value,
        due_at=bindparam("b_due", type_=UTCDateTime()),
        attempts=col(OutboxMessage.attempts) - 1,
        claimed_by=None,
    )
)


def release(
    connection: Connection, *, claims: Sequence[Claim], worker_id: str, due_at: datetime
) -> int:
    """Give back claims that were not attempted (after a 429, a timeout, or at shutdown):
    pending again, no attempt counted, still in doubt if they were.

    Each is due at the earlier of `due_at` and its old place in the queue: a row handed back is
    not overtaken by rows queued after it (the shared rate limit, not `due_at`, holds it).
    """
    if not claims:
        return 0
    with connection.begin():
        result = connection.execute(
            _RELEASED,
            [{**ours(c, worker_id), "b_due": min(due_at, c.queue_at)} for c in claims],
        )
    return int(result.rowcount)
