"""delivery exactly once across a timeout or a crash; urgent pages claimed apart (#13)

`outbox.doubt_at` is set when a send's outcome is unknown (an HTTP timeout, or a claim whose
worker died mid-batch): before sending such a row again the worker looks for it in the
conversation's history (by its message metadata) from a little before `doubt_at`.
`ix_outbox_urgent_due` indexes the due rows with a backoff cap (pages of open sev1/sev2
cases) so they can be claimed in small batches of their own.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 10:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import rota.models

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

URGENT = sa.text("max_backoff_s IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("doubt_at", rota.models.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_index(
        "ix_outbox_urgent_due",
        "outbox",
        ["due_at"],
        postgresql_where=URGENT,
        sqlite_where=URGENT,
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_urgent_due", table_name="outbox")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("doubt_at")
