"""Integrations (one routing key each) and the alerts they raised (dedup key → case)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from rota.models import utc_column


class Integration(SQLModel, table=True):
    """A tool allowed to raise cases of one type. Only the key's sha256 is kept."""

    __tablename__ = "intake_integration"
    __table_args__ = (UniqueConstraint("team_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    name: str
    case_type: str
    key_hash: str = Field(unique=True, index=True)
    created_at: datetime = utc_column(nullable=False)
    created_by: str
    revoked_at: datetime | None = utc_column(nullable=True)
    revoked_by: str | None = None
    # The per-key rate limit: events counted in the minute that began at `window_start`.
    window_start: datetime | None = utc_column(nullable=True)
    window_count: int = 0


class IntakeAlert(SQLModel, table=True):
    """A case an integration opened, under its `dedup_key` (several over time, one open)."""

    __tablename__ = "intake_alert"
    __table_args__ = (Index("ix_intake_alert_dedup", "integration_id", "dedup_key"),)

    id: int | None = Field(default=None, primary_key=True)
    integration_id: int = Field(foreign_key="intake_integration.id")
    dedup_key: str
    case_id: int = Field(foreign_key="ts_case.id", index=True)
    opened_at: datetime = utc_column(nullable=False)
