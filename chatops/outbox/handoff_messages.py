"""The handoff outbox: messages queued with the state change, then claimed, sent and settled.

The same discipline as `chatops.outbox.pages` (whose lease and backoff it reuses), for
messages that belong to no case: `claim` moves due rows to "sending" in one short transaction
(`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's BEGIN IMMEDIATE serialises a single worker),
bumps `attempts` (the fencing token) and sets `due_at` to the lease's end; the Slack call
happens after that commit; `settle_*` touches the row only while the claim is still ours. Only
Slack's `ok` marks a message sent. A crash between Slack's `ok` and the settle is the one case
that sends a message twice (invariant 4: the one message in flight).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import literal_column, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, col

from chatops import audit
from chatops.blockkit import Block
from chatops.db import Database
from chatops.handoff.models import HandoffMessage, MessageKind, MessageState
from chatops.oncall.models import Handoff
from chatops.outbox.delivery import claim_due_rows, deliver_claimed, send_claimed
from chatops.outbox.notifier import Notifier
from chatops.outbox.pages import LEASE

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

#: Messages claimed per transaction.
BATCH = 25


def insert_ignore(session: Session, table: type[SQLModel], values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True when the row was inserted.

    On PostgreSQL a concurrent insert of the same key waits for the other transaction and then
    does nothing, so exactly one replica wins without an error that would abort its transaction.
    """
    bind = session.get_bind()
    dialect = postgresql if bind.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**values).on_conflict_do_nothing()
    # RETURNING, not rowcount: psycopg reports -1 (truthy) for a skipped ON CONFLICT insert.
    return session.execute(stmt.returning(literal_column("1"))).first() is not None


def queue(
    session: Session,
    *,
    team_id: int,
    key: str,
    kind: MessageKind,
    recipient: str,
    text: str,
    blocks: list[Block],
    at: datetime,
    handoff_id: int | None = None,
) -> bool:
    """Queue one message due now, in the caller's transaction; False if `key` was queued."""
    return insert_ignore(
        session,
        HandoffMessage,
        {
            "team_id": team_id,
            "handoff_id": handoff_id,
            "key": key,
            "kind": kind.value,
            "recipient": recipient,
            "text": text,
            "blocks": json.dumps(blocks),
            "state": MessageState.pending.value,
            "due_at": at,
            "attempts": 0,
            "created_at": at,
        },
    )


def cancel_pending(session: Session, *, handoff_id: int) -> int:
    """Cancel a handoff's messages not yet being sent (its boundary moved)."""
    result = session.execute(
        update(HandoffMessage)
        .where(
            col(HandoffMessage.handoff_id) == handoff_id,
            col(HandoffMessage.state) == MessageState.pending.value,
        )
        .values(state=MessageState.cancelled.value, due_at=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Claim:
    id: int
    attempts: int
    team_id: int
    handoff_id: int | None
    kind: str
    recipient: str
    text: str
    blocks: list[Block]
    lease_until: datetime


def claim(
    db: Database, *, now: datetime, worker_id: str, limit: int, lease: timedelta = LEASE
) -> list[Claim]:
    """Claim up to `limit` due messages (pending, or sending with an expired lease)."""
    lease_until = now + lease
    with db.transaction() as session:
        rows = claim_due_rows(
            session,
            HandoffMessage,
            now=now,
            worker_id=worker_id,
            limit=limit,
            lease_until=lease_until,
            sending=MessageState.sending.value,
            returning=(
                col(HandoffMessage.id),
                col(HandoffMessage.attempts),
                col(HandoffMessage.team_id),
                col(HandoffMessage.handoff_id),
                col(HandoffMessage.kind),
                col(HandoffMessage.recipient),
                col(HandoffMessage.text),
                col(HandoffMessage.blocks),
            ),
        )
    claims = [
        Claim(r[0], r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7]), lease_until) for r in rows
    ]
    return sorted(claims, key=lambda c: c.id)


def _ours(c: Claim, worker_id: str) -> list[Any]:
    return [
        col(HandoffMessage.id) == c.id,
        col(HandoffMessage.state) == MessageState.sending.value,
        col(HandoffMessage.attempts) == c.attempts,
        col(HandoffMessage.claimed_by) == worker_id,
    ]


def settle_sent(
    db: Database, *, claim: Claim, worker_id: str, at: datetime, message_ts: str | None
) -> bool:
    """Mark a message sent (and audit it); False when the claim was no longer ours."""
    with db.transaction() as session:
        result = session.execute(
            update(HandoffMessage)
            .where(*_ours(claim, worker_id))
            .values(
                state=MessageState.sent.value,
                due_at=None,
                sent_at=at,
                message_ts=message_ts,
                last_error=None,
            )
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return False
        if claim.kind == MessageKind.post.value and claim.handoff_id is not None:
            session.execute(
                update(Handoff)
                .where(col(Handoff.id) == claim.handoff_id)
                .values(message_ts=message_ts)
            )
        audit.record(
            session,
            at=at,
            actor="system",
            action="handoff.message_sent",
            subject=f"handoff_message:{claim.id}",
            team_id=claim.team_id,
            detail={"kind": claim.kind, "handoff_id": claim.handoff_id, "attempt": claim.attempts},
        )
    return True


def settle_failed(
    db: Database, *, claim: Claim, worker_id: str, at: datetime, error: str, retry_at: datetime
) -> bool:
    """Back to pending, due at `retry_at`: a failure is retried, never dropped."""
    with db.transaction() as session:
        result = session.execute(
            update(HandoffMessage)
            .where(*_ours(claim, worker_id))
            .values(state=MessageState.pending.value, due_at=retry_at, last_error=error[:200])
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def release(db: Database, *, claims: list[Claim], worker_id: str, due_at: datetime) -> None:
    """Give back claims that were not attempted: pending again, the attempt not counted."""
    if not claims:
        return
    with db.transaction() as session:
        for c in claims:
            session.execute(
                update(HandoffMessage)
                .where(*_ours(c, worker_id))
                .values(
                    state=MessageState.pending.value,
                    due_at=due_at,
                    attempts=col(HandoffMessage.attempts) - 1,
                    claimed_by=None,
                )
            )


def deliver_due(
    db: Database, *, clock: Clock, notifier: Notifier, worker_id: str, limit: int
) -> int:
    """Claim and send up to `limit` due messages; how many were attempted (`deliver_claimed`)."""
    return deliver_claimed(
        claim=lambda now, n: claim(db, now=now, worker_id=worker_id, limit=n),
        send=lambda c: _send_one(db, claim=c, clock=clock, notifier=notifier, worker_id=worker_id),
        release=lambda claims, due_at: release(
            db, claims=list(claims), worker_id=worker_id, due_at=due_at
        ),
        clock=clock,
        limit=limit,
        batch=BATCH,
    )


def _send_one(
    db: Database, *, claim: Claim, clock: Clock, notifier: Notifier, worker_id: str
) -> datetime | None:
    """Send one claimed message and settle it; the retry instant after a 429, else None."""
    return send_claimed(
        claim,
        notifier=notifier,
        clock=clock,
        settle_sent=lambda at, ts: settle_sent(
            db, claim=claim, worker_id=worker_id, at=at, message_ts=ts
        ),
        settle_failed=lambda at, error, retry: settle_failed(
            db, claim=claim, worker_id=worker_id, at=at, error=error, retry_at=retry
        ),
        what="handoff message",
        log_extra={"id": claim.id, "kind": claim.kind},
    )
