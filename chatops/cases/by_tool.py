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
from chatops.blockkit import section
from chatops.cases import legal, timers
from chatops.cases.models import Case, CaseStatus
from chatops.cases.timeline import add_event
from chatops.casetypes import Severity
from chatops.errors import Refused
from chatops.escalation.messages import headline
from chatops.escalation.pages import cancel_held_pages, cancel_pending_pages
from chatops.outbox import queue as outbox
from chatops.outbox.models import Topic

#: The private word to a case's holder when another tool raises its severity.
RAISED_KIND = "case.raised"


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


def retrigger(
    session: Session, *, case: Case, actor: str, at: datetime, summary: str, severity: str
) -> None:
    """The same alarm again (a repeated `dedup_key`): a timeline line, no new case.

    A higher severity than the case's raises it (never lowers it): the timeline and the audit
    say so, and whoever holds the case is told privately (no case text in the message). The
    case keeps its ladder, as an edit's does.
    """
    add_event(session, case=case, at=at, actor=actor, kind="retriggered", text=summary)
    raised = _rank(severity) < _rank(case.severity)
    if raised:
        old, case.severity = case.severity, severity
        add_event(
            session,
            case=case,
            at=at,
            actor=actor,
            kind="edited",
            field="severity",
            to=severity,
            **{"from": old},
        )
        if case.assignee and case.status != CaseStatus.resolved.value:
            text = (
                f":rotating_light: {headline(case.key, case.type, severity)}: {actor} reported "
                f"it again at {severity} (it was {old})."
            )
            outbox.enqueue(
                session,
                topic=Topic.page,
                team_id=case.team_id,
                key=f"retrigger:{case.id}:{severity}:{case.assignee}",
                kind=RAISED_KIND,
                recipient=case.assignee,
                text=text,
                blocks=[section(text)],
                at=at,
                case_id=case.id,
            )
    _audit(
        session,
        case,
        actor=actor,
        at=at,
        action="case.retrigger",
        **({"severity": case.severity} if raised else {}),
    )


def _rank(severity: str) -> int:
    """sev1 ranks 0, the highest; an unknown value ranks last, so it never raises."""
    order = [s.value for s in Severity]
    return order.index(severity) if severity in order else len(order)


def acknowledge(session: Session, *, case: Case, actor: str, at: datetime) -> bool:
    """Stop the ladder; False when there was nothing to acknowledge (already seen or closed)."""
    if case.status != CaseStatus.open.value:
        return False
    assert case.id is not None
    case.status = CaseStatus.acknowledged.value
    case.acknowledged_at, case.acknowledged_by = at, actor
    cancelled = timers.cancel(session, case_id=case.id)
    held = cancel_held_pages(session, case_id=case.id)
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
