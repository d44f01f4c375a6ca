"""The last member list pushed to the @ts-oncall Slack user group, per team and group."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from rota.models import utc_column


class OncallGroupState(SQLModel, table=True):
    """What Slack was last told; every replica and restart compares with it, not with memory.

    `next_check_at` is the worker's timer: the next instant the on-call set may change (a
    handoff or override boundary), or sooner to notice accepted handoffs and rota edits.
    """

    __tablename__ = "oncall_group_state"

    team_id: int = Field(foreign_key="team.id", primary_key=True)
    group_id: str = Field(primary_key=True)
    members: str = ""  # sorted Slack ids, comma-separated, as last pushed
    pushed_at: datetime | None = utc_column(nullable=True)
    rota_version: int = -1  # the rota the members were computed from
    next_check_at: datetime | None = utc_column(nullable=True, index=True)
