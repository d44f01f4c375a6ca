"""Case tables and the fixed vocabularies of a case (types, severities, statuses).

A case's summary, details and notes are the only restricted text in the schema: they live in
these rows and nowhere else (never in audit details, channel posts or logs).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from rota.models import utc_column


class CaseType(StrEnum):
    threat_of_violence = "threat-of-violence"
    self_harm = "self-harm"
    terrorism = "terrorism"
    child_safety = "child-safety"
    harassment = "harassment"
    event_safety = "event-safety"
    other = "other"


class Severity(StrEnum):
    sev1 = "sev1"
    sev2 = "sev2"
    sev3 = "sev3"
    sev4 = "sev4"


SEVERITY_MEANING: dict[Severity, str] = {
    Severity.sev1: "imminent risk to life or of serious physical harm: page now, around the clock",
    Severity.sev2: "credible threat or serious harm likely within hours",
    Severity.sev3: "harm possible; needs a responder within a day",
    Severity.sev4: "routine: no time pressure, next working day",
}

#: Types whose cases are restricted unless the reporter says otherwise.
RESTRICTED_BY_DEFAULT = frozenset({CaseType.child_safety, CaseType.self_harm})


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
