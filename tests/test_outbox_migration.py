"""Revision 0009 moves every page and handoff message into the one outbox, and back on downgrade."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alembic import command
from sqlalchemy import Engine, MetaData, inspect, select
from sqlmodel import Session, col

from chatops.db import Database, make_engine
from chatops.handoff.posts import posted_ts
from chatops.outbox.claims import claim
from chatops.outbox.models import OutboxMessage, Topic
from chatops.outbox.queue import enqueue
from chatops.schema.migrate import alembic_config, upgrade

NOW = datetime(2027, 3, 20, 9, 0, tzinfo=UTC)
LEASE_END = NOW + timedelta(seconds=60)


def _instant(engine: Engine, value: datetime | None) -> datetime | None:
    """As the old tables' UTC columns stored it (naive UTC on SQLite)."""
    if value is None or engine.dialect.name != "sqlite":
        return value
    return value.replace(tzinfo=None)


def _page(engine: Engine, id: int, state: str, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": id,
        "team_id": 1,
        "case_id": 1,
        "batch": id,
        "step": 0,
        "level": "1",
        "kind": "dm",
        "role": "responder",
        "recipient": f"U{id}",
        "text": f"page {id}",
        "blocks": "[]",
        "state": state,
        "due_at": None,
        "attempts": 0,
        "claimed_by": None,
        "last_error": None,
        "created_at": NOW,
        "delivered_at": None,
        "message_ts": None,
        **extra,
    }
    return {k: _instant(engine, v) if isinstance(v, datetime) else v for k, v in row.items()}


def _message(
    engine: Engine, id: int, key: str, kind: str, state: str, **extra: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": id,
        "team_id": 1,
        "handoff_id": 1,
        "key": key,
        "kind": kind,
        "recipient": "C0CHAN",
        "text": f"message {id}",
        "blocks": "[]",
        "state": state,
        "due_at": None,
        "attempts": 0,
        "claimed_by": None,
        "last_error": None,
        "created_at": NOW,
        "sent_at": None,
        "message_ts": None,
        **extra,
    }
    return {k: _instant(engine, v) if isinstance(v, datetime) else v for k, v in row.items()}


def _seed_before_the_outbox(engine: Engine) -> None:
    """A team, a case, a handoff, and rows in every state of both old outboxes."""
    upgrade(engine, "0008")
    meta = MetaData()
    meta.reflect(engine)
    t = meta.tables
    at = _instant(engine, NOW)
    with engine.begin() as c:
        c.execute(t["team"].insert().values(id=1, name="T&S", tz="UTC", required=1, rota_version=1))
        c.execute(
            t["ts_case"]
            .insert()
            .values(
                id=1,
                team_id=1,
                key="TS-2027-0001",
                type="harassment",
                severity="sev1",
                summary="s",
                details="",
                restricted=False,
                reporter="U1",
                status="open",
                policy="{}",
                step=0,
                pagings=1,
                opened_at=at,
            )
        )
        c.execute(
            t["handoff"]
            .insert()
            .values(
                id=1,
                team_id=1,
                rotation="primary",
                layer="primary",
                at=at,
                incoming="U2",
                outgoing="[]",
                until=at,
                state="awaiting",
                accept_within_s=600,
                created_at=at,
                message_ts="9.9",
            )
        )
        c.execute(
            t["page"].insert(),
            [
                _page(engine, 1, "pending", due_at=NOW),
                _page(engine, 2, "sending", attempts=1, claimed_by="w1", due_at=LEASE_END),
                _page(engine, 3, "delivered", attempts=1, delivered_at=NOW, message_ts="1.1"),
                _page(engine, 4, "cancelled"),
                _page(engine, 5, "pending", attempts=2, last_error="http 500", due_at=NOW),
            ],
        )
        c.execute(
            t["handoff_message"].insert(),
            [
                _message(
                    engine,
                    1,
                    "handoff:1:post",
                    "handoff.post",
                    "sent",
                    attempts=1,
                    sent_at=NOW,
                    message_ts="9.9",
                ),
                _message(
                    engine,
                    2,
                    "handoff:1:reminder:U2",
                    "handoff.reminder",
                    "pending",
                    due_at=NOW,
                    attempts=1,
                    last_error="ratelimited",
                ),
                _message(
                    engine,
                    3,
                    "watch:1:2027-03-20:U3",
                    "coverage.watch",
                    "cancelled",
                    handoff_id=None,
                ),
            ],
        )


