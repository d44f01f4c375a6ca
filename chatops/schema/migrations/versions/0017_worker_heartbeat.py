"""worker heartbeats, so `/readyz` on any replica can tell whether some worker is alive (#13)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import rota.models

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worker_heartbeat",
        sa.Column("worker_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("started_at", rota.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("seen_at", rota.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("worker_id"),
    )
    op.create_index("ix_worker_heartbeat_seen_at", "worker_heartbeat", ["seen_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_worker_heartbeat_seen_at", table_name="worker_heartbeat")
    op.drop_table("worker_heartbeat")
