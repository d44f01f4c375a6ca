"""Putting messages in the outbox, and taking back those not yet sent, in the caller's transaction.

The domains call these with the state change the message announces, so a message exists iff
its change committed. Each row's `key` is unique: queueing the same key twice queues it once.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, literal_column, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, col, select

from chatops.blockkit import Block
from chatops.outbox.models import OutboxMessage, OutboxState, Topic


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


def row(
    *,
    topic: Topic,
    team_id: int,
    key: str,
    kind: str,
    recipient: str,
    text: str,
    blocks: list[Block],
    at: datetime,
    **refs: Any,
) -> dict[str, Any]:
    """The column values of a message due at `at`; `refs` are its domain's ids (case_id, …)."""
    return {
        "topic": topic.value,
        "team_id": team_id,
        "key": key,
        "kind": str(kind),
        "recipient": recipient,
        "text": text,
        "blocks": json.dumps(blocks),
        "state": OutboxState.pending.value,
        "due_at": at,
        "first_due_at": at,
        "attempts": 0,
        "created_at": at,
        **refs,
    }


def enqueue(session: Session, **message: Any) -> bool:
    """Queue one message (see `row`), due at once; False if its `key` was already queued."""
    return insert_ignore(session, OutboxMessage, row(**message))


def cancel_pending(session: Session, *where: ColumnElement[bool]) -> int:
    """Cancel the messages matching `where` not yet being sent; returns how many.

    A message being sent right now is left alone: its worker settles it.
    """
    result = session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.state) == OutboxState.pending.value, *where)
        .values(state=OutboxState.cancelled.value, due_at=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def next_due(session: Session) -> datetime | None:
    """The nearest instant a message needs the worker (as stored: SQLite's may be naive)."""
    found: datetime | None = session.exec(select(func.min(col(OutboxMessage.due_at)))).one()
    return found
