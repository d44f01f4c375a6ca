"""On-call records: each handoff boundary, materialised once, and each coverage-watch run.

A handoff row is a fact about the rota (rotation R hands over to X at instant T), so it lives
below every service: "who is on call now" reads it (an outgoing responder keeps the pager until
the incoming accepts), and `chatops.handoff` runs its lifecycle (reminder, post, accept).

As in the other worker tables, `due_at` is the one column the worker polls: set while a row still
needs the worker, NULL once it is final, so "what is due" and "when to wake" are index look-ups.

* `Handoff` is one boundary, materialised once: unique (team, rotation, instant).
* `CoverageWatchRun` is one firing of the daily coverage watch: unique (team, cron instant).
"""

from __future__ import annotations

import json
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


class OnCallMessage(StrEnum):
    """Kinds of the outbox messages the on-call domain queues itself."""

    watch = "coverage.watch"  # DM to a manager: gaps ahead
    cover = "away.cover"  # the team channel: someone away needs their shifts taken


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
    created_at: datetime = utc_column(nullable=False)

    def outgoing_members(self) -> list[tuple[str, str, datetime]]:
        """(slack id, rotation, off_at) of the outgoing responders."""
        return [(m, r, datetime.fromisoformat(t)) for m, r, t in json.loads(self.outgoing)]


class CoverageWatchRun(SQLModel, table=True):
    __tablename__ = "coverage_watch_run"
    __table_args__ = (UniqueConstraint("team_id", "fire_at"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    fire_at: datetime = utc_column(nullable=False)  # the cron instant this run answers
    ran_at: datetime = utc_column(nullable=False)
    gaps: int = 0
    worker: str | None = None
