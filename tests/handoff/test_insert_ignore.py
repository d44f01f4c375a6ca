"""`insert_ignore` must say truthfully whether it inserted: the quiet check relies on it."""

from __future__ import annotations

from datetime import UTC, datetime

from chatops.db import Database
from chatops.oncall.models import CoverageWatchRun
from chatops.outbox.queue import insert_ignore
from chatops.worker import run_due
from tests.support.case_world import make_world


def test_a_second_insert_of_the_same_key_reports_false(db: Database) -> None:
    world = make_world(db)
    values = {
        "team_id": world.team_id,
        "fire_at": datetime(2027, 3, 20, 9, tzinfo=UTC),
        "ran_at": datetime(2027, 3, 20, 9, tzinfo=UTC),
        "gaps": 0,
        "worker": "w1",
    }
    with db.transaction() as session:
        assert insert_ignore(session, CoverageWatchRun, values) is True
    with db.transaction() as session:
        assert insert_ignore(session, CoverageWatchRun, values) is False


def test_a_worker_pass_becomes_quiet(db: Database) -> None:
    """With the coverage watch due, the second pass must find nothing left to do."""
    world = make_world(db)
    run_due(db, world.clock, world.notifier, worker_id="w1")
    assert run_due(db, world.clock, world.notifier, worker_id="w1") == 0
