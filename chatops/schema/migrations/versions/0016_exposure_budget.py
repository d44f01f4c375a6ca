"""exposure budget: a team's graphic case types and daily cap, and the spans members hold them

`exposure_setting` is one row per team that set its own (none: the defaults); `exposure_span`
is one row per member holding a graphic case, running while `ended` is NULL (at most one
running span per case). Both are new: nothing to move.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 10:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import rota.models

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_STR = sqlmodel.sql.sqltypes.AutoString
_UTC = rota.models.UTCDateTime
_RUNNING = sa.text("ended IS NULL")


def upgrade() -> None:
    op.create_table(
        "exposure_setting",
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("team.id"), nullable=False),
        sa.Column("spec", _STR(), nullable=False),
        sa.PrimaryKeyConstraint("team_id"),
    )
    op.create_table(
        "exposure_span",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("team.id"), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("member", _STR(), nullable=False),
        sa.Column("started", _UTC(), nullable=False),
        sa.Column("ended", _UTC(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_exposure_span_case_id", "exposure_span", ["case_id"], unique=False)
    op.create_index("ix_exposure_span_ended", "exposure_span", ["ended"], unique=False)
    op.create_index(
        "ix_exposure_span_team_member_started",
        "exposure_span",
        ["team_id", "member", "started"],
        unique=False,
    )
    op.create_index(
        "ux_exposure_span_running_case",
        "exposure_span",
        ["case_id"],
        unique=True,
        sqlite_where=_RUNNING,
        postgresql_where=_RUNNING,
    )


def downgrade() -> None:
    op.drop_index("ux_exposure_span_running_case", table_name="exposure_span")
    op.drop_index("ix_exposure_span_team_member_started", table_name="exposure_span")
    op.drop_index("ix_exposure_span_ended", table_name="exposure_span")
    op.drop_index("ix_exposure_span_case_id", table_name="exposure_span")
    op.drop_table("exposure_span")
    op.drop_table("exposure_setting")
