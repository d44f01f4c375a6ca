"""The database layer on both kinds: migrations from empty, UTC round trips, the unit of work."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, text
from sqlmodel import select

from chatops import audit
from chatops.db import Database, DatabaseError, check_reachable, describe, make_engine
from chatops.schema.migrate import current_revision, head_revision, is_current, upgrade
from rota.models import Team


def test_migrations_from_empty_reach_head_and_create_every_table(database_url: str) -> None:
    engine = make_engine(database_url)
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision(engine)
    assert is_current(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"team", "member", "rotation", "participant", "restriction", "override"} <= tables
    assert "audit_event" in tables
    upgrade(engine)  # a second upgrade is a no-op, not an error
    assert is_current(engine)
    engine.dispose()


def test_instants_come_back_aware_utc(db: Database) -> None:
    berlin_noon = datetime(2027, 3, 28, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    with db.transaction() as session:
        team = Team(name="t")
        session.add(team)
        session.flush()
        audit.record(session, at=berlin_noon, actor="cli", action="test", team_id=team.id)
    with db.transaction() as session:
        (event,) = audit.recent(session)
    assert event.at == berlin_noon
    assert event.at.tzinfo is not None and event.at.utcoffset() == timedelta(0)
    assert event.at.hour == 10


def test_a_naive_instant_is_refused_not_guessed(db: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"), db.transaction() as session:
        audit.record(session, at=datetime(2027, 1, 1), actor="cli", action="test")


def test_a_failed_unit_of_work_leaves_nothing(db: Database) -> None:
    with pytest.raises(RuntimeError), db.transaction() as session:
        session.add(Team(name="half-written"))
        session.flush()
        audit.record(session, at=datetime.now(UTC), actor="cli", action="test")
        raise RuntimeError("crash in the middle")
    with db.transaction() as session:
        assert session.exec(select(Team)).all() == []
        assert audit.recent(session) == []


def test_sqlite_is_tuned_for_concurrent_use(sqlite_db: Database) -> None:
    with sqlite_db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30_000


def test_a_read_sees_committed_rows_and_refuses_to_write(db: Database) -> None:
    with db.transaction() as session:
        session.add(Team(name="seen"))
    with db.reading() as session:
        (team,) = session.exec(select(Team)).all()
    assert team.name == "seen"  # still readable after the read scope closed
    with pytest.raises(Exception, match=r"(?i)read.?only"), db.reading() as session:
        session.add(Team(name="never"))
        session.flush()
    # The pooled connection that served the read writes again afterwards.
    with db.transaction() as session:
        session.add(Team(name="written"))
    with db.reading() as session:
        assert sorted(t.name for t in session.exec(select(Team))) == ["seen", "written"]


def test_a_read_does_not_wait_for_a_writer_on_sqlite(sqlite_db: Database) -> None:
    """A question must not queue behind a long write (nor wait out SQLite's busy backoff)."""
    with sqlite_db.transaction() as session:
        session.add(Team(name="before"))
    with sqlite_db.transaction() as writing:
        writing.add(Team(name="uncommitted"))
        writing.flush()  # this connection now holds SQLite's write lock
        started = time.monotonic()
        with sqlite_db.reading() as session:
            names = [t.name for t in session.exec(select(Team))]
        waited = time.monotonic() - started
    assert names == ["before"]  # the snapshot, without the writer's row
    assert waited < 1.0  # a writer's BEGIN IMMEDIATE would wait the 30 s busy timeout here


def test_unreachable_databases_are_one_line(tmp_path: object) -> None:
    closed = make_engine("postgresql://postgres@127.0.0.1:1/test")
    with pytest.raises(DatabaseError) as caught:
        check_reachable(closed)
    assert str(caught.value).startswith("database unreachable at postgresql+psycopg://")
    assert "\n" not in str(caught.value)
    missing_dir = make_engine("sqlite:////nonexistent-dir/x.db")
    with pytest.raises(DatabaseError, match="unable to open database file"):
        check_reachable(missing_dir)


def test_passwords_never_reach_messages() -> None:
    assert "s3cret" not in describe("postgresql://bot:s3cret@db.internal/chatops")
    with pytest.raises(DatabaseError) as caught:
        check_reachable(make_engine("postgresql://bot:s3cret@127.0.0.1:1/chatops"))
    assert "s3cret" not in str(caught.value)
