"""Shift swaps: the pure cover edit, the service's exactly-once take, and the verb's refusals."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from chatops.audit import AuditEvent
from chatops.db import Database
from chatops.errors import Refused
from chatops.oncall import swaps
from chatops.team import actor_for_slack_id
from commands.context import Actor, Context
from commands.registry import dispatch, dispatch_action
from rota.cover import cover, covered_shifts
from rota.edits import EditError
from rota.models import Team
from rota.resolve import compile_rota
from rota.spec import MemberSpec, RotaSpec, RotationSpec, TeamSpec
from rota.store import load_rota, save_rota
from tests.support.served import (
    AMIRA,
    DANIEL,
    ELENA,
    LUKAS,
    NOW,
    PRIYA,
    SOFIA,
    example_rota,
    first_shift,
    iso,
)
from tests.support.teams import example_team_context

# Amira's next emea shift (a day in Berlin office hours), whoever else holds what then.
_SHIFT = first_shift(AMIRA, "emea", NOW + timedelta(days=1))
WINDOW = (_SHIFT.start, _SHIFT.end)
SPAN = f"{iso(WINDOW[0])} to {iso(WINDOW[1])}"
# Elena is only on emea, so she never holds a shift in the small hours UTC.
NIGHT = "2027-03-23T03:00Z to 2027-03-23T05:00Z"


def _actor(ctx: Context, slack_id: str) -> Actor:
    with ctx.db.transaction() as session:
        team = session.get(Team, ctx.team_id)
        assert team is not None
        actor = actor_for_slack_id(session, team, slack_id)
    assert actor is not None
    return actor


def _as(ctx: Context, slack_id: str) -> Context:
    return replace(ctx, actor=_actor(ctx, slack_id))


def _spec(ctx: Context) -> RotaSpec:
    with ctx.db.transaction() as session:
        team = session.get(Team, ctx.team_id)
        assert team is not None
        return load_rota(session, team)


def _audit(db: Database, action: str) -> list[AuditEvent]:
    with db.transaction() as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)))


# -- the pure edit --


def test_cover_hands_every_rotation_shift_in_the_window_to_the_taker() -> None:
    spec = example_rota()
    start, end = WINDOW

    held = {s.rotation for s in covered_shifts(spec, AMIRA, start, end)}

    new = cover(spec, requester=AMIRA, taker=ELENA, start=start, end=end, author=ELENA)

    compiled = compile_rota(new)
    assert covered_shifts(new, AMIRA, start, end) == []
    taken = compiled.shifts(start, end, member=ELENA)
    assert "emea" in held
    assert {s.rotation for s in taken} == held
    assert all(s.source == "override" and start <= s.start and s.end <= end for s in taken)
    # Outside the window nothing moved.
    old = compile_rota(spec)
    for at in [start - timedelta(hours=h) for h in range(1, 48, 3)] + [
        end + timedelta(hours=h) for h in range(0, 48, 3)
    ]:
        assert {(s.rotation, s.member) for s in compiled.on_call(at)} == {
            (s.rotation, s.member) for s in old.on_call(at)
        }


@pytest.mark.parametrize(
    ("requester", "taker", "message"),
    [
        (AMIRA, AMIRA, "can't take your own"),
        (AMIRA, "U0STRANGER", "not a member"),
        (ELENA, AMIRA, "no rotation shift in that window"),
    ],
)
def test_cover_refuses_what_cannot_be_covered(requester: str, taker: str, message: str) -> None:
    start, end = datetime(2027, 3, 23, 3, tzinfo=UTC), datetime(2027, 3, 23, 5, tzinfo=UTC)
    with pytest.raises(EditError, match=message):
        cover(example_rota(), requester=requester, taker=taker, start=start, end=end)


# -- the service --


def test_request_then_take_updates_the_rota_and_audits_both(sqlite_db: Database) -> None:
    ctx = example_team_context(sqlite_db, AMIRA, NOW)
    with sqlite_db.transaction() as session:
        opened = swaps.request_swap(
            session,
            team_id=ctx.team_id,
            actor=ctx.actor,
            start=WINDOW[0],
            end=WINDOW[1],
            reason="dentist",
            now=NOW,
        )
    assert opened.request.id is not None

    with sqlite_db.transaction() as session:
        taken = swaps.take_swap(
            session,
            team_id=ctx.team_id,
            request_id=opened.request.id,
            actor=_actor(ctx, ELENA),
            now=NOW,
            horizon_days=28,
        )

    assert taken.request.status == "taken"
    assert taken.request.taker == ELENA
    overrides = [o for o in _spec(ctx).overrides if o.member == ELENA and o.author == ELENA]
    assert {o.rotation for o in overrides} == {s.rotation for s in opened.shifts}
    assert all(o.reason == "dentist" for o in overrides)
    (requested,) = _audit(sqlite_db, "swap.request")
    (took,) = _audit(sqlite_db, "swap.take")
    assert requested.actor == AMIRA
    assert took.actor == ELENA
    assert took.subject == f"swap:{opened.request.id}"


def test_only_one_of_many_simultaneous_takers_wins(db: Database) -> None:
    """Exactly once under concurrency, on SQLite and on PostgreSQL."""
    ctx = example_team_context(db, AMIRA, NOW)
    with db.transaction() as session:
        opened = swaps.request_swap(
            session,
            team_id=ctx.team_id,
            actor=ctx.actor,
            start=WINDOW[0],
            end=WINDOW[1],
            reason="",
            now=NOW,
        )
    assert opened.request.id is not None
    request_id = opened.request.id
    takers = [_actor(ctx, who) for who in (ELENA, LUKAS, DANIEL, PRIYA, SOFIA)]
    start = threading.Barrier(len(takers))
    won: list[str] = []
    refused: list[str] = []
    lock = threading.Lock()

    def take(actor: Actor) -> None:
        start.wait()
        try:
            with db.transaction() as session:
                result = swaps.take_swap(
                    session,
                    team_id=ctx.team_id,
                    request_id=request_id,
                    actor=actor,
                    now=NOW,
                    horizon_days=28,
                )
            with lock:
                won.append(str(result.request.taker))
        except Refused as error:
            with lock:
                refused.append(error.reason)

    threads = [threading.Thread(target=take, args=(a,)) for a in takers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(won) == 1
    assert len(refused) == len(takers) - 1
    assert all(f"already taken by <@{won[0]}>" in reason for reason in refused)
    assert len(_audit(db, "swap.take")) == 1
    covering = {o.member for o in _spec(ctx).overrides if WINDOW[0] <= o.start < WINDOW[1]}
    assert covering == {won[0]}


def _two_needed() -> RotaSpec:
    """Two must be on call: Alice (primary) and Bob (backup) this week, Carmen next."""
    start = datetime(2027, 3, 15, 9, tzinfo=UTC)
    return RotaSpec(
        team=TeamSpec(name="Pair", channel="C0PAIR", required=2),
        members=(
            MemberSpec(id="U0ALICE", name="Alice", tz="Europe/Berlin"),
            MemberSpec(id="U0BOB", name="Bob", tz="Asia/Kolkata"),
            MemberSpec(id="U0CARMEN", name="Carmen", tz="America/Bogota"),
        ),
        rotations=(
            RotationSpec(
                name="primary",
                tz="UTC",
                handoff="0 9 * * mon",
                start=start,
                participants=("U0ALICE", "U0CARMEN"),
            ),
            RotationSpec(
                name="backup",
                tz="UTC",
                handoff="0 9 * * mon",
                start=start,
                participants=("U0BOB", "U0CARMEN"),
                layer="secondary",
            ),
        ),
    )


def test_take_that_would_open_a_gap_is_refused_with_the_gap_and_stays_open(
    sqlite_db: Database,
) -> None:
    with sqlite_db.transaction() as session:
        team = save_rota(session, _two_needed())
        alice = actor_for_slack_id(session, team, "U0ALICE")
        bob = actor_for_slack_id(session, team, "U0BOB")
        carmen = actor_for_slack_id(session, team, "U0CARMEN")
    assert team.id is not None and alice and bob and carmen
    ctx = Context(sqlite_db, team.id, team.name, alice, lambda: NOW, channel="C0PAIR")

    posted = dispatch("swap request 2027-03-18 10:00 to 2027-03-18 14:00 school run", ctx)
    value = posted.posts[0].blocks[-1]["elements"][0]["value"]
    refused = dispatch_action("swap_take", value, replace(ctx, actor=bob))
    taken = dispatch_action("swap_take", value, replace(ctx, actor=carmen))

    assert not refused.ok
    assert "refused: if you take this swap, 1 interval(s) would be left uncovered" in refused.text
    assert "2027-03-18T09:00:00Z – 2027-03-18T13:00:00Z: 1 of 2 on call" in refused.text
    assert "Alice (U0ALICE): 2027-03-18 10:00 CET (UTC+01:00)" in refused.text
    assert taken.ok, taken.text
    assert "<@U0CARMEN> took <@U0ALICE>'s shifts" in taken.text


# -- the verb --


def test_requester_without_a_shift_in_the_window_is_told_plainly(sqlite_db: Database) -> None:
    ctx = example_team_context(sqlite_db, ELENA, NOW)

    reply = dispatch(f"swap request {NIGHT}", ctx)

    assert not reply.ok
    assert "you have no rotation shift in that window" in reply.text
    assert reply.posts == []
    assert _audit(sqlite_db, "swap.request") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("swap", "which swap action?"),
        ("swap requset x", "did you mean `request`"),
        ("swap request tomorrow 09:00", "give a time span"),
        ("swap request 2027-03-23 to 2027-03-22", "must end after it starts"),
        ("swap request 2027-03-01 to 2027-03-02", "already over"),
    ],
)
def test_bad_requests_change_nothing(sqlite_db: Database, text: str, message: str) -> None:
    ctx = example_team_context(sqlite_db, AMIRA, NOW)

    reply = dispatch(text, ctx)

    assert not reply.ok
    assert message in reply.text
    assert _audit(sqlite_db, "swap.request") == []


def test_requester_cannot_take_their_own_and_a_broken_button_is_refused(
    sqlite_db: Database,
) -> None:
    ctx = example_team_context(sqlite_db, AMIRA, NOW)
    posted = dispatch(f"swap request {SPAN}", ctx)
    value = posted.posts[0].blocks[-1]["elements"][0]["value"]

    own = dispatch_action("swap_take", value, ctx)
    broken = dispatch_action("swap_take", "x1", _as(ctx, ELENA))
    missing = dispatch_action("swap_take", "999", _as(ctx, ELENA))

    assert "your own request" in own.text
    assert "broken" in broken.text
    assert "no longer exists" in missing.text
    assert _audit(sqlite_db, "swap.take") == []


# -- cancelling and expiry (issue #12 item 8) --


def test_the_requester_cancels_by_command_and_nobody_can_take_it_then(
    sqlite_db: Database,
) -> None:
    ctx = example_team_context(sqlite_db, AMIRA, NOW)
    posted = dispatch(f"swap request {SPAN} dentist", ctx)
    assert "withdraw it with `/ts swap cancel 1`" in posted.text
    take_value = posted.posts[0].blocks[-1]["elements"][0]["value"]

    other = dispatch("swap cancel 1", _as(ctx, ELENA))
    assert not other.ok and "only <@U01AHADDAD>, who asked, can cancel" in other.text
    cancelled = dispatch("swap cancel 1", ctx)
    assert cancelled.ok and "Swap request 1 is cancelled" in cancelled.text
    assert "<@U01AHADDAD> withdrew their swap request 1" in cancelled.posts[0].text
    late = dispatch_action("swap_take", take_value, _as(ctx, ELENA))
    assert not late.ok and "was cancelled" in late.text
    again = dispatch("swap cancel 1", ctx)
    assert not again.ok and "was cancelled" in again.text
    assert len(_audit(sqlite_db, "swap.cancel")) == 1
    assert _audit(sqlite_db, "swap.take") == []
    assert not dispatch("swap cancel soon", ctx).ok


def test_an_expired_request_cannot_be_cancelled_and_a_second_for_the_same_time_is_refused(
    sqlite_db: Database,
) -> None:
    ctx = example_team_context(sqlite_db, AMIRA, NOW)
    assert dispatch(f"swap request {SPAN} dentist", ctx).ok
    twice = dispatch(f"swap request {SPAN} dentist again", ctx)
    assert not twice.ok and "you already asked for cover of that time (swap request 1)" in (
        twice.text
    )

    later = example_team_context(sqlite_db, AMIRA, _SHIFT.start + timedelta(minutes=1))
    expired = dispatch("swap cancel 1", later)
    assert not expired.ok and "expired when its window began" in expired.text
    assert expired.posts == [] and _audit(sqlite_db, "swap.cancel") == []


def test_the_cancel_button_counts_only_for_the_requester(sqlite_db: Database) -> None:
    ctx = example_team_context(sqlite_db, AMIRA, NOW)
    posted = dispatch(f"swap request {SPAN}", ctx)
    buttons = {e["action_id"]: e["value"] for e in posted.posts[0].blocks[-1]["elements"]}

    refused = dispatch_action("swap_cancel", buttons["swap_cancel"], _as(ctx, LUKAS))
    assert not refused.ok and "who asked" in refused.text
    pressed = dispatch_action("swap_cancel", buttons["swap_cancel"], ctx)
    assert pressed.ok and "withdrew their swap request" in pressed.text


def test_a_request_expires_when_its_window_begins(sqlite_db: Database) -> None:
    ctx = example_team_context(sqlite_db, AMIRA, NOW)
    posted = dispatch(f"swap request {SPAN}", ctx)
    value = posted.posts[0].blocks[-1]["elements"][0]["value"]
    later = replace(_as(ctx, ELENA), clock=lambda: WINDOW[0] + timedelta(minutes=1))

    expired = dispatch_action("swap_take", value, later)

    assert not expired.ok and "has expired: its window has begun" in expired.text
    assert _audit(sqlite_db, "swap.take") == []
    begun = dispatch(f"swap request {iso(NOW - timedelta(hours=1))} to {iso(WINDOW[1])}", ctx)
    assert not begun.ok and "already begun" in begun.text


def test_a_request_from_now_stays_open_and_the_taker_covers_from_the_take_on(
    sqlite_db: Database,
) -> None:
    """Someone on shift who must leave asks from "now": the request does not expire at once,
    and whoever takes it half an hour later covers what is left, not the half hour gone."""
    ctx = example_team_context(sqlite_db, LUKAS, NOW)
    on_emea = {s.rotation: s.member for s in compile_rota(example_rota()).on_call(NOW)}
    assert on_emea["emea"] == LUKAS

    posted = dispatch("swap request now 8h my kid's school play", ctx)

    assert posted.ok, posted.text
    assert "stays open until" in posted.text
    with sqlite_db.transaction() as session:
        (row,) = session.exec(select(swaps.SwapRequest)).all()
    assert (row.start, row.end) == (NOW, NOW + timedelta(hours=8))
    value = posted.posts[0].blocks[-1]["elements"][0]["value"]
    taken_at = NOW + timedelta(minutes=30)
    taken = dispatch_action("swap_take", value, replace(_as(ctx, ELENA), clock=lambda: taken_at))

    assert taken.ok, taken.text
    after = compile_rota(_spec(ctx))
    emea = {
        t: {s.member for s in after.on_call(t) if s.rotation == "emea"}
        for t in (NOW + timedelta(minutes=10), taken_at, NOW + timedelta(hours=4))
    }
    assert emea == {
        NOW + timedelta(minutes=10): {LUKAS},
        taken_at: {ELENA},
        NOW + timedelta(hours=4): {ELENA},
    }
    # "now to in 1h" reads the same way; at 21:00 Berlin time Lukas holds no emea shift.
    evening = replace(ctx, clock=lambda: NOW + timedelta(hours=9))
    over = dispatch("swap request now to in 1h", evening)
    assert not over.ok and "no rotation shift in that window" in over.text
