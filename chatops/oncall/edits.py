"""Rota edits as a service: plan an edit against the stored rota, then apply it atomically.

An edit travels as a `Proposal` (plain JSON, small enough for a Slack button's value), so the
preview needs no pending-state table: Confirm re-plans the same proposal against the rota as it
is then, refuses when the rota changed since the preview (`base` digest), re-checks coverage, and
saves the new rota together with its audit event in one transaction (invariants 2 and 7).
Permissions are checked here, not only in the command layer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chatops import audit
from chatops.db import Database
from chatops.errors import Refused
from chatops.team import Actor
from rota import edits
from rota.coverage import describe_gap
from rota.edits import EditError, EditImpact
from rota.resolve import compile_rota
from rota.spec import MemberSpec, RotaSpec
from rota.store import save_rota, team_rota
from rota.timefmt import fmt_local

KINDS = ("override", "swap", "add", "remove", "set-handoff")


@dataclass(frozen=True)
class Proposal:
    """One rota edit as asked: `kind` and its `params` (JSON-able), on top of rota `base`."""

    kind: str
    params: dict[str, Any]
    author: str
    base: str = ""
    force: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Proposal:
        data = json.loads(text)
        return cls(
            kind=str(data["kind"]),
            params=dict(data["params"]),
            author=str(data["author"]),
            base=str(data.get("base", "")),
            force=bool(data.get("force", False)),
        )


@dataclass(frozen=True)
class Plan:
    old: RotaSpec
    new: RotaSpec
    impact: EditImpact
    start: datetime
    end: datetime
    proposal: Proposal = field(repr=False)

    @property
    def gap_report(self) -> str:
        compiled = compile_rota(self.new)
        return "\n".join(describe_gap(compiled, gap) for gap in self.impact.new_gaps[:5])


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _apply(spec: RotaSpec, p: Proposal) -> RotaSpec:
    a = p.params
    match p.kind:
        case "override":
            return edits.add_override(
                spec,
                member=a["member"],
                start=_instant(a["start"]),
                end=_instant(a["end"]),
                rotation=a.get("rotation"),
                reason=a.get("reason", ""),
                author=p.author,
            )
        case "swap":
            return edits.swap(
                spec,
                first=a["first"],
                second=a["second"],
                start=_instant(a["start"]),
                end=_instant(a["end"]),
                reason=a.get("reason", ""),
                author=p.author,
            )
        case "add":
            new = MemberSpec.model_validate(a["new_member"]) if a.get("new_member") else None
            return edits.add_participant(
                spec, rotation=a["rotation"], member=a["member"], new_member=new
            )
        case "remove":
            return edits.remove_participant(spec, rotation=a["rotation"], member=a["member"])
        case "set-handoff":
            return edits.set_handoff(spec, rotation=a["rotation"], cron=a["cron"])
    raise Refused(f"unknown rota edit '{p.kind}'")


def require_manager(actor: Actor, contact: str) -> None:
    if not actor.is_manager:
        raise Refused(f"only managers can edit the rota; ask {contact}")


def _plan(spec: RotaSpec, proposal: Proposal, now: datetime, horizon_days: int) -> Plan:
    try:
        new = _apply(spec, proposal)
    except EditError as error:
        raise Refused(str(error)) from None
    end = now + timedelta(days=horizon_days)
    return Plan(spec, new, edits.impact(spec, new, now, end), now, end, proposal)


#: How far in the past a time-bound edit may start (a "now" typed a moment ago, then confirmed).
PAST_GRACE = timedelta(minutes=5)


def _refuse_past(proposal: Proposal, actor: Actor, now: datetime) -> None:
    """An override or swap cannot start in the past: what was on call then already happened."""
    start = proposal.params.get("start")
    if proposal.kind in {"override", "swap"} and start and _instant(start) < now - PAST_GRACE:
        raise Refused(
            f"that {proposal.kind} starts at {fmt_local(_instant(start), actor.tz)}, which is "
            "in the past; start it now or later"
        )


def _check(plan: Plan, actor: Actor, horizon_days: int) -> None:
    # `force` only matters when the edit leaves a gap: without one it is simply applied.
    if plan.impact.new_gaps and plan.proposal.force and not actor.is_admin:
        raise Refused("only admins can force a rota edit that leaves a gap")
    if plan.impact.new_gaps and not (plan.proposal.force and actor.is_admin):
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
    db: Database,
    *,
    team_id: int,
    proposal: Proposal,
    actor: Actor,
    now: datetime,
    horizon_days: int,
    contact: str,
) -> Plan:
    """Plan an edit without changing anything; refuses edits that would open a gap."""
    require_manager(actor, contact)
    _refuse_past(proposal, actor, now)
    with db.transaction() as session:
        _team, spec = team_rota(session, team_id)
    proposal = Proposal(
        proposal.kind, proposal.params, proposal.author, edits.digest(spec), proposal.force
    )
    plan = _plan(spec, proposal, now, horizon_days)
    _check(plan, actor, horizon_days)
    return plan


def apply(
    db: Database,
    *,
    team_id: int,
    proposal: Proposal,
    actor: Actor,
    now: datetime,
    horizon_days: int,
    contact: str,
    on_saved: Callable[[Plan], None] | None = None,
) -> Plan:
    """Apply a previewed edit if the rota is unchanged since, and audit it in one transaction."""
    require_manager(actor, contact)
    _refuse_past(proposal, actor, now)
    with db.transaction() as session:
        team, spec = team_rota(session, team_id, lock=True)
        if proposal.base and proposal.base != edits.digest(spec):
            raise Refused("the rota changed since this preview; run the command again")
        plan = _plan(spec, proposal, now, horizon_days)
        _check(plan, actor, horizon_days)
        save_rota(session, plan.new)
        audit.record(
            session,
            at=now,
            actor=actor.slack_id,
            action=f"rota.{proposal.kind}",
            subject=f"team:{team.name}",
            team_id=team.id,
            detail={
                "params": proposal.params,
                "forced": bool(plan.impact.new_gaps),
                "gaps": len(plan.impact.new_gaps),
                "shifts_removed": len(plan.impact.removed),
                "shifts_added": len(plan.impact.added),
            },
        )
        if on_saved is not None:
            on_saved(plan)
    return plan
