"""Handoff tables: the notes for the next handoff and the handoff outbox.

The boundaries themselves (`Handoff`) are on-call records, in `chatops.oncall.models`.

As in the escalation tables, `due_at` is the one column the worker polls: set while a row still
needs the worker, NULL once it is final, so "what is due" and "when to wake" are index look-ups.

* `HandoffMessage` is the outbox: one message to one channel or person, rendered when queued,
  delivered claim → send → settle like a page; `key` is unique so queueing is idempotent.
* `HandoffNote` is a note for the next handoff; its text may be sensitive, so it lives here only
  (never in audit details or logs).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from rota.models import utc_column


class MessageState(StrEnum):
    pending = "pending"
    sending = "sending"  # claimed until due_at (the lease)
    sent = "sent"  # Slack answered ok
    cancelled = "cancelled"


class MessageKind(StrEnum):
    post = "handoff.post"  # the handoff message in the team channel
    reminder = "handoff.reminder"  # DM to the incoming before the boundary
    escalation = "handoff.escalation"  # DM to outgoing and managers: nobody accepted
    watch = "coverage.watch"  # DM to a manager: gaps ahead
    cover = "away.cover"  # the team channel: someone away needs their shifts taken


class HandoffNote(SQLModel, table=True):
    """A note for the next handoff where its author goes off (`rotation`), or the team's next."""

    __tablename__ = "handoff_note"

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    author: str  # Slack user id
    rotation: str | None = None
    text: str
    created_at: datetime = utc_column(nullable=False)
    handoff_id: int | None = Field(default=None, foreign_key="handoff.id", index=True)


class HandoffMessage(SQLModel, table=True):
    __tablename__ = "handoff_message"

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    handoff_id: int | None = Field(default=None, foreign_key="handoff.id", index=True)
    key: str = Field(unique=True)  # what makes queueing idempotent, e.g. "handoff:7:post:C0…"
    kind: str
    recipient: str  # channel id, or a Slack user id for a DM
    text: str
    blocks: str = "[]"
    state: str = MessageState.pending.value
    due_at: datetime | None = utc_column(nullable=True, index=True)
    attempts: int = 0
    claimed_by: str | None = None
    last_error: str | None = None
    created_at: datetime = utc_column(nullable=False)
    sent_at: datetime | None = utc_column(nullable=True)
    message_ts: str | None = None
