"""`open_cases_for`: a member's unresolved cases (assigned to them or paging them)."""

from __future__ import annotations

import pytest

from chatops.cases import queries
from chatops.db import Database
from commands.registry import dispatch
from tests.support.case_world import ANN, BEN, CAT, EVE, World, make_world


@pytest.fixture
def world(db: Database) -> World:
    return make_world(db)


def keys_for(world: World, slack_id: str) -> list[str]:
    with world.db.transaction() as session:
        cases = queries.open_cases_for(session, team_id=world.team_id, slack_id=slack_id)
        return [c.key for c in cases]


def test_open_cases_for_lists_assigned_and_paged_unresolved_cases(world: World) -> None:
    for line in (
        "case open harassment sev3 one",  # 0001: pages Ann
        "case open harassment sev3 two",  # 0002: pages Ann, then given to Eve
        "case open harassment sev3 three",  # 0003: pages Ann, resolved
        "case assign TS-2027-0002 @Eve",
        "case resolve TS-2027-0003",
    ):
        assert dispatch(line, world.context(CAT)).ok, line

    assert keys_for(world, ANN) == ["TS-2027-0001", "TS-2027-0002"]
    assert keys_for(world, EVE) == ["TS-2027-0002"]
    assert keys_for(world, BEN) == []  # not paged yet: level 2 waits for the timer
    assert keys_for(world, CAT) == []  # the reporter is neither assigned nor paged
