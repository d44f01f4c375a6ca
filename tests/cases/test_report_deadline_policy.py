"""The child-safety reporting deadline is the team's policy (`report_within`), default 24 h."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from chatops.cases import legal
from chatops.cases.models import Case
from chatops.db import Database, as_utc
from chatops.escalation.policy import PolicyError, parse_policies
from chatops.escalation.store import save_policies
from commands.registry import dispatch
from tests.support.case_world import ANN, NOW, World, make_world, team_spec


def _policies(report_within: str | None) -> list[dict[str, object]]:
    policy: dict[str, object] = {
        "name": "child safety",
        "types": ["child-safety"],
        "levels": [{"targets": ["layer:primary"], "timeout": "10m"}],
    }
    if report_within is not None:
        policy["report_within"] = report_within
    return [policy]


def _world(db: Database, report_within: str | None) -> World:
    world = make_world(db)
    spec = team_spec()
    with db.transaction() as session:
        save_policies(
            session,
            team_id=world.team_id,
            policies=parse_policies(_policies(report_within), spec),
            actor="test",
            at=NOW,
        )
    return world


def _deadline(world: World) -> timedelta:
    assert dispatch("case open child-safety sev2 Material on Commons", world.context(ANN)).ok
    with world.db.transaction() as session:
        case = session.exec(select(Case)).one()
        clock = legal.clock_of(session, case.id)
        assert clock is not None
        return as_utc(clock.deadline_at) - as_utc(clock.started_at)


def test_the_policy_sets_the_deadline(db: Database) -> None:
    assert _deadline(_world(db, "6h")) == timedelta(hours=6)


def test_without_the_key_the_deadline_is_24_hours(db: Database) -> None:
    assert _deadline(_world(db, None)) == timedelta(hours=24)


@pytest.mark.parametrize("bad", ["5m", "31d", "soon"])
def test_a_deadline_out_of_bounds_names_its_path(bad: str) -> None:
    with pytest.raises(PolicyError) as error:
        parse_policies(_policies(bad), team_spec())
    assert error.value.messages[0].startswith("policies[0]")
    assert "report_within" in error.value.messages[0] or bad in error.value.messages[0]


def test_a_case_retyped_to_child_safety_is_due_from_its_opening_by_the_policy(
    db: Database,
) -> None:
    """Retyping found the duty late: the clock still runs from the opening, by the policy's
    deadline, not a fixed default counted from the edit."""
    world = _world(db, "6h")
    assert dispatch("case open harassment sev2 Material on Commons", world.context(ANN)).ok
    world.clock.advance(timedelta(hours=2))

    assert dispatch("case edit TS-2027-0001 type child-safety", world.context(ANN)).ok

    with world.db.transaction() as session:
        case = session.exec(select(Case)).one()
        clock = legal.clock_of(session, case.id)
        assert clock is not None
        assert as_utc(clock.started_at) == NOW
        assert as_utc(clock.deadline_at) == NOW + timedelta(hours=6)
