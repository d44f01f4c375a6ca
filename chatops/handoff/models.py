"""Handoff tables: the boundaries, the notes for them, their outbox, and coverage-watch runs.

As in the escalation tables, `due_at` is the one column the worker polls: set while a row still
needs the worker, NULL once it is final, so "what is due" and "when to wake" are index look-ups.

* `Handoff` is one boundary, materialised once: unique (team, rotation, instant).
* `HandoffMessage` is the outbox: one message to one channel or person, rendered when queued,
  delivered claim → send → settle like a page; `key` is unique so queueing is idempotent.
* `HandoffNote` is a note for the next handoff; its text may be sensitive, so it lives here only
  (never in audit details or logs).
* `CoverageWatchRun` is one firing of the daily coverage watch: unique (team, cron instant).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from rota.models import utc_column


class HandoffState(StrEnum):
    scheduled = "scheduled"  # materialised; reminder and post still to come
    awaiting = "awaiting"  # posted; the incoming has not accepted yet
    accepted = "accepted"  # the incoming took over (possibly before the post)
    escalated = "escalated"  # nobody accepted in time: outgoing and managers paged
    moved = "moved"  # a rota edit removed this boundary before it was posted
    superseded = "superseded"  # missed (worker down) and a later boundary already happened
    lapsed = "lapsed"  # never accepted, and the rotation's next handoff was posted


#: States after which the worker has nothing left to do for a handoff.
FINAL = frozenset({HandoffState.moved, HandoffState.superseded, HandoffState.lapsed})
#: States in which the outgoing responder still holds the pager with the incoming.
UNACCEPTED = frozenset({HandoffState.awaiting, HandoffState.escalated})


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


class Handoff(SQLModel, table=True):
    __tablename__ = "handoff"
    __table_args__ = (UniqueConstraint("team_id", "rotation", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    rotation: str  # the rotation's name (rotations are replaced, not updated, on import)
    layer: str
    at: datetime = utc_column(nullable=False)
    incoming: str  # Slack user id
    outgoing: str = "[]"  # JSON [[slack id, rotation, off_at ISO]]
    until: datetime = utc_column(nullable=False)
    state: str = HandoffState.scheduled.value
    due_at: datetime | None = utc_column(nullable=True, index=True)
    remind_at: datetime | None = utc_column(nullable=True)
    accept_within_s: int = 600
    reminded_at: datetime | None = utc_column(nullable=True)
    posted_at: datetime | None = utc_column(nullable=True)
    posted_by: str | None = None  # "system", or the outgoing who posted early
    accept_by: datetime | None = utc_column(nullable=True)
    accepted_at: datetime | None = utc_column(nullable=True)
    accepted_by: str | None = None
    escalated_at: datetime | None = utc_column(nullable=True)
    message_ts: str | None = None
    created_at: datetime = utc_column(nullable=False)


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


class CoverageWatchRun(SQLModel, table=True):
    __tablename__ = "coverage_watch_run"
    __table_args__ = (UniqueConstraint("team_id", "fire_at"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    fire_at: datetime = utc_column(nullable=False)  # the cron instant this run answers
    ran_at: datetime = utc_column(nullable=False)
    gaps: int = 0
    worker: str | None = None
