"""a referral names its agency's kind: law enforcement, a hotline, a regulator or other

Transparency reports count disclosures by the kind of agency (police, a child-protection
hotline, a regulator) as well as by name; referrals made before this migration are `other`.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 00:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case_referral", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "kind",
                sqlmodel.sql.sqltypes.AutoString(),
                nullable=False,
                server_default="other",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("case_referral", schema=None) as batch_op:
        batch_op.drop_column("kind")
