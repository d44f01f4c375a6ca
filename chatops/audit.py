"""The append-only audit trail: who changed what, when (invariant 7).

`record` only adds to the caller's session, so the event commits or rolls back together with
the change it describes.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import Field, Session, SQLModel, col, select

from rota.models import utc_column


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    team_id: int | None = Field(default=None, foreign_key="team.id", index=True)
    at: datetime = utc_column(nullable=False, index=True)
    actor: str  # Slack user id, or "system" / "cli"
    action: str  # e.g. "rota.import", "case.open"
    subject: str = ""  # e.g. "TS-2027-0042", "rotation:emea"
    detail: str = "{}"  # JSON; never restricted case text
    correlation_id: str | None = None


def record(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    subject: str = "",
    team_id: int | None = None,
    detail: dict[str, Any] | None = None,
    correlation_id: str | None = None,
) -> AuditEvent:
    """Add an audit event to the current transaction."""
    event = AuditEvent(
        team_id=team_id,
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        detail=json.dumps(detail or {}, sort_keys=True, default=str),
        correlation_id=correlation_id,
    )
    session.add(event)
    return event


def recent(session: Session, *, limit: int = 50, team_id: int | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(limit)
    if team_id is not None:
        query = query.where(AuditEvent.team_id == team_id)
    return list(session.exec(query))
