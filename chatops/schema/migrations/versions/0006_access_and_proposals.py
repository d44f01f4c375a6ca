"""need-to-know and server-side rota proposals (issue #11)

Pages record who caused them and whether they give access to a restricted case; reviewer groups
(rota file `groups:`) are stored per team; rota edit previews are kept as proposals so that a
Confirm button carries only an id.

Direct pages sent before this revision did not check that the escalator had access, so they are
marked as giving none: whoever still needs such a case is paged or assigned again by someone
who has it. Pages chosen by a policy keep giving access.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-01 06:43:44.318131
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import rota.models

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rota_proposal",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("author", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("base", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("edit", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("force", sa.Boolean(), nullable=False),
        sa.Column("created_at", rota.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", rota.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", rota.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("used_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["team.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rota_proposal", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rota_proposal_team_id"), ["team_id"], unique=False)

    op.create_table(
        "reviewer_group_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["team.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "name", "member_id"),
    )
    with op.batch_alter_table("reviewer_group_member", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reviewer_group_member_member_id"), ["member_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reviewer_group_member_team_id"), ["team_id"], unique=False
        )

    with op.batch_alter_table("page", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("paged_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("grants_access", sa.Boolean(), server_default=sa.true(), nullable=False)
        )

    page = sa.table(
        "page", sa.column("role", sa.String()), sa.column("grants_access", sa.Boolean())
    )
    op.execute(page.update().where(page.c.role == "direct").values(grants_access=False))


def downgrade() -> None:
    with op.batch_alter_table("page", schema=None) as batch_op:
        batch_op.drop_column("grants_access")
        batch_op.drop_column("paged_by")

    with op.batch_alter_table("reviewer_group_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reviewer_group_member_team_id"))
        batch_op.drop_index(batch_op.f("ix_reviewer_group_member_member_id"))

    op.drop_table("reviewer_group_member")
    with op.batch_alter_table("rota_proposal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rota_proposal_team_id"))

    op.drop_table("rota_proposal")
