"""handoff notes name the very handoff they are for (issue #12, item 3)

A note kept only its rotation (or none), so the first handoff posted took it, even another
rotation's posted early. `handoff_at` pins it to one boundary of one rotation.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import rota.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("handoff_note", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("handoff_at", rota.models.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("handoff_note", schema=None) as batch_op:
        batch_op.drop_column("handoff_at")
