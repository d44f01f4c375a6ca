"""The rota's tables. Instants are stored as UTC and always come back aware.

SQLite hands back naive datetimes; `UTCDateTime` converts at this edge so that no naive
datetime ever reaches the engine.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, TypeDecorator, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlmodel import Column, Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend; a naive one is refused, not guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to the database; use an aware UTC instant")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_column(**kwargs: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kwargs))


class Team(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    tz: str = "UTC"
    channel: str | None = None
    required: int = 1
    # Bumped by every rota save, so caches know when to recompile.
    rota_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # The team's fatigue thresholds as JSON (`rota.spec.FatigueSpec`); "{}" is the defaults.
    fatigue: str = Field(default="{}", sa_column_kwargs={"server_default": "{}"})


class Member(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("team_id", "slack_id"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    slack_id: str = Field(index=True)
    name: str
    tz: str
    languages: str = "en"  # comma-separated ISO 639-1 codes
    role: str = "responder"
    position: int = 0
    # `rota.spec.WorkingHours` as JSON; "" is the default (09:00–18:00 Monday to Friday).
    working_hours: str = Field(default="", sa_column_kwargs={"server_default": ""})


class Rotation(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("team_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    name: str
    tz: str
    handoff: str
    start: datetime = utc_column(nullable=False)
    shift_length: int = 1
    layer: str = "primary"
    position: int = 0
    # Earlier orders (`rota.spec.EarlierOrder`) as JSON: [{"until": ISO, "participants": [ids]}].
    previous: str = Field(default="[]", sa_column_kwargs={"server_default": "[]"})


class Participant(SQLModel, table=True):
    """A member's place in a rotation's order; the same member may appear twice."""

    rotation_id: int = Field(foreign_key="rotation.id", primary_key=True, ondelete="CASCADE")
    position: int = Field(primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)


class Restriction(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    rotation_id: int = Field(foreign_key="rotation.id", index=True, ondelete="CASCADE")
    days: str  # comma-separated mon..sun
    start_local: str  # HH:MM in the rotation's zone
    end_local: str
    position: int = 0


class Override(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    rotation_id: int | None = Field(
        default=None, foreign_key="rotation.id", index=True, ondelete="CASCADE"
    )
    member_id: int = Field(foreign_key="member.id", index=True)
    start: datetime = utc_column(nullable=False)
    end: datetime = utc_column(nullable=False)
    reason: str = ""
    author: str | None = None


class ReviewerGroupMember(SQLModel, table=True):
    """One member of a team's reviewer group (rota file ``groups:``), in the file's order.

    A group is named after the case type its members review; the engine stores the name as text
    and the application says which names are case types.
    """

    __tablename__ = "reviewer_group_member"
    __table_args__ = (UniqueConstraint("team_id", "name", "member_id"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    name: str
    member_id: int = Field(foreign_key="member.id", index=True, ondelete="CASCADE")
    position: int = 0
