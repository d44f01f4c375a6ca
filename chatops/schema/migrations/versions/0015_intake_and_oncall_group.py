"""intake: reported messages, integrations' routing keys and alerts, the @ts-oncall group (#14)

`case_origin` keeps the permalink and author of a message reported with the shortcut (never
its text); `intake_integration` holds each tool's hashed routing key, its case type and its
per-key rate window; `intake_alert` maps an integration's `dedup_key` to the case it opened;
`oncall_group_state` remembers the member list last pushed to the Slack user group. All new.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 10:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import rota.models

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_STR = sqlmodel.sql.sqltypes.AutoString
_UTC = rota.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "case_origin",
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("ts_case.id"), nullable=False),
        sa.Column("source", _STR(), nullable=False),
        sa.Column("permalink", _STR(), nullable=False),
        sa.Column("message_author", _STR(), nullable=False),
        sa.Column("message_channel", _STR(), nullable=False),
        sa.Column("message_ts", _STR(), nullable=False),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_table(
        "intake_integration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("team.id"), nullable=False),
        sa.Column("name", _STR(), nullable=False),
        sa.Column("case_type", _STR(), nullable=False),
        sa.Column("key_hash", _STR(), nullable=False),
        sa.Column("created_at", _UTC(), nullable=False),
        sa.Column("created_by", _STR(), nullable=False),
        sa.Column("revoked_at", _UTC(), nullable=True),
        sa.Column("revoked_by", _STR(), nullable=True),
        sa.Column("window_start", _UTC(), nullable=True),
        sa.Column("window_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "name"),
    )
    op.create_index(
        "ix_intake_integration_team_id", "intake_integration", ["team_id"], unique=False
    )
    op.create_index(
        "ix_intake_integration_key_hash", "intake_integration", ["key_hash"], unique=True
    )
    op.create_table(
        "intake_alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "integration_id", sa.Integer(), sa.ForeignKey("intake_integration.id"), nullable=False
        ),
        sa.Column("dedup_key", _STR(), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("ts_case.id"), nullable=False),
        sa.Column("opened_at", _UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_intake_alert_dedup", "intake_alert", ["integration_id", "dedup_key"], unique=False
    )
    op.create_index("ix_intake_alert_case_id", "intake_alert", ["case_id"], unique=False)
    op.create_table(
        "oncall_group_state",
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("team.id"), nullable=False),
        sa.Column("group_id", _STR(), nullable=False),
        sa.Column("members", _STR(), nullable=False),
        sa.Column("pushed_at", _UTC(), nullable=True),
        sa.Column("rota_version", sa.Integer(), nullable=False),
        sa.Column("next_check_at", _UTC(), nullable=True),
        sa.PrimaryKeyConstraint("team_id", "group_id"),
    )
    op.create_index(
        "ix_oncall_group_state_next_check_at",
        "oncall_group_state",
        ["next_check_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_oncall_group_state_next_check_at", table_name="oncall_group_state")
    op.drop_table("oncall_group_state")
    op.drop_index("ix_intake_alert_case_id", table_name="intake_alert")
    op.drop_index("ix_intake_alert_dedup", table_name="intake_alert")
    op.drop_table("intake_alert")
    op.drop_index("ix_intake_integration_key_hash", table_name="intake_integration")
    op.drop_index("ix_intake_integration_team_id", table_name="intake_integration")
    op.drop_table("intake_integration")
    op.drop_table("case_origin")
