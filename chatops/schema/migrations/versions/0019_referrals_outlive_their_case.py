"""a referral outlives its case's purge: `case_referral.case_id` may be empty

Transparency reports count disclosures over a year while a resolved case may be purged after
90 days. A purge now keeps the referral's agency, country, basis, date and who made it, and
drops its link to the case and its note (the note is restricted with the case).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 11:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case_referral", schema=None) as batch_op:
        batch_op.alter_column("case_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM case_referral WHERE case_id IS NULL")
    with op.batch_alter_table("case_referral", schema=None) as batch_op:
        batch_op.alter_column("case_id", existing_type=sa.Integer(), nullable=False)
