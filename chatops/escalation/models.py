"""Escalation tables: stored policies, pages with their delivery state, and escalation timers.

`due_at` is the one column the worker polls, on both tables: it is set while a row still needs
the worker (a pending page, a page whose "sending" lease will expire, a pending timer) and NULL
once the row is final, so "what is due" and "when to wake up next" are single index look-ups.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlalchemy import true as sa_true
from sqlmodel import Field, SQLModel

from rota.models import utc_column


class PageState(StrEnum):
    pending = "pending"  # waiting for its first or next attempt (due_at)
    sending = "sending"  # claimed by a worker until due_at (the lease); then retried
    delivered = "delivered"  # Slack answered ok
    cancelled = "cancelled"  # its case was resolved before it could be sent


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


class Page(SQLModel, table=True):
    """One message about one case at one paging to one person (or the team channel).

    The message is rendered when the page is created, so sending is a read of this row only;
    restricted cases are rendered without their summary or details.
    """

    __tablename__ = "page"
    __table_args__ = (UniqueConstraint("case_id", "batch", "kind", "recipient"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    case_id: int = Field(foreign_key="ts_case.id", index=True)
    batch: int  # the case's n-th paging (a ladder step, or a direct escalation)
    step: int
    level: str  # as shown to people: "1", "2", …, "admins", "direct"
    kind: str = PageKind.dm.value
    role: str = "responder"  # responder, advisor, fallback, direct, announcement
    recipient: str  # Slack user id, or the channel id for the announcement
    # Who caused this page: a member's Slack id, or "system" for a timer. A direct page
    # (role "direct") gives its recipient access to a restricted case only when whoever sent it
    # had access themselves; ladder pages always do (the policy chose the recipient).
    paged_by: str | None = None
    grants_access: bool = Field(default=True, sa_column_kwargs={"server_default": sa_true()})
    text: str
    blocks: str = "[]"  # Block Kit JSON
    state: str = PageState.pending.value
    due_at: datetime | None = utc_column(nullable=True, index=True)
    attempts: int = 0
    claimed_by: str | None = None
    last_error: str | None = None
    created_at: datetime = utc_column(nullable=False)
    delivered_at: datetime | None = utc_column(nullable=True)
    message_ts: str | None = None


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
