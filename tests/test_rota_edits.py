"""Rota edits from chat: preview, confirm, refusal with the exact gap, admin force (audited)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlmodel import col, select

from chatops.audit import AuditEvent
from chatops.blockkit import Reply
from chatops.clock import ManualClock
from chatops.db import Database
from chatops.team import actor_for_slack_id
from commands.context import Context
from commands.registry import dispatch, dispatch_action
from rota.models import Team
from rota.spec import RotaSpec
from rota.store import load_rota, save_rota
from rota.yamlio import load_rota_yaml
from tests.support.teams import example_team_context

NOW = datetime(2027, 3, 20, 10, 0, tzinfo=UTC)

# Two members must be on call at once. On 2027-03-20 (09:00Z to 09:00Z next day) the primary
# is Bashir (New York) and the secondary is Dana (admin, UTC).
SMALL = """
team: {name: Small, tz: UTC, required: 2, channel: "#small"}
members:
  - {id: UA, name: Anna, tz: Europe/Berlin, role: manager}
  - {id: UB, name: Bashir, tz: America/New_York}
  - {id: UC, name: Chitra, tz: Asia/Kolkata}
  - {id: UD, name: Dana, tz: UTC, role: admin}
rotations:
  - {name: primary, tz: UTC, handoff: "0 9 * * *", start: "2027-03-01T09:00:00Z",
     participants: [UA, UB]}
  - {name: secondary, tz: UTC, handoff: "0 9 * * *", start: "2027-03-01T09:00:00Z",
     participants: [UC, UD], layer: secondary}
