"""swap requests

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 22:04:40.620103
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import rota.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "swap_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("requester", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("start", rota.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end", rota.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("taker", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", rota.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("taken_at", rota.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["team.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("swap_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_swap_request_team_id"), ["team_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("swap_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_swap_request_team_id"))

    op.drop_table("swap_request")
