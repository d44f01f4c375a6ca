"""an outbox row held for its domain to release (a page held for working hours) says so

A held page used to be told apart by `due_at` after `created_at`, and released by moving
`created_at`: a column with two meanings, and a row that any replica's delivery could claim in
the moment between falling due and being released. `held` is that state: delivery never claims
a held row, and releasing clears it. Pages waiting for working hours now get it.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 06:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("held", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    outbox = sa.table(
        "outbox",
        sa.column("topic", sa.String()),
        sa.column("kind", sa.String()),
        sa.column("state", sa.String()),
        sa.column("attempts", sa.Integer()),
        sa.column("role", sa.String()),
        sa.column("due_at", sa.DateTime()),
        sa.column("created_at", sa.DateTime()),
        sa.column("held", sa.Boolean()),
    )
    op.execute(
        outbox.update()
        .where(
            outbox.c.topic == "page",
            outbox.c.kind == "dm",
            outbox.c.state == "pending",
            outbox.c.attempts == 0,
            outbox.c.role.in_(("responder", "fallback")),
            outbox.c.due_at > outbox.c.created_at,
        )
        .values(held=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("held")
