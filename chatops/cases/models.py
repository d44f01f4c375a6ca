"""Case tables and the fixed vocabularies of a case (types, severities, statuses).

A case's summary, details and notes are the only restricted text in the schema: they live in
these rows and nowhere else (never in audit details, channel posts or logs).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from chatops.casetypes import RESTRICTED_BY_DEFAULT, SEVERITY_MEANING, CaseType, Severity
from rota.models import utc_column

__all__ = [
    "RESTRICTED_BY_DEFAULT",
    "SEVERITY_MEANING",
    "Case",
    "CaseCounter",
    "CaseEvent",
    "CaseStatus",
    "CaseType",
    "Severity",
]


class CaseStatus(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"


class CaseCounter(SQLModel, table=True):
    """The last case number handed out per team and year; bumped in the opening transaction."""

    __tablename__ = "case_counter"

    team_id: int = Field(foreign_key="team.id", primary_key=True)
    year: int = Field(primary_key=True)
    last: int = 0


class Case(SQLModel, table=True):
    __tablename__ = "ts_case"  # "case" is a reserved word in SQL
    __table_args__ = (
        UniqueConstraint("team_id", "key"),
        Index("ix_ts_case_team_status", "team_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    key: str  # TS-YYYY-NNNN, unique per team
    type: str
    severity: str
    summary: str  # restricted text when `restricted`
    details: str = ""  # restricted text when `restricted`
    language: str | None = None
    restricted: bool = False
    reporter: str  # Slack user id
    assignee: str | None = None
    status: str = CaseStatus.open.value
    policy: str = "{}"  # JSON snapshot of the escalation policy chosen at opening
    step: int = 0  # index into the policy's ladder (levels × rounds, then admins)
    pagings: int = 0  # how many times people were paged for it (numbers each page batch)
    opened_at: datetime = utc_column(nullable=False)
    acknowledged_at: datetime | None = utc_column(nullable=True)
    acknowledged_by: str | None = None
    resolved_at: datetime | None = utc_column(nullable=True)
    resolved_by: str | None = None
    # The reason a manager put the case on legal hold (kept past retention); None: not held.
    legal_hold: str | None = None


class CaseEvent(SQLModel, table=True):
    """One line of a case's timeline. `text` is a note's body (restricted with its case)."""

    __tablename__ = "case_event"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="ts_case.id", index=True)
    at: datetime = utc_column(nullable=False)
    actor: str  # Slack user id or "system"
    kind: str  # opened, paged, skipped, fallback, acknowledged, escalated, note, …
    text: str = ""
    detail: str = "{}"  # JSON; ids, levels and reasons only
