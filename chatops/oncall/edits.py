"""Rota edits as a service: preview an edit against the stored rota, then apply it atomically.

A preview stores the edit as a `RotaProposal` row (author, the digest of the rota it was
computed on, an expiry) and the Confirm button carries only the row's id: nothing a client
sends back is trusted. Confirm is accepted once, from the author (or an admin), before expiry and
while the rota is unchanged since the preview; it re-plans the stored edit, re-checks coverage,
and saves the new rota with its audit event in one transaction (docs/architecture.md, invariants 2
and 7).
Permissions are checked here, not only in the command layer: only managers edit, only admins
force a gap, and only admins grant or revoke the admin role.

The kinds of edit are listed once, in `chatops.oncall.edit_kinds.Edit`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col

from chatops import audit
from chatops.errors import Refused
from chatops.oncall.edit_kinds import AddEdit, Edit, OverrideEdit, RemoveEdit, SwapEdit, stored_edit
from chatops.oncall.proposals import PROPOSAL_TTL, RotaProposal
from chatops.team import Actor
from rota import edits
from rota.coverage import describe_gap
from rota.edits import EditError, EditImpact
from rota.resolve import Shift, compile_rota
from rota.spec import Role, RotaSpec
from rota.store import save_rota, team_rota
from rota.timefmt import fmt_local


@dataclass(frozen=True)
class Plan:
    """An edit worked out against a rota: the new rota and what changes in the horizon."""

    old: RotaSpec
    new: RotaSpec
    impact: EditImpact
    start: datetime
    end: datetime
    kind: str
    force: bool = False
    proposal: str | None = None  # the stored proposal's id, once previewed
    # A membership edit: where its new order takes over (shifts before it are unchanged).
    effective: datetime | None = None
    rotation: str | None = None

    @property
    def kept(self) -> list[Shift]:
        """A removed member's shifts before `effective`: still theirs, so still covered."""
        if self.kind != "remove" or self.effective is None:
            return []
        gone = {p for r in self.old.rotations if r.name == self.rotation for p in r.participants}
        gone -= {p for r in self.new.rotations if r.name == self.rotation for p in r.participants}
        return [
            s
            for s in compile_rota(self.new).shifts(self.start, self.effective)
            if s.rotation == self.rotation and s.member in gone and s.source == "rotation"
        ]

    @property
    def gap_report(self) -> str:
        compiled = compile_rota(self.new)
        return "\n".join(describe_gap(compiled, gap) for gap in self.impact.new_gaps[:5])


def require_manager(actor: Actor, contact: str) -> None:
    if not actor.is_manager:
        raise Refused(f"only managers can edit the rota; ask {contact}")


def _plan(
    spec: RotaSpec, edit: Edit, *, author: str, force: bool, now: datetime, horizon_days: int
) -> Plan:
    try:
        new = edit.apply(spec, author, now)
    except EditError as error:
        raise Refused(str(error)) from None
    except (KeyError, TypeError, ValueError, OverflowError):
        # A proposal arrives back as a button's value, which anyone can forge: junk is refused.
        raise Refused("this rota change is not one I can read; run the command again") from None
    end = now + timedelta(days=horizon_days)
    effective = rotation = None
    if isinstance(edit, AddEdit | RemoveEdit):
        # The preview shows at least one whole cycle of the new order, however far it starts.
        rotation = edit.rotation
        effective = edits.order_change(spec, rotation=rotation, now=now).at
        end = max(end, edits.first_cycle_end(new, rotation=rotation, at=effective))
    impact = edits.impact(spec, new, now, end)
    return Plan(spec, new, impact, now, end, edit.kind, force, None, effective, rotation)


def admin_changes(old: RotaSpec, new: RotaSpec) -> list[str]:
    """Members who gain or lose the admin role (joining as admin, or leaving as one)."""
    before = {m.id: m.role for m in old.members}
    after = {m.id: m.role for m in new.members}
    return sorted(
        m
        for m in before.keys() | after.keys()
        if (before.get(m) == Role.admin) != (after.get(m) == Role.admin)
    )


#: How far in the past a time-bound edit may start (a "now" typed a moment ago, then confirmed).
PAST_GRACE = timedelta(minutes=5)


def _refuse_past(edit: Edit, actor: Actor, now: datetime) -> None:
    """An override or swap cannot start in the past: what was on call then already happened."""
    if isinstance(edit, OverrideEdit | SwapEdit) and edit.start < now - PAST_GRACE:
        raise Refused(
            f"that {edit.kind} starts at {fmt_local(edit.start, actor.tz)}, which is "
            "in the past; start it now or later"
        )


def _check(plan: Plan, actor: Actor, horizon_days: int) -> None:
    changed = admin_changes(plan.old, plan.new)
    if changed and not actor.is_admin:
        who = ", ".join(f"<@{m}>" for m in changed)
        raise Refused(f"only admins can grant or revoke the admin role ({who})")
    # `force` only matters when the edit leaves a gap: without one it is simply applied.
    if plan.impact.new_gaps and plan.force and not actor.is_admin:
        raise Refused("only admins can force a rota edit that leaves a gap")
    if plan.impact.new_gaps and not (plan.force and actor.is_admin):
        count = len(plan.impact.new_gaps)
        hint = (
            " An admin can force it by adding `force`."
            if not actor.is_admin
            else (" Add `force` to do it anyway (audited).")
        )
        raise Refused(
            f"refused: this change would leave {count} uncovered interval(s) in the next "
            f"{horizon_days} days:\n{plan.gap_report}\n{hint.strip()}"
        )


