"""Issue #12 item 4: a ladder that never goes quiet, and a worker that catches up after an outage.

Driven through `/ts` dispatch and the real worker pass, with the world's manual clock.
"""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import col, select

from chatops.cases.models import CaseEvent
from chatops.db import Database
from chatops.escalation.models import EscalationTimer, TimerState
from chatops.escalation.policy import PolicyError, PolicySpec, parse_policies, policy_to_data
from chatops.escalation.store import save_policies
from commands.registry import dispatch
from tests.support.case_world import ANN, BEN, CAT, DAN, NOW, World, make_world, team_spec


def _open(
    world: World, line: str = "case open threat-of-violence sev1 threat on a talk page"
) -> str:
    reply = dispatch(line, world.context(ANN))
    assert reply.ok, reply.text
    return reply.text.split("*")[1].split(" ")[0]


def _policy(world: World, data: dict[str, object]) -> None:
    [policy] = parse_policies([data], team_spec())
    with world.db.transaction() as session:
        save_policies(session, team_id=world.team_id, policies=[policy], actor=CAT, at=NOW)


def test_an_unacknowledged_sev1_pages_admins_and_on_call_every_15_min_until_acked(
    db: Database,
) -> None:
    world = make_world(db)
    key = _open(world)
    world.tick()
    assert world.dms() == [ANN]
    # the built-in urgent ladder: 5m, 5m, 10m, walked twice, then the admins at +40 min
    world.clock.advance(timedelta(minutes=40))
    world.tick()
    world.dms()
    world.tick()
    assert world.dms() == []
    for _ in range(8):  # two hours after the last level: a page every 15 minutes
        world.clock.advance(timedelta(minutes=14, seconds=59))
        world.tick()
        assert world.dms() == []
        world.clock.advance(timedelta(seconds=1))
        world.tick()
        assert world.dms() == [DAN, ANN, BEN]
    show = dispatch(f"case show {key}", world.context(CAT))
    assert "Next escalation" in json.dumps(show.blocks)
    # not "Level: admins" alone: the repeats are what comes next
    assert "admins, the last; then repeat: admins and on-call until acknowledged" in json.dumps(
        show.blocks
    )
    assert dispatch(f"ack {key}", world.context(BEN)).ok
    world.clock.advance(timedelta(hours=3))
    world.tick()
    assert world.dms() == []
    with db.transaction() as session:
        pending = session.exec(
            select(EscalationTimer).where(EscalationTimer.state == TimerState.pending.value)
        ).all()
    assert pending == []


def test_final_repeat_is_a_policy_key_parsed_validated_and_exported(db: Database) -> None:
    data = {
        "name": "slow",
        "levels": [{"targets": ["layer:primary"], "timeout": "5m"}],
        "final_repeat": "30m",
    }
    [policy] = parse_policies([data], team_spec())
    assert policy.repeat_every("sev3") == timedelta(minutes=30)
    assert policy_to_data(policy)["final_repeat"] == "30m"
    plain = PolicySpec.model_validate({**data, "final_repeat": None})
    assert plain.repeat_every("sev1") == timedelta(minutes=15)
    assert plain.repeat_every("sev3") is None
    try:
        parse_policies([{**data, "final_repeat": "soon"}], team_spec())
    except PolicyError as error:
        assert error.messages == [
            "policies[0].final_repeat: 'soon' is not a duration like 5m, 2h or 1d"
        ]
    else:
        raise AssertionError("a bad final_repeat must be refused")
    try:
        parse_policies([{**data, "hours": "weekends"}], team_spec())
    except PolicyError as error:
        assert error.messages == ["policies[0]: hours must be any or working, not 'weekends'"]
    else:
        raise AssertionError("unknown hours must be refused")


def test_after_an_hour_down_one_pass_pages_the_level_due_now_and_records_the_missed(
    db: Database,
) -> None:
    world = make_world(db)
    _policy(
        world,
        {
            "name": "slow",
            "levels": [
                {"targets": ["layer:primary"], "timeout": "20m"},
                {"targets": ["layer:secondary"], "timeout": "30m"},
                {"targets": ["managers"], "timeout": "30m"},
            ],
        },
    )
    key = _open(world, "case open harassment sev3 doxxing thread")
    world.tick()
    assert world.dms() == [ANN]
    world.clock.advance(timedelta(hours=1))  # the worker was down: nothing ran
    world.tick()
    # level 2 was due at +20 min, level 3 at +50 min: page level 3 now, not level 2
    assert world.dms() == [CAT]
    with db.transaction() as session:
        timer = session.exec(
            select(EscalationTimer).where(EscalationTimer.state == TimerState.pending.value)
        ).one()
        kinds = [e.kind for e in session.exec(select(CaseEvent).order_by(col(CaseEvent.id))).all()]
    # the admins are due 30 min after level 3 was due (+50), not 30 min after now
    assert timer.due_at == NOW + timedelta(minutes=80)
    assert kinds.count("missed") == 1
    show = dispatch(f"case show {key}", world.context(CAT))
    assert (
        "level 2 (secondary) was due 2027-03-20 12:20 GMT (UTC) but the worker was down; "
        "skipped to level 3" in json.dumps(show.blocks)
    )
    world.clock.advance(timedelta(minutes=20))
    world.tick()
    assert world.dms() == [DAN]
