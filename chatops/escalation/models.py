"""Escalation tables: stored policies and escalation timers, and the vocabulary of pages.

Pages themselves are outbox rows (`chatops.outbox.models`, queued by `chatops.escalation.pages`).
A timer's `due_at` is the column the worker polls: set while the timer is pending, NULL once it
is final, so "what is due" and "when to wake up next" are single index look-ups.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from rota.models import utc_column


class PageKind(StrEnum):
    dm = "dm"  # a direct message to one person
    channel = "channel"  # the announcement in the team channel


class TimerState(StrEnum):
    pending = "pending"
    fired = "fired"
    cancelled = "cancelled"


class EscalationPolicy(SQLModel, table=True):
    """A team's policy as validated JSON (a PolicySpec), in the team's order."""

    __tablename__ = "escalation_policy"
    __table_args__ = (UniqueConstraint("team_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    name: str
    position: int = 0
    spec: str  # PolicySpec JSON


class EscalationTimer(SQLModel, table=True):
    """When `due_at` passes and the case is still unacknowledged, page ladder step `step`."""

    __tablename__ = "escalation_timer"

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    case_id: int = Field(foreign_key="ts_case.id", index=True)
    step: int
    state: str = TimerState.pending.value
    due_at: datetime | None = utc_column(nullable=True, index=True)
    created_at: datetime = utc_column(nullable=False)
    fired_at: datetime | None = utc_column(nullable=True)
    fired_by: str | None = None
