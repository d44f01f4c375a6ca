"""legal duties: a case's reporting clock and its referral log (issue #14)

`case_report_clock` holds a case's reporting deadline, the reminders queued so far, the filing
(or the recorded reason for none) and the preserve-until date; `case_referral` logs each
disclosure to an agency. Both are new: nothing to move.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 08:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import rota.models

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_STR = sqlmodel.sql.sqltypes.AutoString
_UTC = rota.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "case_report_clock",
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("ts_case.id"), nullable=False),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("team.id"), nullable=False),
        sa.Column("started_at", _UTC(), nullable=False),
        sa.Column("deadline_at", _UTC(), nullable=False),
        sa.Column("reminded", sa.Integer(), nullable=False),
        sa.Column("next_reminder_at", _UTC(), nullable=True),
        sa.Column("filed_at", _UTC(), nullable=True),
        sa.Column("filed_by", _STR(), nullable=True),
        sa.Column("external_id", _STR(), nullable=True),
        sa.Column("declined_at", _UTC(), nullable=True),
        sa.Column("declined_by", _STR(), nullable=True),
        sa.Column("preserve_until", _UTC(), nullable=True),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_index("ix_case_report_clock_team_id", "case_report_clock", ["team_id"], unique=False)
    op.create_index(
        "ix_case_report_clock_next_reminder_at",
        "case_report_clock",
        ["next_reminder_at"],
        unique=False,
    )
    op.create_table(
        "case_referral",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("ts_case.id"), nullable=False),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("team.id"), nullable=False),
        sa.Column("at", _UTC(), nullable=False),
        sa.Column("by", _STR(), nullable=False),
        sa.Column("agency", _STR(), nullable=False),
        sa.Column("country", _STR(), nullable=False),
        sa.Column("basis", _STR(), nullable=False),
        sa.Column("note", _STR(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_referral_case_id", "case_referral", ["case_id"], unique=False)
    op.create_index("ix_case_referral_team_id", "case_referral", ["team_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_case_referral_team_id", table_name="case_referral")
    op.drop_index("ix_case_referral_case_id", table_name="case_referral")
    op.drop_table("case_referral")
    op.drop_index("ix_case_report_clock_next_reminder_at", table_name="case_report_clock")
    op.drop_index("ix_case_report_clock_team_id", table_name="case_report_clock")
    op.drop_table("case_report_clock")
