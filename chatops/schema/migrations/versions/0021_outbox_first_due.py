"""an outbox row keeps the instant it first fell due, so its delivery lag can be measured

A claim moves `due_at` to the end of its lease and a failure to the next retry, so once a row
is sent nothing said when it was wanted. `first_due_at` does: the delivery-lag metric is
`sent_at - first_due_at`, retries and outages included. Rows still to be sent get their best
known instant (`due_at` of a never-tried pending row, else `created_at`); sent rows keep NULL.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 05:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import rota.models

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("first_due_at", rota.models.UTCDateTime(timezone=True), nullable=True)
        )
    op.execute(
        "UPDATE outbox SET first_due_at = CASE WHEN state = 'pending' AND attempts = 0 "
        "THEN due_at ELSE created_at END WHERE state IN ('pending', 'sending')"
    )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("first_due_at")
