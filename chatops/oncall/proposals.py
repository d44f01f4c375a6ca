"""Rota edit proposals kept server-side: what a preview's Confirm button stands for.

The button carries only the row's id, so a client cannot change the edit, its author, or the
rota it was computed on; `chatops.oncall.edits` decides whether a Confirm may still use it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Field, SQLModel

from rota.models import utc_column

#: How long a preview can be confirmed: long enough to read it, short enough to stay current.
PROPOSAL_TTL = timedelta(minutes=15)


class RotaProposal(SQLModel, table=True):
    """A previewed edit waiting for its author's Confirm; used once, then kept as a record."""

    __tablename__ = "rota_proposal"

    id: str = Field(primary_key=True)  # unguessable; the Confirm button's whole value
    team_id: int = Field(foreign_key="team.id", index=True)
    author: str  # Slack id of the manager who previewed it
    base: str  # digest of the rota the preview was computed on
    kind: str
    edit: str  # the Edit as JSON
    force: bool = False
    created_at: datetime = utc_column(nullable=False)
    expires_at: datetime = utc_column(nullable=False)
    used_at: datetime | None = utc_column(nullable=True)
    used_by: str | None = None
    outcome: str | None = None  # applied | cancelled