def _outbox(engine: Engine) -> dict[int, OutboxMessage]:
    with Session(engine) as session:
        rows = session.execute(select(OutboxMessage).order_by(col(OutboxMessage.id))).scalars()
        return {r.id: r for r in rows if r.id is not None}


def test_0009_moves_both_old_outboxes_into_the_one_outbox(database_url: str) -> None:
    engine = make_engine(database_url)
    _seed_before_the_outbox(engine)
    upgrade(engine)

    tables = set(inspect(engine).get_table_names())
    assert "outbox" in tables and not {"page", "handoff_message"} & tables
    assert "message_ts" not in {c["name"] for c in inspect(engine).get_columns("handoff")}
    rows = _outbox(engine)
    assert sorted(rows) == [1, 2, 3, 4, 5, 6, 7, 8]  # pages keep their ids; messages follow

    pages = [rows[i] for i in range(1, 6)]
    assert {p.topic for p in pages} == {Topic.page.value}
    assert [p.state for p in pages] == ["pending", "sending", "sent", "cancelled", "pending"]
    assert [p.attempts for p in pages] == [0, 1, 1, 0, 2]
    assert (pages[1].claimed_by, pages[1].due_at) == ("w1", LEASE_END)
    assert (pages[2].sent_at, pages[2].message_ts, pages[2].due_at) == (NOW, "1.1", None)
    assert pages[4].last_error == "http 500" and pages[4].due_at == NOW
    assert pages[0].key == "page:1:1:dm:U1"
    assert (pages[0].case_id, pages[0].batch, pages[0].level, pages[0].role) == (
        1,
        1,
        "1",
        "responder",
    )
    assert pages[0].handoff_id is None

    post, reminder, watch = rows[6], rows[7], rows[8]
    assert {m.topic for m in (post, reminder, watch)} == {Topic.handoff.value}
    assert [m.state for m in (post, reminder, watch)] == ["sent", "pending", "cancelled"]
    assert [m.key for m in (post, reminder, watch)] == [
        "handoff:1:post",
        "handoff:1:reminder:U2",
        "watch:1:2027-03-20:U3",
    ]
    assert (post.handoff_id, post.kind, post.sent_at, post.message_ts) == (
        1,
        "handoff.post",
        NOW,
        "9.9",
    )
    assert (reminder.last_error, reminder.due_at, reminder.attempts) == ("ratelimited", NOW, 1)
    assert watch.handoff_id is None and watch.case_id is None

    db = Database(engine)
    with db.transaction() as session:
        assert posted_ts(session, handoff_id=1) == "9.9"  # what handoff.message_ts said
        # New rows number on after the moved ones (PostgreSQL's sequence was moved on).
        assert enqueue(
            session,
            topic=Topic.handoff,
            team_id=1,
            key="handoff:1:escalation:U3",
            kind="handoff.escalation",
            recipient="U3",
            text="nobody accepted",
            blocks=[],
            at=NOW,
            handoff_id=1,
        )
    assert max(_outbox(engine)) == 9
    # The moved rows are claimable as they were: the due pending ones, by id.
    claimed = claim(db, now=NOW, worker_id="w2", limit=10)
    assert [(c.id, c.attempts) for c in claimed] == [(1, 1), (5, 3), (7, 2), (9, 1)]
    engine.dispose()


def test_0009_downgrades_back_to_the_two_tables(database_url: str) -> None:
    engine = make_engine(database_url)
    _seed_before_the_outbox(engine)
    upgrade(engine)
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0008")

    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as c:
        pages = c.execute(select(meta.tables["page"]).order_by("id")).mappings().all()
        messages = c.execute(select(meta.tables["handoff_message"]).order_by("id")).mappings().all()
        handoff = c.execute(select(meta.tables["handoff"])).mappings().one()
    assert [p["state"] for p in pages] == [
        "pending",
        "sending",
        "delivered",
        "cancelled",
        "pending",
    ]
    assert pages[2]["message_ts"] == "1.1" and pages[2]["delivered_at"] is not None
    assert [(m["id"], m["key"], m["state"]) for m in messages] == [
        (6, "handoff:1:post", "sent"),
        (7, "handoff:1:reminder:U2", "pending"),
        (8, "watch:1:2027-03-20:U3", "cancelled"),
    ]
    assert handoff["message_ts"] == "9.9"
    assert "outbox" not in inspect(engine).get_table_names()
    upgrade(engine)  # and up again: the messages are numbered after the pages once more
    assert sorted(_outbox(engine)) == [1, 2, 3, 4, 5, 11, 12, 13]
    engine.dispose()
