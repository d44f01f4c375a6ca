"""Handoff tables: the notes for the next handoff, and the kinds of the handoff's messages.

The boundaries themselves (`Handoff`) are on-call records, in `chatops.oncall.models`.

As in the escalation tables, `due_at` is the one column the worker polls: set while a row still
needs the worker, NULL once it is final, so "what is due" and "when to wake" are index look-ups.

* The messages (post, reminder, escalation DMs, coverage-watch DMs) are outbox rows
  (`chatops.outbox.models`, topic "handoff", kind a `MessageKind`), delivered like pages; each
  carries its `handoff_id`, and the post's `message_ts` is read from it (`posted_ts`).
* `HandoffNote` is a note for the next handoff; its text may be sensitive, so it lives here only
  (never in audit details or logs).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from rota.models import utc_column


class MessageKind(StrEnum):
    post = "handoff.post"  # the handoff message in the team channel
    reminder = "handoff.reminder"  # DM to the incoming before the boundary
    escalation = "handoff.escalation"  # DM to outgoing and managers: nobody accepted


class HandoffNote(SQLModel, table=True):
    """A note for one handoff: `rotation`'s boundary at `handoff_at` (rows written before that
    column existed may name no instant, or no rotation)."""

    __tablename__ = "handoff_note"

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    author: str  # Slack user id
    rotation: str | None = None
    handoff_at: datetime | None = utc_column(nullable=True)
    text: str
    created_at: datetime = utc_column(nullable=False)
    handoff_id: int | None = Field(default=None, foreign_key="handoff.id", index=True)
