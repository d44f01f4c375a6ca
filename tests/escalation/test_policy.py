"""Policy validation with path-named errors, storage, and the choice of policy per case."""

from __future__ import annotations

import pytest

from chatops.cases import opening
from chatops.db import Database
from chatops.escalation.policy import (
    DEFAULT_POLICIES,
    PolicyError,
    choose_policy,
    ladder,
    parse_policies,
    policy_to_data,
)
from chatops.escalation.store import load_policies, save_policies
from commands.registry import dispatch
from tests.support.case_world import ANN, BEN, CAT, NOW, make_world, team_spec


def test_errors_name_their_path() -> None:
    data = [
        {
            "name": "urgent",
            "levels": [
                {"targets": ["rotation:day"], "timeout": "5m"},
                {"targets": ["rotation:x", {"member": "Zed"}, "layer:nope"], "timeout": "5m"},
            ],
        },
        {"name": "urgent", "levels": [{"targets": ["managers"], "timeout": "0m"}]},
        {"name": "bad", "severities": ["sev9"], "levels": []},
    ]
    with pytest.raises(PolicyError) as raised:
        parse_policies(data, team_spec())
    assert raised.value.messages == [
        "policies[1].levels[0].timeout: the timeout must be longer than zero",
        "policies[2].severities[0]: unknown value 'sev9'; "
        "expected 'sev1', 'sev2', 'sev3' or 'sev4'",
        "policies[2].levels: needs at least one entry",
        "policies[0].levels[1].targets[0]: unknown rotation 'x'",
        "policies[0].levels[1].targets[1]: 'Zed' is not a member of the team",
        "policies[0].levels[1].targets[2]: no rotation is in layer 'nope'",
    ]


def test_members_by_name_become_slack_ids_and_round_trip() -> None:
    data = [
        {
            "name": "threats",
            "types": ["threat-of-violence", "terrorism"],
            "levels": [{"targets": ["rotation:day", {"member": "Ben"}], "timeout": "2m"}],
            "repeat": 2,
        }
    ]
    (policy,) = parse_policies(data, team_spec())
    assert policy.levels[0].targets[1].member == BEN
    assert parse_policies([policy_to_data(policy)], team_spec()) == [policy]
    assert [s.level for s in ladder(policy)] == ["1", "1", "1", "admins"]


def test_the_built_in_policy_applies_when_none_matches() -> None:
    assert choose_policy([], "harassment", "sev1") is DEFAULT_POLICIES[0]
    assert choose_policy([], "harassment", "sev3") is DEFAULT_POLICIES[1]
    # sev4 is "next working day": its own built-in policy waits for working hours
    assert choose_policy([], "harassment", "sev4") is DEFAULT_POLICIES[2]
    assert DEFAULT_POLICIES[2].working_hours


def test_a_stored_policy_is_used_for_matching_cases(sqlite_db: Database) -> None:
    world = make_world(sqlite_db)
    (policy,) = parse_policies(
        [
            {
                "name": "threats",
                "types": ["terrorism"],
                "levels": [{"targets": ["managers"], "timeout": "1m"}],
            }
        ],
        team_spec(),
    )
    with sqlite_db.transaction() as session:
        save_policies(session, team_id=world.team_id, policies=[policy], actor=CAT, at=NOW)
    ann = world.actor(ANN)
    with sqlite_db.transaction() as session:
        assert load_policies(session, team_id=world.team_id) == [policy]
        _case, paging = opening.open_case(
            session,
            team_id=world.team_id,
            actor=ann,
            at=NOW,
            case_type="terrorism",
            severity="sev1",
            summary="x",
        )
        assert paging.paged == [CAT]
        _other, paging = opening.open_case(
            session,
            team_id=world.team_id,
            actor=ann,
            at=NOW,
            case_type="harassment",
            severity="sev1",
            summary="y",
        )
        assert paging.paged == [ANN]  # no match: the built-in policy
    shown = dispatch("policy show", world.context(ANN))
    assert shown.text.startswith("*threats* — terrorism; every severity\n1. the managers — wait 1m")
