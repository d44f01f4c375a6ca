"""delivery under a misbehaving Slack: shared rate limits, backoff that only failures grow (#13)

`slack_rate_limit` holds each 429's Retry-After per scope (a Web API method, or a channel of
it) so every worker waits it out, not only the one that saw it. `outbox.failures` counts the
failed attempts that grow backoff (429s do not; an outage's are reset when Slack recovers);
`outbox.max_backoff_s` caps a row's backoff (pages of open sev1/sev2 cases: 30 s).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import rota.models

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_rate_limit",
        sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("until", rota.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failures", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("max_backoff_s", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("max_backoff_s")
        batch_op.drop_column("failures")
    op.drop_table("slack_rate_limit")
