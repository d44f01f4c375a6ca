"""team care: fatigue settings, away periods and their cover requests, calendar feed tokens

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import rota.models

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "fatigue", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default="{}"
            )
        )
    op.create_table(
        "away_period",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("member", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("start", rota.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end", rota.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", rota.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", rota.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("away_period", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_away_period_start"), ["start"], unique=False)
        batch_op.create_index(batch_op.f("ix_away_period_team_id"), ["team_id"], unique=False)
    op.create_table(
        "cover_request_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("away_id", sa.Integer(), nullable=False),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("fire_at", rota.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ran_at", rota.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("swap_request_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("worker", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.ForeignKeyConstraint(["away_id"], ["away_period.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("away_id", "stage"),
    )
    with op.batch_alter_table("cover_request_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cover_request_run_away_id"), ["away_id"], unique=False)
    op.create_table(
        "ical_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("member", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", rota.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", rota.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ical_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ical_token_team_id"), ["team_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ical_token_token_hash"), ["token_hash"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("ical_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ical_token_token_hash"))
        batch_op.drop_index(batch_op.f("ix_ical_token_team_id"))
    op.drop_table("ical_token")
    with op.batch_alter_table("cover_request_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cover_request_run_away_id"))
    op.drop_table("cover_request_run")
    with op.batch_alter_table("away_period", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_away_period_team_id"))
        batch_op.drop_index(batch_op.f("ix_away_period_start"))
    op.drop_table("away_period")
    # Not a batch: SQLite (≥ 3.35) drops a plain column in place; recreating `team` would trip
    # the foreign keys that point at it.
    op.drop_column("team", "fatigue")
