"""The compiled-rota cache is reused while the rota is unchanged and never serves a stale one."""

from __future__ import annotations

from datetime import UTC, datetime

from chatops.db import Database, make_engine
from chatops.oncall.cache import compiled_rota
from rota.edits import add_override
from rota.models import Team
from rota.store import load_rota, save_rota
from rota.yamlio import load_rota_yaml
from tests.support.clirun import EXAMPLE

AT = datetime(2027, 3, 21, 9, 0, tzinfo=UTC)


def test_a_save_on_another_replica_is_seen_at_once(db: Database, database_url: str) -> None:
    with db.transaction() as session:
        team = save_rota(session, load_rota_yaml(EXAMPLE))
    assert team.id is not None
    other = Database(make_engine(database_url))  # a second process's engine, same database
    with other.transaction() as session:
        first = compiled_rota(session, team.id)
    with other.transaction() as session:
        assert compiled_rota(session, team.id) is first  # unchanged: reused
    with db.transaction() as session:
        stored = session.get(Team, team.id)
        assert stored is not None
        spec = load_rota(session, stored)
        covered = add_override(
            spec, member="U01OCHEN00", start=AT, end=AT.replace(hour=10), rotation="emea"
        )
        save_rota(session, covered)
    with other.transaction() as session:
        fresh = compiled_rota(session, team.id)
    assert fresh is not first
    assert [s.member for s in fresh.on_call(AT) if s.rotation == "emea"] == ["U01OCHEN00"]
    other.dispose()
