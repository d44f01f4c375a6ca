"""one outbox: pages and handoff messages move into one `outbox` table (issue #10)

Every row of `page` and `handoff_message` moves to `outbox`, in the outbox's one state
vocabulary (a page's "delivered" is "sent"; `delivered_at` is `sent_at`), then both tables are
dropped. Pages keep their ids, so the audit trail's "page:<id>" subjects still name them;
handoff messages are renumbered after the last page (id + the highest page id), so an audit
subject "handoff_message:<n>" written before this revision names outbox row n + that offset.
A page gets the unique key its domain now queues it by ("page:<case>:<batch>:<kind>:<who>").
`handoff.message_ts` is dropped: the post's ts is read from its outbox row.

Downgrade moves the rows back (pages to `page`, the rest to `handoff_message`) and restores
`handoff.message_ts` from the sent posts.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import rota.models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_STR = sqlmodel.sql.sqltypes.AutoString
_UTC = rota.models.UTCDateTime

#: The columns both old tables shared, copied as they are.
_COMMON = (
    "team_id, kind, recipient, text, blocks, due_at, attempts, claimed_by, last_error, "
    "created_at, message_ts"
)


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("topic", _STR(), nullable=False),
        sa.Column("kind", _STR(), nullable=False),
        sa.Column("key", _STR(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("batch", sa.Integer(), nullable=True),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("level", _STR(), nullable=True),
        sa.Column("role", _STR(), nullable=True),
        sa.Column("paged_by", _STR(), nullable=True),
        sa.Column("grants_access", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=True),
        sa.Column("recipient", _STR(), nullable=False),
        sa.Column("text", _STR(), nullable=False),
        sa.Column("blocks", _STR(), nullable=False),
        sa.Column("state", _STR(), nullable=False),
        sa.Column("due_at", _UTC(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", _STR(), nullable=True),
        sa.Column("last_error", _STR(), nullable=True),
        sa.Column("created_at", _UTC(timezone=True), nullable=False),
        sa.Column("sent_at", _UTC(timezone=True), nullable=True),
        sa.Column("message_ts", _STR(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["ts_case.id"]),
        sa.ForeignKeyConstraint(["handoff_id"], ["handoff.id"]),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_due_at"), ["due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_handoff_id"), ["handoff_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_team_id"), ["team_id"], unique=False)

    op.execute(
        "INSERT INTO outbox (id, topic, key, case_id, batch, step, level, role, paged_by, "
        f"grants_access, state, sent_at, {_COMMON}) "
        "SELECT id, 'page', 'page:' || CAST(case_id AS VARCHAR) || ':' || CAST(batch AS VARCHAR)"
        " || ':' || kind || ':' || recipient, case_id, batch, step, level, role, paged_by, "
        "grants_access, "
        "CASE state WHEN 'delivered' THEN 'sent' ELSE state END, delivered_at, "
        f"{_COMMON} FROM page"
    )
    offset = op.get_bind().execute(sa.text("SELECT COALESCE(MAX(id), 0) FROM page")).scalar_one()
    op.execute(
        sa.text(
            "INSERT INTO outbox (id, topic, key, handoff_id, state, sent_at, "
            f"{_COMMON}) "
            f"SELECT id + :offset, 'handoff', key, handoff_id, state, sent_at, {_COMMON} "
            "FROM handoff_message"
        ).bindparams(offset=int(offset))
    )
    _restart_ids("outbox")

    with op.batch_alter_table("handoff_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handoff_message_team_id"))
        batch_op.drop_index(batch_op.f("ix_handoff_message_handoff_id"))
        batch_op.drop_index(batch_op.f("ix_handoff_message_due_at"))
    op.drop_table("handoff_message")
    with op.batch_alter_table("page", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_page_team_id"))
        batch_op.drop_index(batch_op.f("ix_page_due_at"))
        batch_op.drop_index(batch_op.f("ix_page_case_id"))
    op.drop_table("page")
    # Not a batch: SQLite (≥ 3.35) drops a plain column in place, and recreating `handoff`
    # would trip the foreign keys that point at it.
    op.drop_column("handoff", "message_ts")


def downgrade() -> None:
    op.add_column("handoff", sa.Column("message_ts", _STR(), nullable=True))
    op.execute(
        "UPDATE handoff SET message_ts = (SELECT o.message_ts FROM outbox o "
        "WHERE o.handoff_id = handoff.id AND o.kind = 'handoff.post' AND o.state = 'sent')"
    )
    op.create_table(
        "page",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("batch", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("level", _STR(), nullable=False),
        sa.Column("kind", _STR(), nullable=False),
        sa.Column("role", _STR(), nullable=False),
        sa.Column("recipient", _STR(), nullable=False),
        sa.Column("paged_by", _STR(), nullable=True),
        sa.Column("grants_access", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("text", _STR(), nullable=False),
        sa.Column("blocks", _STR(), nullable=False),
        sa.Column("state", _STR(), nullable=False),
        sa.Column("due_at", _UTC(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", _STR(), nullable=True),
        sa.Column("last_error", _STR(), nullable=True),
        sa.Column("created_at", _UTC(timezone=True), nullable=False),
        sa.Column("delivered_at", _UTC(timezone=True), nullable=True),
        sa.Column("message_ts", _STR(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["ts_case.id"]),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "batch", "kind", "recipient"),
    )
    with op.batch_alter_table("page", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_page_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_page_due_at"), ["due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_page_team_id"), ["team_id"], unique=False)
    op.create_table(
        "handoff_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=True),
        sa.Column("key", _STR(), nullable=False),
        sa.Column("kind", _STR(), nullable=False),
        sa.Column("recipient", _STR(), nullable=False),
        sa.Column("text", _STR(), nullable=False),
        sa.Column("blocks", _STR(), nullable=False),
        sa.Column("state", _STR(), nullable=False),
        sa.Column("due_at", _UTC(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", _STR(), nullable=True),
        sa.Column("last_error", _STR(), nullable=True),
        sa.Column("created_at", _UTC(timezone=True), nullable=False),
        sa.Column("sent_at", _UTC(timezone=True), nullable=True),
        sa.Column("message_ts", _STR(), nullable=True),
        sa.ForeignKeyConstraint(["handoff_id"], ["handoff.id"]),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("handoff_message", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_handoff_message_due_at"), ["due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_handoff_message_handoff_id"), ["handoff_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_handoff_message_team_id"), ["team_id"], unique=False)

    op.execute(
        "INSERT INTO page (id, case_id, batch, step, level, role, paged_by, grants_access, "
        f"state, delivered_at, {_COMMON}) "
        "SELECT id, case_id, batch, step, level, role, paged_by, grants_access, "
        "CASE state WHEN 'sent' THEN 'delivered' ELSE state END, sent_at, "
        f"{_COMMON} FROM outbox WHERE topic = 'page'"
    )
    op.execute(
        f"INSERT INTO handoff_message (id, key, handoff_id, state, sent_at, {_COMMON}) "
        f"SELECT id, key, handoff_id, state, sent_at, {_COMMON} FROM outbox "
        "WHERE topic = 'handoff'"
    )
    _restart_ids("page")
    _restart_ids("handoff_message")

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_team_id"))
        batch_op.drop_index(batch_op.f("ix_outbox_handoff_id"))
        batch_op.drop_index(batch_op.f("ix_outbox_due_at"))
        batch_op.drop_index(batch_op.f("ix_outbox_case_id"))
    op.drop_table("outbox")


def _restart_ids(table: str) -> None:
    """After rows were inserted with their ids, new ids continue after the highest one.

    SQLite does that by itself (an INTEGER PRIMARY KEY takes max + 1); a PostgreSQL serial's
    sequence does not see explicit ids.
    """
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
        )