def preview(
    session: Session,
    *,
    team_id: int,
    edit: Edit,
    force: bool,
    actor: Actor,
    now: datetime,
    horizon_days: int,
    contact: str,
) -> Plan:
    """Plan an edit and store it as a proposal for Confirm, in the caller's transaction;
    refuses edits that open a gap."""
    require_manager(actor, contact)
    _refuse_past(edit, actor, now)
    team, spec = team_rota(session, team_id)
    edit = edit.pinned(spec, now)
    plan = _plan(spec, edit, author=actor.slack_id, force=force, now=now, horizon_days=horizon_days)
    _check(plan, actor, horizon_days)
    proposal = RotaProposal(
        id=secrets.token_urlsafe(18),
        team_id=team_id,
        author=actor.slack_id,
        base=edits.digest(spec),
        kind=edit.kind,
        edit=edit.model_dump_json(),
        force=force,
        created_at=now,
        expires_at=now + PROPOSAL_TTL,
    )
    session.add(proposal)
    audit.record(
        session,
        at=now,
        actor=actor.slack_id,
        action="proposal.create",
        subject=f"team:{team.name}",
        team_id=team_id,
        detail={"proposal": proposal.id, "kind": edit.kind, "force": force},
    )
    return replace(plan, force=force, proposal=proposal.id)


STALE = "this preview can no longer be confirmed ({why}); run the command again"


def _usable(
    session: Session,
    *,
    team_id: int,
    proposal_id: str,
    actor: Actor,
    now: datetime,
    confirming: bool = True,
) -> RotaProposal:
    """The stored proposal, if `actor` may still confirm (or cancel) it; otherwise Refused."""
    proposal = session.get(RotaProposal, proposal_id, with_for_update=True)
    if proposal is None or proposal.team_id != team_id:
        raise Refused(STALE.format(why="there is no such preview"))
    if proposal.author != actor.slack_id and not actor.is_admin:
        raise Refused(
            f"only <@{proposal.author}>, who asked for this change, or an admin "
            "can confirm or cancel it"
        )
    if proposal.used_at is not None:
        raise Refused(STALE.format(why=f"it was already {proposal.outcome or 'used'}"))
    if confirming:  # a start that passed says more than an expired preview: say it first
        _refuse_past(stored_edit(proposal.edit), actor, now)
    if now >= proposal.expires_at:
        minutes = int(PROPOSAL_TTL.total_seconds() // 60)
        raise Refused(STALE.format(why=f"previews expire after {minutes} minutes"))
    return proposal


def _use(
    session: Session, proposal: RotaProposal, actor: Actor, now: datetime, outcome: str
) -> None:
    """Mark the proposal used, once: a second Confirm racing this one matches no row."""
    result = session.connection().execute(
        update(RotaProposal)
        .where(col(RotaProposal.id) == proposal.id, col(RotaProposal.used_at).is_(None))
        .values(used_at=now, used_by=actor.slack_id, outcome=outcome)
    )
    if result.rowcount != 1:
        raise Refused(STALE.format(why="it was already used"))


def apply(
    session: Session,
    *,
    team_id: int,
    proposal_id: str,
    actor: Actor,
    now: datetime,
    horizon_days: int,
    contact: str,
    on_saved: Callable[[Plan], None] | None = None,
) -> Plan:
    """Apply a stored proposal if it is still good, and audit it, in the caller's transaction."""
    require_manager(actor, contact)
    proposal = _usable(session, team_id=team_id, proposal_id=proposal_id, actor=actor, now=now)
    team, spec = team_rota(session, team_id, lock=True)
    if proposal.base != edits.digest(spec):
        raise Refused("the rota changed since this preview; run the command again")
    edit = stored_edit(proposal.edit)  # written by `preview`, never by a client
    plan = _plan(
        spec,
        edit,
        author=proposal.author,
        force=proposal.force,
        now=now,
        horizon_days=horizon_days,
    )
    _check(plan, actor, horizon_days)
    _use(session, proposal, actor, now, "applied")
    save_rota(session, plan.new)
    audit.record(
        session,
        at=now,
        actor=actor.slack_id,
        action=f"rota.{edit.kind}",
        subject=f"team:{team.name}",
        team_id=team.id,
        detail={
            "params": edit.model_dump(mode="json", exclude={"kind"}),
            "forced": bool(plan.impact.new_gaps),
            "gaps": len(plan.impact.new_gaps),
            "shifts_removed": len(plan.impact.removed),
            "shifts_added": len(plan.impact.added),
        },
    )
    if on_saved is not None:
        on_saved(plan)
    return plan


def cancel(
    session: Session, *, team_id: int, proposal_id: str, actor: Actor, now: datetime
) -> None:
    """Withdraw a proposal so that no later Confirm can apply it (audited)."""
    proposal = _usable(
        session,
        team_id=team_id,
        proposal_id=proposal_id,
        actor=actor,
        now=now,
        confirming=False,
    )
    _use(session, proposal, actor, now, "cancelled")
    audit.record(
        session,
        at=now,
        actor=actor.slack_id,
        action="proposal.cancel",
        subject=f"proposal:{proposal.id}",
        team_id=team_id,
        detail={"kind": proposal.kind},
    )
