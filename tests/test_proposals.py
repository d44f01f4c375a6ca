"""Rota edit proposals kept server-side (issue #11): Confirm carries an id and trusts nothing else.

Each refusal leaves the members, the rota and the audit trail exactly as they were (counted
before and after).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import select

from chatops.audit import AuditEvent
from chatops.blockkit import Reply
from chatops.clock import ManualClock
from chatops.db import Database
from chatops.team import actor_for_slack_id
from commands.context import Context
from commands.registry import dispatch, dispatch_action
from rota.models import Member, Team
from rota.spec import RotaSpec
from rota.store import load_rota, save_rota
from rota.yamlio import load_rota_yaml

NOW = datetime(2027, 3, 20, 10, 0, tzinfo=UTC)
TEAM = """
team: {name: Small, tz: UTC}
members:
  - {id: UA, name: Anna, tz: Europe/Berlin, role: manager}
  - {id: UB, name: Bashir, tz: America/New_York}
  - {id: UM, name: Mo, tz: UTC, role: manager}
  - {id: UD, name: Dana, tz: UTC, role: admin}
rotations:
  - {name: primary, tz: UTC, handoff: "0 9 * * *", start: "2027-03-01T09:00:00Z",
     participants: [UA, UB]}
"""
ADD_NEWCOMER = "rota add <@UN> to primary tz:UTC"


@pytest.fixture
def anna(db: Database) -> Context:
    with db.transaction() as session:
        team = save_rota(session, load_rota_yaml(TEAM))
        actor = actor_for_slack_id(session, team, "UA")
    assert team.id is not None
    return Context(db=db, team_id=team.id, team_name=team.name, actor=actor, clock=ManualClock(NOW))


def as_(ctx: Context, slack_id: str) -> Context:
    with ctx.db.transaction() as session:
        team = session.get(Team, ctx.team_id)
        assert team is not None
        return replace(ctx, actor=actor_for_slack_id(session, team, slack_id))


def state(ctx: Context) -> tuple[int, int, RotaSpec]:
    """Members, audit events, and the whole stored rota."""
    with ctx.db.transaction() as session:
        members = session.exec(select(func.count()).select_from(Member)).one()
        events = session.exec(select(func.count()).select_from(AuditEvent)).one()
        team = session.get(Team, ctx.team_id)
        assert team is not None
        return int(members), int(events), load_rota(session, team)


def confirm_value(preview: Reply) -> str:
    assert preview.ok, preview.text
    (value,) = [
        e["value"]
        for b in preview.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "rota_confirm"
    ]
    return str(value)


def confirm(ctx: Context, value: str) -> Reply:
    return dispatch_action("rota_confirm", value, ctx)


def refused(ctx: Context, value: str, reason: str) -> None:
    before = state(ctx)
    reply = confirm(ctx, value)
    assert not reply.ok, reply.text
    assert reason in reply.text.splitlines()[0]
    assert state(ctx) == before


FORGED_ADD = {
    "kind": "add",
    "params": {
        "member": "UEVIL",
        "rotation": "primary",
        "new_member": {
            "id": "UEVIL",
            "name": "Evil <!channel>",
            "tz": "UTC",
            "languages": ["en"],
            "role": "admin",
        },
    },
    "author": "UA",
    "base": "",
    "force": False,
}


@pytest.mark.parametrize(
    "value",
    [
        json.dumps(FORGED_ADD),  # the old button's JSON, forged: empty base, admin newcomer
        json.dumps({**FORGED_ADD, "base": "0" * 16}),
        "",
        "not-a-proposal-id",
    ],
)
def test_a_forged_confirm_value_is_refused(anna: Context, value: str) -> None:
    refused(anna, value, "this preview can no longer be confirmed (there is no such preview)")
    assert "UEVIL" not in {m.id for m in state(anna)[2].members}


def test_the_button_carries_only_an_opaque_id(anna: Context) -> None:
    value = confirm_value(dispatch(ADD_NEWCOMER, anna))
    assert "UN" not in value and "primary" not in value and len(value) >= 20


def test_another_manager_cannot_confirm_an_authors_preview(anna: Context) -> None:
    value = confirm_value(dispatch(ADD_NEWCOMER, anna))
    refused(as_(anna, "UM"), value, "only <@UA>, who asked for this change, or an admin")
    assert confirm(anna, value).ok  # the author still can


def test_an_admin_may_confirm_a_managers_preview(anna: Context) -> None:
    value = confirm_value(dispatch(ADD_NEWCOMER, anna))
    assert confirm(as_(anna, "UD"), value).ok


def test_an_expired_preview_is_refused(anna: Context) -> None:
    value = confirm_value(dispatch(ADD_NEWCOMER, anna))
    assert isinstance(anna.clock, ManualClock)
    anna.clock.advance(timedelta(minutes=15))
    refused(anna, value, "previews expire after 15 minutes")


def test_a_preview_is_confirmed_once(anna: Context) -> None:
    value = confirm_value(dispatch(ADD_NEWCOMER, anna))
    assert confirm(anna, value).ok
    refused(anna, value, "it was already applied")


def test_a_cancelled_preview_cannot_be_confirmed(anna: Context) -> None:
    value = confirm_value(dispatch(ADD_NEWCOMER, anna))
    assert dispatch_action("rota_cancel", value, anna).ok
    refused(anna, value, "it was already cancelled")


def test_a_preview_of_a_changed_rota_is_refused(anna: Context) -> None:
    first = confirm_value(dispatch(ADD_NEWCOMER, anna))
    second = confirm_value(dispatch('rota set-handoff primary "0 10 * * *"', anna))
    assert confirm(anna, second).ok
    refused(anna, first, "the rota changed since this preview")


def test_only_admins_grant_the_admin_role(anna: Context) -> None:
    before = state(anna)
    line = ADD_NEWCOMER + " role:admin"
    reply = dispatch(line, anna)
    assert not reply.ok
    assert "only admins can grant or revoke the admin role (<@UN>)" in reply.text
    assert state(anna) == before
    dana = as_(anna, "UD")
    assert confirm(dana, confirm_value(dispatch(line, dana))).ok
    assert state(anna)[2].member("UN").role == "admin"


def test_a_member_name_cannot_carry_slack_markup(anna: Context) -> None:
    before = state(anna)
    reply = dispatch(ADD_NEWCOMER + ' name:"Evil <!channel>"', anna)
    assert not reply.ok
    assert "a name cannot hold '<', '>'" in reply.text
    assert state(anna) == before
