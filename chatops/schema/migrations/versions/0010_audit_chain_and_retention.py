"""audit chain (seals and head), ids never reused, and the legal hold of a case (issue #11)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import rota.models

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

GENESIS = "0" * 64

# The sealer's lock, for an app role that may not UPDATE audit_event: LOCK TABLE in SHARE ROW
# EXCLUSIVE mode needs table-level UPDATE, DELETE or TRUNCATE, so the owner lends it here.
# The lock is held until the caller's transaction ends, not just the function (docs/audit.md).
SEAL_LOCK = """
CREATE FUNCTION chatops_audit_seal_lock() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    LOCK TABLE audit_event IN SHARE ROW EXCLUSIVE MODE;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "audit_seal",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("prev_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("event_id"),
    )
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("sealed_at", rota.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    assert head is not None
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS, "event_id": 0}])
    with op.batch_alter_table("ts_case", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("legal_hold", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # AUTOINCREMENT: a deleted newest event's id is never handed out again.
        with op.batch_alter_table(
            "audit_event", recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass
    elif bind.dialect.name == "postgresql":
        op.execute(SEAL_LOCK)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS chatops_audit_seal_lock()")
    elif bind.dialect.name == "sqlite":
        with op.batch_alter_table(
            "audit_event", recreate="always", table_kwargs={"sqlite_autoincrement": False}
        ):
            pass
    # Not a batch: SQLite (≥ 3.35) drops a plain column in place, and recreating `ts_case`
    # would trip the foreign keys that point at it (the outbox's pages).
    op.drop_column("ts_case", "legal_hold")
    op.drop_table("audit_head")
    op.drop_table("audit_seal")
