"""A case's life driven by another tool (an intake integration) instead of a member.

The tool is not a person on the team, so the member checks of `service.py` do not apply; its
actor is `intake:NAME`, which the timeline and the audit trail show as is. Like the member
verbs, each change and its audit event share the caller's transaction (invariant 7), and a
refusal raises before anything is written (invariant 8). An acknowledgement makes nobody the
assignee: a tool cannot take a case, only say the alarm is seen.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from chatops import audit
from chatops.cases import legal, timers
from chatops.cases.models import Case, CaseStatus
from chatops.cases.timeline import add_event
from chatops.errors import Refused
from chatops.escalation.pages import cancel_held_pages, cancel_pending_pages


def _audit(
    session: Session, case: Case, *, actor: str, at: datetime, action: str, **detail: object
) -> None:
    audit.record(
        session,
        at=at,
        actor=actor,
        action=action,
        subject=case.key,
        team_id=case.team_id,
        detail=dict(detail),
    )


def retrigger(session: Session, *, case: Case, actor: str, at: datetime, summary: str) -> None:
    """The same alarm again (a repeated `dedup_key`): a timeline line, no new case, no page."""
    add_event(session, case=case, at=at, actor=actor, kind="retriggered", text=summary)
    _audit(session, case, actor=actor, at=at, action="case.retrigger")


def acknowledge(session: Session, *, case: Case, actor: str, at: datetime) -> bool:
    """Stop the ladder; False when there was nothing to acknowledge (already seen or closed)."""
    if case.status != CaseStatus.open.value:
        return False
    assert case.id is not None
    case.status = CaseStatus.acknowledged.value
    case.acknowledged_at, case.acknowledged_by = at, actor
    cancelled = timers.cancel(session, case_id=case.id)
    held = cancel_held_pages(session, case_id=case.id, at=at)
    add_event(session, case=case, at=at, actor=actor, kind="acknowledged")
    _audit(
        session,
        case,
        actor=actor,
        at=at,
        action="case.acknowledge",
        timers_cancelled=cancelled,
        held_cancelled=held,
    )
    return True


def resolve(session: Session, *, case: Case, actor: str, at: datetime) -> bool:
    """Close the case; False when it was closed already. Refused while a report is owed."""
    if case.status == CaseStatus.resolved.value:
        return False
    assert case.id is not None
    clock = legal.clock_of(session, case.id)
    blocked = legal.unresolvable(clock, case.key)
    if blocked is not None:
        raise Refused(blocked)
    if clock is not None:
        legal.stop_reminders(session, clock)
    case.status = CaseStatus.resolved.value
    case.resolved_at, case.resolved_by = at, actor
    cancelled_timers = timers.cancel(session, case_id=case.id)
    cancelled_pages = cancel_pending_pages(session, case_id=case.id)
    add_event(session, case=case, at=at, actor=actor, kind="resolved")
    _audit(
        session,
        case,
        actor=actor,
        at=at,
        action="case.resolve",
        timers_cancelled=cancelled_timers,
        pages_cancelled=cancelled_pages,
    )
    return True
