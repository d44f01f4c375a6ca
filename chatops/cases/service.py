"""A case's life after it opens: `/ts ack`, `/ts escalate`, take, assign, note, resolve, edit.

Opening is in `opening.py`, reading in `queries.py`. Each function checks permissions itself
(not only the Slack layer), changes the case, and writes the audit event in the same
transaction (docs/architecture.md, invariant 7). Refusals raise `Refused` before anything is
written, so bad input changes nothing. Restricted text (summary, details, notes,
reasons) goes into case rows only: never into audit details or logs (docs/architecture.md,
invariant 6).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from chatops.blockkit import blank, mention, user_text
from chatops.cases import access, exposure, ladder, legal, timers, wellbeing
from chatops.cases.lookup import (
    audit_case,
    member_and_case,
    parse_severity,
    parse_type,
)
from chatops.cases.models import (
    RESTRICTED_BY_DEFAULT,
    Case,
    CaseEvent,
    CaseStatus,
    CaseType,
)
from chatops.cases.timeline import add_event
from chatops.db import as_utc
from chatops.errors import Refused
from chatops.escalation.pages import cancel_held_pages, cancel_pending_pages
from chatops.escalation.policy import ADMINS_LEVEL
from chatops.escalation.store import policy_for_case
from chatops.team import Actor, member_of


def acknowledge(
    session: Session, *, team_id: int, actor: Actor | None, key: str, at: datetime
) -> Case:
    """Stop the ladder: the case is taken. The acknowledger becomes the assignee if none."""
    _, who, case = member_and_case(session, team_id, actor, key)
    access.require_access(session, case=case, actor=who, at=at, action="acknowledge")
    if case.status == CaseStatus.resolved:
        raise Refused(f"{case.key} is resolved; there is nothing to acknowledge")
    if case.status == CaseStatus.acknowledged:
        raise Refused(f"{case.key} was already acknowledged by <@{case.acknowledged_by}>")
    assert case.id is not None
    case.status = CaseStatus.acknowledged.value
    case.acknowledged_at, case.acknowledged_by = at, who.slack_id
    case.assignee = case.assignee or who.slack_id
    cancelled = timers.cancel(session, case_id=case.id)
    held = cancel_held_pages(session, case_id=case.id)
    add_event(session, case=case, at=at, actor=who.slack_id, kind="acknowledged")
    exposure.holds(session, case=case, member=case.assignee, at=at)
    audit_case(
        session,
        case,
        who=who,
        at=at,
        action="case.acknowledge",
        detail={"timers_cancelled": cancelled, "assignee": case.assignee, "held_cancelled": held},
    )
    return case


def escalate(
    session: Session,
    *,
    team_id: int,
    actor: Actor | None,
    key: str,
    at: datetime,
    to_level: str | None = None,
    to_member: str | None = None,
    reason: str = "",
) -> tuple[Case, ladder.Paging]:
    """Page the next level, a named level ("2", "admins") or one member, with a reason.

    The case is open again until someone acknowledges, and the ladder's timer restarts. On a
    restricted case only those with access may escalate, so a member paged directly is given
    access by someone who had it (never by themselves).
    """
    team, who, case = member_and_case(session, team_id, actor, key)
    access.require_access(session, case=case, actor=who, at=at, action="escalate")
    if case.status == CaseStatus.resolved:
        raise Refused(f"{case.key} is resolved; open a new case instead of escalating")
    assert case.id is not None
    steps = ladder.steps_of(case)
    if to_member is not None:
        if member_of(session, team, to_member) is None:
            raise Refused(
                f"{mention(to_member)} is not a member of the {user_text(team.name)} team"
            )
        target = None
    elif to_level is not None:
        target = _level_step(case, to_level)
    else:
        if case.step + 1 >= len(steps):
            raise Refused(f"{case.key} is already at the last level ({ADMINS_LEVEL})")
        target = case.step + 1
    detail = {"to_member": to_member, "to_step": target, "from_step": case.step}
    case.status = CaseStatus.open.value
    _works_on(session, case, who, at)
    add_event(
        session, case=case, at=at, actor=who.slack_id, kind="escalated", text=reason, **detail
    )
    audit_case(
        session,
        case,
        who=who,
        at=at,
        action="case.escalate",
        detail={**detail, "with_reason": bool(reason)},
    )
    # The reason is typed text: on a restricted case it stays in the timeline, out of messages.
    shown = f": {user_text(reason)}" if reason and not case.restricted else ""
    public = f"Escalated by <@{who.slack_id}>{shown}"
    if target is None and to_member is not None:
        paging = ladder.page_member(
            session,
            case=case,
            team=team,
            member=to_member,
            at=at,
            actor=who.slack_id,
            reason=public,
            grants_access=access.can_see(session, case=case, actor=who),
        )
        wait = steps[case.step].wait
        if wait is not None and case.step + 1 < len(steps):
            timers.schedule(session, case=case, step=case.step + 1, due_at=at + wait, at=at)
        return case, paging
    assert target is not None
    paging = ladder.page_step(
        session, case=case, team=team, step=target, at=at, actor=who.slack_id, reason=public
    )
    return case, paging


def _level_step(case: Case, level: str) -> int:
    steps = ladder.steps_of(case)
    wanted = level.lower()
    names = list(dict.fromkeys(s.level for s in steps))
    if wanted not in names:
        raise Refused(f"{case.key} has no level {level}; its levels are {', '.join(names)}")
    later = [s.index for s in steps if s.level == wanted and s.index > case.step]
    if not later:
        current = steps[case.step].level
        raise Refused(f"{case.key} is already at level {current}; level {level} is not above it")
    return later[0]


def reassign(
    session: Session, *, team_id: int, actor: Actor | None, key: str, at: datetime, assignee: str
) -> Case:
    """Give the case to another member: the assignee, the reporter or a manager may."""
    team, who, case = member_and_case(session, team_id, actor, key)
    access.require_access(session, case=case, actor=who, at=at, action="assign")
    if case.status == CaseStatus.resolved:
        raise Refused(f"{case.key} is resolved; it cannot be reassigned")
    if not (who.is_manager or who.slack_id in {case.assignee, case.reporter}):
        raise Refused(f"only the assignee, the reporter or a manager can reassign {case.key}")
    if member_of(session, team, assignee) is None:
        raise Refused(f"{mention(assignee)} is not a member of the {user_text(team.name)} team")
    if assignee == case.assignee:
        raise Refused(f"{case.key} is already assigned to <@{assignee}>")
    before, case.assignee = case.assignee, assignee
    add_event(session, case=case, at=at, actor=who.slack_id, kind="assigned", assignee=assignee)
    exposure.holds(session, case=case, member=assignee, at=at)
    audit_case(
        session, case, who=who, at=at, action="case.assign", detail={"from": before, "to": assignee}
    )
    return case


def take(session: Session, *, team_id: int, actor: Actor | None, key: str, at: datetime) -> Case:
    """The Take case button: the clicker becomes the assignee, and an open case is acknowledged.

    Anyone in the team who may see the case may take it (a restricted one: `access.can_see`),
    so a responder can pick up work without asking a manager to reassign it. One audit event
    says both what changed hands and whether the ladder stopped.
    """
    _, who, case = member_and_case(session, team_id, actor, key)
    access.require_access(session, case=case, actor=who, at=at, action="take")
    if case.status == CaseStatus.resolved:
        raise Refused(f"{case.key} is resolved; there is nothing to take")
    acknowledging = case.status == CaseStatus.open
    if case.assignee == who.slack_id and not acknowledging:
        raise Refused(f"{case.key} is already yours")
    assert case.id is not None
    before = case.assignee
    cancelled = 0
    if before != who.slack_id:
        case.assignee = who.slack_id
        add_event(
            session, case=case, at=at, actor=who.slack_id, kind="assigned", assignee=who.slack_id
        )
    if acknowledging:
        case.status = CaseStatus.acknowledged.value
        case.acknowledged_at, case.acknowledged_by = at, who.slack_id
        cancelled = timers.cancel(session, case_id=case.id)
        cancel_held_pages(session, case_id=case.id)
        add_event(session, case=case, at=at, actor=who.slack_id, kind="acknowledged")
    exposure.holds(session, case=case, member=who.slack_id, at=at)
    audit_case(
        session,
        case,
        who=who,
        at=at,
        action="case.take",
        detail={"from": before, "acknowledged": acknowledging, "timers_cancelled": cancelled},
    )
    return case


def add_note(
    session: Session, *, team_id: int, actor: Actor | None, key: str, at: datetime, text: str
) -> CaseEvent:
    """Add a note to the timeline; on a restricted case only those it was given to may."""
    _, who, case = member_and_case(session, team_id, actor, key)
    access.require_access(session, case=case, actor=who, at=at, action="note")
    if blank(text):
        raise Refused("the note is empty")
    event = add_event(session, case=case, at=at, actor=who.slack_id, kind="note", text=text.strip())
    _works_on(session, case, who, at)
    audit_case(
        session, case, who=who, at=at, action="case.note", detail={"length": len(text.strip())}
    )
    return event


def resolve(
    session: Session,
    *,
    team_id: int,
    actor: Actor | None,
    key: str,
    at: datetime,
    reason: str = "",
) -> Case:
    """Close the case: every timer and every unsent page is cancelled."""
    _, who, case = member_and_case(session, team_id, actor, key)
    access.require_access(session, case=case, actor=who, at=at, action="resolve")
    if case.status == CaseStatus.resolved:
        raise Refused(f"{case.key} is already resolved")
    if not (who.is_manager or who.slack_id in {case.assignee, case.reporter}):
        raise Refused(f"only the assignee, the reporter or a manager can resolve {case.key}")
    assert case.id is not None
    clock = legal.clock_of(session, case.id)
    blocked = legal.unresolvable(clock, case.key)
    if blocked is not None:
        raise Refused(blocked)
    if clock is not None:
        legal.stop_reminders(session, clock)
    case.status = CaseStatus.resolved.value
    case.resolved_at, case.resolved_by = at, who.slack_id
    cancelled_timers = timers.cancel(session, case_id=case.id)
    cancelled_pages = cancel_pending_pages(session, case_id=case.id)
    add_event(session, case=case, at=at, actor=who.slack_id, kind="resolved", text=reason)
    exposure.end_case(session, case_id=case.id, at=at)
    checked_in = wellbeing.check_in(session, case=case, at=at)
    audit_case(
        session,
        case,
        who=who,
        at=at,
        action="case.resolve",
        detail={
            "timers_cancelled": cancelled_timers,
            "pages_cancelled": cancelled_pages,
            "check_in": checked_in,
        },
    )
    return case


def _resume_repeats(session: Session, case: Case, at: datetime) -> None:
    """A severity raised on an unacknowledged case whose ladder has ended (its old severity
    repeated nothing) must not leave it silent: if the new severity repeats, the repeats start
    now, as if its last level had just timed out (docs/architecture.md: the ladder never goes
    quiet)."""
    assert case.id is not None
    if case.status != CaseStatus.open.value or timers.pending_timer(session, case_id=case.id):
        return
    policy = ladder.policy_of(case)
    last = len(ladder.ladder(policy)) - 1
    if case.step == last and policy.repeat_every(case.severity) is not None:
        timers.schedule(session, case=case, step=last, due_at=at, at=at)


EDITABLE = {"summary": "summary", "type": "type", "sev": "severity", "severity": "severity"}


def edit(
    session: Session,
    *,
    team_id: int,
    actor: Actor | None,
    key: str,
    at: datetime,
    field: str,
    value: str,
    report_within: timedelta = legal.REPORT_WITHIN,
) -> tuple[Case, str, bool]:
    """Correct a case's summary, type or severity; returns the case, the old value and whether
    the edit restricted the case.

    The old value stays in the timeline (with the case's own restriction). The audit event
    names the field, and for type and severity the values; never a summary. A type that is
    restricted by default restricts the case; an edit never lifts a restriction. The case keeps
    the escalation ladder it was opened with; a new type that carries a reporting duty starts
    its clock from the opening, by that type's policy (else `report_within`).
    """
    _, who, case = member_and_case(session, team_id, actor, key)
    name = EDITABLE.get(field.lower())
    if name is None:
        raise Refused(f"a case's {field} cannot be edited; edit its summary, type or sev")
    access.require_access(session, case=case, actor=who, at=at, action="edit")
    if not (who.is_manager or who.slack_id in {case.assignee, case.reporter}):
        raise Refused(f"only the assignee, the reporter or a manager can edit {case.key}")
    detail: dict[str, Any] = {"field": name}
    if name == "summary":
        new = value.strip()
        if blank(new):
            raise Refused("a case needs a summary")
        if new == case.summary:
            raise Refused(f"{case.key} already has that summary")
        old, case.summary = case.summary, new
        add_event(session, case=case, at=at, actor=who.slack_id, kind="edited", text=old, **detail)
        detail["length"] = len(new)
    else:
        new = parse_type(value).value if name == "type" else parse_severity(value).value
        old = case.type if name == "type" else case.severity
        if new == old:
            raise Refused(f"{case.key} is already {new}")
        setattr(case, name, new)
        detail.update({"from": old, "to": new})
        add_event(session, case=case, at=at, actor=who.slack_id, kind="edited", **detail)
        if legal.needs_clock(new) and case.id and legal.clock_of(session, case.id) is None:
            # The duty runs from the case's opening, by the deadline its new type's policy sets.
            policy = policy_for_case(
                session, team_id=case.team_id, case_type=CaseType(new), severity=case.severity
            )
            legal.start(
                session,
                case_id=case.id,
                team_id=case.team_id,
                at=as_utc(case.opened_at),
                within=policy.report_deadline(report_within),
            )
            detail["report_due"] = True
        if name == "severity":
            _resume_repeats(session, case, at)
        if name == "type" and CaseType(new) in RESTRICTED_BY_DEFAULT and not case.restricted:
            case.restricted = True
            detail["restricted"] = True
    if name == "type":
        exposure.retyped(session, case=case, old_type=old, at=at)
    else:
        _works_on(session, case, who, at)
    audit_case(session, case, who=who, at=at, action="case.edit", detail=detail)
    return case, old, bool(detail.get("restricted"))


def _works_on(session: Session, case: Case, who: Actor, at: datetime) -> None:
    """The assignee acting on their case holds it: after their handoff ended their span, a
    note, an escalation or an edit of theirs starts a new one (others' actions do not)."""
    if case.assignee == who.slack_id and case.status != CaseStatus.resolved:
        exposure.holds(session, case=case, member=who.slack_id, at=at)
