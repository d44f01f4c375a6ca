"""rota: a rotation's earlier orders (membership changes take over at a cycle start) and each
member's working hours

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rotation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "previous", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default="[]"
            )
        )
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "working_hours",
                sqlmodel.sql.sqltypes.AutoString(),
                nullable=False,
                server_default="",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_column("working_hours")
    with op.batch_alter_table("rotation", schema=None) as batch_op:
        batch_op.drop_column("previous")