"""
DOUBLE_UP = "rota override @bashir 2027-03-20 12:00 to 2027-03-20 14:00 rotation:secondary"


def _context(db: Database, spec: RotaSpec, slack_id: str) -> Context:
    with db.transaction() as session:
        team = save_rota(session, spec)
        actor = actor_for_slack_id(session, team, slack_id)
    assert team.id is not None
    return Context(db=db, team_id=team.id, team_name=team.name, actor=actor, clock=ManualClock(NOW))


def _as(ctx: Context, slack_id: str) -> Context:
    with ctx.db.transaction() as session:
        team = session.get(Team, ctx.team_id)
        assert team is not None
        return replace(ctx, actor=actor_for_slack_id(session, team, slack_id))


def _stored(ctx: Context) -> RotaSpec:
    with ctx.db.transaction() as session:
        team = session.get(Team, ctx.team_id)
        assert team is not None
        return load_rota(session, team)


def _audit(ctx: Context) -> list[AuditEvent]:
    with ctx.db.transaction() as session:
        query = select(AuditEvent).where(col(AuditEvent.action).startswith("rota."))
        return list(session.exec(query))


def _buttons(reply: Reply) -> dict[str, str]:
    return {
        element["text"]["text"]: element["value"]
        for block in reply.blocks
        if block["type"] == "actions"
        for element in block["elements"]
    }


@pytest.fixture
def small(db: Database) -> Context:
    return _context(db, load_rota_yaml(SMALL), "UA")


def test_override_preview_then_confirm_saves_and_audits(db: Database) -> None:
    ctx = example_team_context(db, "U01LBECKER", NOW)
    before = _stored(ctx)
    preview = dispatch(
        "rota override @amira 2027-03-21 08:00 to 2027-03-21 18:00 rotation:emea sick cover", ctx
    )
    assert preview.ok, preview.text
    assert _stored(ctx) == before  # a preview changes nothing
    text = str(preview.blocks)
    assert "− <@U01LBECKER> *emea*: 2027-03-21 08:00 CET (UTC+01:00)" in text
    assert "+ <@U01AHADDAD> *emea* (override): 2027-03-21 08:00 CET (UTC+01:00)" in text
    assert "stays complete" in text
    buttons = _buttons(preview)
    assert set(buttons) == {"Confirm", "Cancel"}

    done = dispatch_action("rota_confirm", buttons["Confirm"], ctx)
    assert done.ok, done.text
    after = _stored(ctx)
    (override,) = [o for o in after.overrides if o not in before.overrides]
    assert (override.member, override.rotation, override.reason, override.author) == (
        "U01AHADDAD",
        "emea",
        "sick cover",
        "U01LBECKER",
    )
    assert (override.start, override.end) == (
        datetime(2027, 3, 21, 7, 0, tzinfo=UTC),
        datetime(2027, 3, 21, 17, 0, tzinfo=UTC),
    )
    (event,) = _audit(ctx)
    assert (event.action, event.actor) == ("rota.override", "U01LBECKER")
    assert json.loads(event.detail)["forced"] is False
    assert done.posts and "Rota updated by <@U01LBECKER>" in done.posts[0].text


def test_cancel_changes_nothing(small: Context) -> None:
    before = _stored(small)
    preview = dispatch("rota remove @anna from primary", small)
    reply = dispatch_action("rota_cancel", _buttons(preview)["Cancel"], small)
    assert "unchanged" in reply.text
    assert _stored(small) == before and _audit(small) == []


def test_an_edit_that_opens_a_gap_is_refused_with_the_exact_gap(small: Context) -> None:
    before = _stored(small)
    reply = dispatch(DOUBLE_UP, small)
    assert not reply.ok
    assert "would leave 1 uncovered interval(s) in the next 28 days" in reply.text
    # Anna typed Berlin times (UTC+01:00): the gap is 11:00–13:00 UTC
    assert "2027-03-20T11:00:00Z – 2027-03-20T13:00:00Z: 1 of 2 on call" in reply.text
    # and each affected member reads it in their own zone
    assert "Bashir (UB): 2027-03-20 07:00 EDT (UTC-04:00) – 2027-03-20 09:00 EDT" in reply.text
    assert "Dana (UD): 2027-03-20 11:00 UTC – 2027-03-20 13:00 UTC" in reply.text
    assert "An admin can force it" in reply.text
    assert _stored(small) == before and _audit(small) == []


def test_only_admins_may_force_and_forcing_is_audited(small: Context) -> None:
    refused = dispatch(DOUBLE_UP + " force", small)
    assert "only admins can force" in refused.text
    admin = _as(small, "UD")
    preview = dispatch(DOUBLE_UP + " force", admin)
    assert preview.ok, preview.text
    assert "Forced: leaves 1 gap(s); this will be audited." in str(preview.blocks)
    done = dispatch_action("rota_confirm", _buttons(preview)["Confirm"], admin)
    assert done.ok, done.text
    (event,) = _audit(small)
    assert event.actor == "UD"
    assert json.loads(event.detail) | {"params": None} == {
        "params": None,
        "forced": True,
        "gaps": 1,
        # Dana's secondary shift is cut in two around Bashir's two hours: one shift out,
        # three in (Dana before, Bashir, Dana after)
        "shifts_removed": 1,
        "shifts_added": 3,
    }


def test_a_responder_cannot_edit_and_a_clicked_button_is_checked_too(small: Context) -> None:
    responder = _as(small, "UB")
    assert (
        "only managers can edit the rota"
        in dispatch("rota remove @anna from primary", responder).text
    )
    preview = dispatch("rota remove @anna from primary", small)
    stolen = dispatch_action("rota_confirm", _buttons(preview)["Confirm"], responder)
    assert not stolen.ok and "only managers can edit the rota" in stolen.text
    assert _audit(small) == []


def test_a_stale_preview_is_refused(small: Context) -> None:
    first = dispatch('rota set-handoff primary "0 10 * * *"', small)
    second = dispatch('rota set-handoff secondary "0 10 * * *"', small)
    assert dispatch_action("rota_confirm", _buttons(second)["Confirm"], small).ok
    stale = dispatch_action("rota_confirm", _buttons(first)["Confirm"], small)
    assert "the rota changed since this preview" in stale.text
    assert [r.handoff for r in _stored(small).rotations] == ["0 9 * * *", "0 10 * * *"]


def test_swap_exchanges_shifts_in_the_window(small: Context) -> None:
    # 10:00 in Berlin is 09:00 UTC, the daily handoff: exactly Bashir's shift that day, asked
    # for before it starts (a swap starting in the past is refused)
    small = replace(small, clock=ManualClock(datetime(2027, 3, 20, 8, 0, tzinfo=UTC)))
    preview = dispatch("rota swap @anna @bashir 2027-03-20 10:00 to 2027-03-21 10:00", small)
    assert preview.ok, preview.text
    assert dispatch_action("rota_confirm", _buttons(preview)["Confirm"], small).ok
    (override,) = _stored(small).overrides
    assert (override.member, override.rotation) == ("UA", "primary")
    assert (override.start, override.end) == (
        datetime(2027, 3, 20, 9, 0, tzinfo=UTC),
        datetime(2027, 3, 21, 9, 0, tzinfo=UTC),
    )


def test_add_a_new_member_with_zone(small: Context) -> None:
    preview = dispatch(
        'rota add <@UE|eve> to primary tz:Australia/Sydney name:"Eve Wu" lang:en,zh', small
    )
    assert preview.ok, preview.text
    assert dispatch_action("rota_confirm", _buttons(preview)["Confirm"], small).ok
    spec = _stored(small)
    assert spec.member("UE").tz == "Australia/Sydney"
    assert spec.member("UE").languages == ("en", "zh")
    assert spec.rotations[0].participants == ("UA", "UB", "UE")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("rota", "which rota action?"),
        ("rota frob", "unknown rota action `frob`"),
        ("rota remove @anna from nowhere", "no rotation called 'nowhere'"),
        ("rota remove @zed from primary", "nobody on Small is called `zed`"),
        ("rota remove @chitra from primary", "<@UC> is not in the primary rotation"),
        ('rota set-handoff primary "61 * * * *"', "bad cron expression '61 * * * *'"),
        ("rota override @anna tomorrow 10:00", "give a time span"),
        ("rota override @anna 2027-03-20 12:00 to 2027-03-20 11:00", "must end after it starts"),
        ("rota add @dana to primary", ""),
        ("rota add <@UZ> to primary", "<@UZ> is new to Small; give their zone"),
        ("rota add <@UZ> to primary tz:Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ('rota add <@UZ> to primary tz:UTC name:"\u2800"', "`name:` shows nothing"),
        ("rota check days:0", "days:N takes 1 to 366"),
    ],
)
def test_bad_edits_are_one_line_and_change_nothing(small: Context, line: str, reason: str) -> None:
    before = _stored(small)
    reply = dispatch(line, small)
    if reason:
        assert not reply.ok, reply.text
        assert reason in reply.text.splitlines()[0]
    assert _stored(small) == before and _audit(small) == []


def test_rota_check_reports_gaps_in_local_times(small: Context) -> None:
    admin = _as(small, "UD")
    preview = dispatch(DOUBLE_UP + " force", admin)
    assert dispatch_action("rota_confirm", _buttons(preview)["Confirm"], admin).ok
    report = dispatch("rota check", small)
    assert "1 coverage gap(s) in the next 28 days" in report.text
    assert "2027-03-20T12:00:00Z – 2027-03-20T14:00:00Z" in str(report.blocks)  # Dana: UTC
    covered = dispatch("rota check", _context_without_gap(small))
    assert "Covered" in covered.text


def _context_without_gap(ctx: Context) -> Context:
    with ctx.db.transaction() as session:
        save_rota(session, load_rota_yaml(SMALL))
    return ctx


# -- issue #12 item 8 --


def test_an_override_starting_in_the_past_is_refused_in_the_askers_zone(small: Context) -> None:
    reply = dispatch("rota override @chitra 2027-03-19 12:00 to 2027-03-21 12:00", small)
    assert not reply.ok
    assert reply.text.splitlines()[0] == (
        ":warning: that override starts at 2027-03-19 12:00 CET (UTC+01:00), which is in the "
        "past; start it now or later"
    )
    assert _audit(small) == []


def test_a_preview_confirmed_after_its_start_has_passed_is_refused(small: Context) -> None:
    preview = dispatch("rota override @chitra 2027-03-20 12:00 to 2027-03-20 14:00", small)
    assert preview.ok, preview.text
    later = replace(small, clock=ManualClock(datetime(2027, 3, 20, 13, 0, tzinfo=UTC)))
    done = dispatch_action("rota_confirm", _buttons(preview)["Confirm"], later)
    assert not done.ok and "which is in the past" in done.text
    assert _audit(small) == []


def test_a_managers_force_on_an_edit_without_a_gap_is_just_applied(small: Context) -> None:
    # Chitra joins the secondary for two hours: nobody leaves, so no gap.
    text = "rota override @chitra 2027-03-20 12:00 to 2027-03-20 14:00 rotation:secondary force"
    preview = dispatch(text, small)
    assert preview.ok, preview.text
    assert "stays complete" in str(preview.blocks)
    assert dispatch_action("rota_confirm", _buttons(preview)["Confirm"], small).ok
    (event,) = _audit(small)
    assert json.loads(event.detail)["forced"] is False


def test_a_forced_edit_names_its_gap_in_the_channel_post(small: Context) -> None:
    admin = _as(small, "UD")
    preview = dispatch(DOUBLE_UP + " force", admin)
    done = dispatch_action("rota_confirm", _buttons(preview)["Confirm"], admin)
    assert done.ok, done.text
    (post,) = done.posts
    assert "Forced: it leaves 1 coverage gap(s)" in post.text
    assert "2027-03-20T12:00:00Z – 2027-03-20T14:00:00Z: 1 of 2 on call" in post.text  # UTC admin


def test_rota_check_warns_when_one_person_holds_two_layers(db: Database) -> None:
    """Issue #12 item 12: primary and secondary on the same person is covered, yet level 1 and
    level 2 page the same person; `rota check` says so as a warning, not a gap."""
    one_needed = SMALL.replace("required: 2", "required: 1")
    doubled = load_rota_yaml(one_needed.replace("participants: [UC, UD]", "participants: [UD, UB]"))
    ctx = _context(db, doubled, "UA")
    reply = dispatch("rota check days:1", ctx)
    assert reply.ok
    assert reply.text.startswith(":white_check_mark: Covered: no uncovered minute")
    assert "1 time(s) one person holds two layers at once" in reply.text
    assert (
        "Bashir (UB) holds primary (primary) and secondary (secondary) at once: "
        "2027-03-20T10:00:00Z – 2027-03-21T09:00:00Z" in str(reply.blocks)
    )
    fixed = _context(db, load_rota_yaml(one_needed), "UA")
    assert "two layers" not in str(dispatch("rota check days:1", fixed).blocks)
