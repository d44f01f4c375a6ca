"""One handoff's life with an injected clock: reminder, post, accept, escalation, restarts, edits.

Ann and Ben swap the primary pager daily at 09:00 UTC; on 2027-03-20 Ann goes off and Ben
comes on. Cat is the manager.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from chatops.audit import AuditEvent
from chatops.cases import opening
from chatops.db import Database
from chatops.handoff.messages import ACCEPT_ACTION
from chatops.handoff.models import MessageKind
from chatops.handoff.service import HandoffSettings, fire_due, plan_all
from chatops.oncall.models import HandoffState
from chatops.oncall.now import holdovers
from chatops.outbox import claims as outbox
from chatops.outbox.models import OutboxState
from chatops.outbox.notifier import ConsoleNotifier
from chatops.outbox.settle import settle_sent
from commands.registry import dispatch, dispatch_action
from rota.spec import OverrideSpec
from tests.support.handoff_world import ANN, BEN, CAT, CHANNEL, EVE, World, daily_team, make_world

BOUNDARY = datetime(2027, 3, 20, 9, 0, tzinfo=UTC)


def _world(db: Database, now: datetime = BOUNDARY - timedelta(hours=1), **kw: object) -> World:
    return make_world(db, daily_team(), now, **kw)


def _at(world: World, when: datetime) -> None:
    world.advance_to(when)
    world.tick()


def _held(world: World) -> list[str]:
    with world.db.transaction() as session:
        return [h.slack_id for h in holdovers(session, team_id=world.team_id, at=world.clock())]


def test_reminder_then_post_then_accept_stops_the_escalation(db: Database) -> None:
    world = _world(db)
    _at(world, BOUNDARY - timedelta(minutes=15, seconds=1))
    assert world.log == []
    _at(world, BOUNDARY - timedelta(minutes=15))
    assert [s.channel for s in world.dms()] == [BEN]
    assert "You take over *primary* at 2027-03-20 05:00 EDT (UTC-04:00)" in world.dms()[0].text
    _at(world, BOUNDARY - timedelta(seconds=1))
    assert world.posts() == []
    _at(world, BOUNDARY)
    [post] = world.posts()
    assert post.channel == CHANNEL
    assert f"*Going off:* <@{ANN}> at 2027-03-20 10:00 CET (UTC+01:00)" in post.text
    assert f"*Coming on:* <@{BEN}> at 2027-03-20 05:00 EDT (UTC-04:00)" in post.text
    assert _held(world) == [ANN]  # Ann stays on call until Ben accepts

    _at(world, BOUNDARY + timedelta(minutes=3))
    reply = dispatch("handoff accept", world.context(BEN))
    assert reply.ok, reply.text
    assert "You take over *primary* from <@U0ANN>" in reply.text
    assert [p.text for p in reply.posts] == [
        f":white_check_mark: <@{BEN}> accepted the *primary* handoff from <@{ANN}>."
    ]
    assert _held(world) == []
    _at(world, BOUNDARY + timedelta(hours=1))
    assert len(world.dms()) == 1 and len(world.posts()) == 1  # no escalation
    [h] = [h for h in world.handoffs() if h.at == BOUNDARY]
    assert (h.state, h.accepted_by, h.escalated_at) == ("accepted", BEN, None)


def test_nobody_accepts_pages_outgoing_and_managers_once_then_a_late_accept(db: Database) -> None:
    world = _world(db)
    world.run_until(BOUNDARY)
    _at(world, BOUNDARY + timedelta(minutes=10) - timedelta(seconds=1))
    assert [s.channel for s in world.dms()] == [BEN]  # only the reminder so far
    _at(world, BOUNDARY + timedelta(minutes=10))
    paged = [s for s in world.dms() if "not accepted" in s.text]
    assert [s.channel for s in paged] == [ANN, CAT]
    assert "You stay on call until they do" in paged[0].text
    assert f"Still on call: <@{ANN}>" in paged[1].text
    _at(world, BOUNDARY + timedelta(minutes=40))
    assert len([s for s in world.dms() if "not accepted" in s.text]) == 2  # once only
    assert _held(world) == [ANN]

    [h] = [h for h in world.handoffs() if h.at == BOUNDARY]
    assert h.state == HandoffState.escalated.value
    refused = dispatch_action(ACCEPT_ACTION, str(h.id), world.context(EVE))
    assert not refused.ok and "<@U0BEN>'s to accept" in refused.text
    reply = dispatch_action(ACCEPT_ACTION, str(h.id), world.context(BEN))
    assert reply.ok, reply.text
    assert "(after the deadline)" in reply.posts[0].text
    assert _held(world) == []
    with db.transaction() as session:
        event = session.exec(
            select(AuditEvent).where(AuditEvent.action == "handoff.accepted")
        ).one()
    assert json.loads(event.detail)["late"] is True
    again = dispatch("handoff accept", world.context(BEN))
    assert not again.ok


def test_worker_killed_after_posting_does_not_post_again(db: Database) -> None:
    world = _world(db)
    _at(world, BOUNDARY)
    assert len(world.posts()) == 1
    # A new process: another worker id, a fresh notifier, the same database.
    restarted = World(db=db, team_id=world.team_id, clock=world.clock, worker_id="w2")
    for minutes in (0, 1, 2, 5):
        _at(restarted, BOUNDARY + timedelta(minutes=minutes))
    assert restarted.posts() == []


def test_worker_killed_between_the_step_and_the_send_sends_once(db: Database) -> None:
    world = _world(db, now=BOUNDARY)
    # The first process commits the handoff step (the post is queued) and dies before sending.
    plan_all(db, now=BOUNDARY, settings=HandoffSettings())
    assert fire_due(db, now=BOUNDARY, worker_id="dead", limit=100) == 1
    assert world.log == []
    _at(world, BOUNDARY + timedelta(seconds=30))
    assert len(world.posts()) == 1
    _at(world, BOUNDARY + timedelta(minutes=5))
    assert len(world.posts()) == 1


def test_a_claim_lost_mid_send_is_retried_after_its_lease(db: Database) -> None:
    world = _world(db, now=BOUNDARY)
    plan_all(db, now=BOUNDARY, settings=HandoffSettings())
    fire_due(db, now=BOUNDARY, worker_id="dead", limit=100)
    claims = outbox.claim(db, now=BOUNDARY, worker_id="dead", limit=10)
    assert [c.kind for c in claims] == [MessageKind.post.value]
    _at(world, BOUNDARY + outbox.LEASE - timedelta(seconds=1))
    assert world.posts() == []  # still leased to the dead worker
    _at(world, BOUNDARY + outbox.LEASE)
    assert len(world.posts()) == 1
    with db.engine.connect() as connection:
        assert not settle_sent(
            connection, claim=claims[0], worker_id="dead", at=world.clock(), message_ts="late"
        )


def test_slack_failure_is_retried_and_posted_once_on_ok(db: Database) -> None:
    class Flaky(ConsoleNotifier):
        failures = 2

        def send(
            self,
            *,
            channel: str,
            text: str,
            blocks: list[dict[str, object]],
            outbox_id: int | None = None,
        ):  # type: ignore[no-untyped-def,override]
            if self.failures:
                self.failures -= 1
                from chatops.outbox.notifier import Outcome

                return Outcome(ok=False, error="internal_error")
            return super().send(channel=channel, text=text, blocks=blocks)

    world = _world(db, now=BOUNDARY, notifier=Flaky())
    world.tick()
    assert world.posts() == []
    world.run_until(BOUNDARY + timedelta(minutes=1))
    assert len(world.posts()) == 1
    post = next(m for m in world.messages() if m.kind == MessageKind.post.value)
    assert (post.state, post.attempts) == (OutboxState.sent.value, 3)


def test_the_post_carries_open_cases_notes_and_the_next_handoff(db: Database) -> None:
    world = _world(db)
    ann = world.actor(ANN)
    with db.transaction() as session:
        for kind, summary in (("child-safety", "SECRET-DETAIL"), ("harassment", "doxxing thread")):
            opening.open_case(
                session,
                team_id=world.team_id,
                actor=ann,
                at=world.clock(),
                case_type=kind,
                severity="sev2",
                summary=summary,
            )
    reply = dispatch("handoff note TS-2027-0001 waits for the police callback", world.context(ANN))
    assert reply.ok and "your *primary* handoff at 2027-03-20 10:00 CET" in reply.text
    _at(world, BOUNDARY)
    [post] = world.posts()
    everything = post.text + json.dumps(post.blocks, ensure_ascii=False)
    assert "SECRET-DETAIL" not in everything
    assert "TS-2027-0001 · child-safety · sev2 _(restricted)_" in everything
    assert "TS-2027-0002 · harassment · sev2 — open: doxxing thread" in everything
    assert f"<@{ANN}>: TS-2027-0001 waits for the police callback" in everything
    assert "Next handoff: primary at 2027-03-21 09:00 UTC (2027-03-21 05:00 EDT" in everything
    assert ACCEPT_ACTION in everything
    _at(world, BOUNDARY + timedelta(days=1))
    later = world.posts()[-1]
    assert "police callback" not in json.dumps(
        later.blocks, ensure_ascii=False
    )  # a note goes with one handoff


def test_outgoing_posts_early_and_the_boundary_does_not_post_twice(db: Database) -> None:
    world = _world(db)
    _at(world, BOUNDARY - timedelta(minutes=30))
    refused = dispatch("handoff", world.context(BEN))
    assert not refused.ok and "not on call" in refused.text
    reply = dispatch("handoff", world.context(ANN))
    assert reply.ok, reply.text
    world.tick()
    assert len(world.posts()) == 1
    _at(world, BOUNDARY - timedelta(minutes=20))
    assert dispatch("handoff accept", world.context(BEN)).ok
    world.run_until(BOUNDARY + timedelta(hours=1))
    assert len(world.posts()) == 1
    assert [s.channel for s in world.dms()] == []  # accepted early: no reminder left, no page


def test_a_rota_edit_moves_the_boundary_and_undoing_it_brings_it_back(db: Database) -> None:
    world = _world(db)
    _at(world, BOUNDARY - timedelta(minutes=15))
    assert len(world.dms()) == 1
    cover = OverrideSpec(
        member=ANN, rotation="primary", start=BOUNDARY, end=BOUNDARY + timedelta(hours=6)
    )
    world.save(daily_team(overrides=[cover]))
    _at(world, BOUNDARY)
    assert world.posts() == []
    [h] = [h for h in world.handoffs() if h.at == BOUNDARY]
    assert h.state == HandoffState.moved.value
    _at(world, BOUNDARY + timedelta(minutes=30))
    assert world.posts() == []
    world.save(daily_team())  # undone: 09:00 exists again, and is within the catch-up
    world.tick()
    assert [h.state for h in world.handoffs() if h.at == BOUNDARY] == ["awaiting"]
    assert "2027-03-20 09:00 UTC" in world.posts()[-1].text
    assert "posted late" in world.posts()[-1].text


def test_boundaries_missed_while_down_post_late_or_are_superseded(db: Database) -> None:
    world = _world(db, settings=HandoffSettings(catch_up=timedelta(days=1, hours=1)))
    world.advance_to(BOUNDARY + timedelta(days=1, minutes=30))  # down over two boundaries
    world.tick()
    posts = world.posts()
    assert len(posts) == 1 and "2027-03-21 09:00 UTC" in posts[0].text
    assert "posted late" in posts[0].text
    states = {h.at: h.state for h in world.handoffs() if h.rotation == "primary"}
    assert states[BOUNDARY] == HandoffState.superseded.value
    assert [s.channel for s in world.dms()] == []  # no reminder after the boundary passed


def test_an_unaccepted_handoff_lapses_when_the_next_is_posted(db: Database) -> None:
    world = _world(db)
    world.run_until(BOUNDARY + timedelta(days=1))
    assert _held(world) == [BEN]  # Ben → Ann on the 21st awaits; the 20th (escalated) lapsed
    with db.transaction() as session:
        from chatops.oncall.models import Handoff

        rows = session.exec(select(Handoff).order_by(col(Handoff.at))).all()
    assert [r.state for r in rows if r.rotation == "primary"] == ["lapsed", "awaiting"]


def test_note_from_someone_off_call_goes_with_the_teams_next_handoff(db: Database) -> None:
    world = _world(db)
    reply = dispatch("handoff note watch the election pages", world.context(CAT))
    assert reply.ok and "the team's next handoff" in reply.text
    _at(world, BOUNDARY)
    assert f"<@{CAT}>: watch the election pages" in json.dumps(
        world.posts()[0].blocks, ensure_ascii=False
    )
    assert not dispatch("handoff note", world.context(CAT)).ok
    assert not dispatch("handoff frobnicate", world.context(CAT)).ok
    assert not dispatch("handoff accept", world.context(CAT)).ok


def test_a_case_opened_before_the_incoming_accepts_pages_both(db: Database) -> None:
    from chatops.escalation.pages import pages_of

    world = _world(db)
    _at(world, BOUNDARY + timedelta(minutes=2))
    assert _held(world) == [ANN]
    with world.db.transaction() as session:
        case, _paging = opening.open_case(
            session,
            team_id=world.team_id,
            actor=world.actor(CAT),
            at=world.clock(),
            case_type="harassment",
            severity="sev2",
            summary="threats in a talk page thread",
        )
        assert case.id is not None
        paged = {p.recipient for p in pages_of(session, case_id=case.id) if p.kind == "dm"}
    assert {ANN, BEN} <= paged  # the incoming, and the outgoing who still holds the pager

    reply = dispatch("handoff accept", world.context(BEN))
    assert reply.ok, reply.text
    with world.db.transaction() as session:
        later, _ = opening.open_case(
            session,
            team_id=world.team_id,
            actor=world.actor(CAT),
            at=world.clock(),
            case_type="harassment",
            severity="sev2",
            summary="another one",
        )
        assert later.id is not None
        paged_later = {p.recipient for p in pages_of(session, case_id=later.id) if p.kind == "dm"}
    assert BEN in paged_later and ANN not in paged_later


def test_a_handoff_message_retry_is_audited_like_a_page_retry(db: Database) -> None:
    class FailsOnce(ConsoleNotifier):
        failed = False

        def send(
            self,
            *,
            channel: str,
            text: str,
            blocks: list[dict[str, object]],
            outbox_id: int | None = None,
        ):  # type: ignore[no-untyped-def,override]
            from chatops.outbox.notifier import Outcome

            if not self.failed:
                self.failed = True
                return Outcome(ok=False, error="internal_error")
            return super().send(channel=channel, text=text, blocks=blocks)

    world = _world(db, now=BOUNDARY, notifier=FailsOnce())
    world.tick()
    post = next(m for m in world.messages() if m.kind == MessageKind.post.value)
    assert (post.state, post.last_error) == (OutboxState.pending.value, "internal_error")
    with db.transaction() as session:
        retries = list(
            session.exec(select(AuditEvent).where(AuditEvent.action == "handoff.message_retry"))
        )
    [retry] = retries
    assert (retry.subject, retry.actor, retry.team_id) == (
        f"handoff_message:{post.id}",
        "system",
        world.team_id,
    )
    assert json.loads(retry.detail) == {
        "attempt": 1,
        "error": "internal_error",
        "handoff_id": post.handoff_id,
        "kind": MessageKind.post.value,
        "retry_at": str(BOUNDARY + timedelta(seconds=5)),
    }
    world.run_until(BOUNDARY + timedelta(minutes=1))
    assert len(world.posts()) == 1
    with db.transaction() as session:
        actions = [e.action for e in session.exec(select(AuditEvent).order_by(col(AuditEvent.id)))]
    assert actions.count("handoff.message_retry") == 1
    assert actions.count("handoff.message_sent") == 1
