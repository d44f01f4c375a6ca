"""How long a resolved case is kept, what keeps it longer, and purging it (issue #11).

A resolved case (its summary, details, notes and rendered pages) is deleted once its type's
retention has passed since resolution, unless `purge_blocked` names a reason to keep it: today
a legal hold (`/ts case hold`); a later "preserve until" date for filings belongs there too.
The only trace a purge leaves is one audit event per case with its id, key and type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from chatops import audit
from chatops.blockkit import blank
from chatops.cases import legal
from chatops.cases.legal import ReportClock
from chatops.cases.lookup import get_case
from chatops.cases.models import Case, CaseEvent, CaseStatus
from chatops.cases.referrals import Referral
from chatops.cases.timeline import add_event
from chatops.errors import Refused
from chatops.escalation.models import EscalationTimer
from chatops.outbox.models import OutboxMessage
from chatops.team import Actor, get_team, require_member

DEFAULT_DAYS = 90


@dataclass(frozen=True)
class Retention:
    """Days after resolution a case is kept: per type, else `default_days`."""

    default_days: int = DEFAULT_DAYS
    by_type: Mapping[str, int] = field(default_factory=dict)

    def days(self, case_type: str) -> int:
        return self.by_type.get(case_type, self.default_days)

    def expires_at(self, case: Case) -> datetime | None:
        """When a resolved case may be purged; None while it is not resolved."""
        if case.status != CaseStatus.resolved.value or case.resolved_at is None:
            return None
        return case.resolved_at + timedelta(days=self.days(case.type))


def purge_blocked(session: Session, case: Case, now: datetime) -> str | None:
    """Why `case` must not be purged yet (one line, no case text), or None when it may be.

    Every reason to keep a case past its retention is decided here, so a purge cannot miss one:
    a legal hold, and a filed report's preservation period (`chatops.cases.legal`).
    """
    if case.legal_hold is not None:
        return "legal hold"
    return legal.purge_hold(session, case_id=case.id, now=now)


@dataclass(frozen=True)
class PurgePlan:
    due: list[Case]  # expired and not blocked: purged by `purge`
    kept: list[tuple[Case, str]]  # expired but blocked, with the reason


def plan(session: Session, *, now: datetime, retention: Retention) -> PurgePlan:
    """The resolved cases whose retention has passed at `now`, split by whether they may go."""
    resolved = session.exec(
        select(Case).where(Case.status == CaseStatus.resolved.value).order_by(col(Case.id))
    )
    due: list[Case] = []
    kept: list[tuple[Case, str]] = []
    for case in resolved:
        expires = retention.expires_at(case)
        if expires is None or expires > now:
            continue
        reason = purge_blocked(session, case, now)
        if reason is None:
            due.append(case)
        else:
            kept.append((case, reason))
    return PurgePlan(due, kept)


def purge_case(session: Session, *, case: Case, now: datetime, actor: str = "cli") -> bool:
    """Delete the case and every row about it; one audit event with id, key and type only.

    Re-reads the case locked, so a hold placed since the plan was made still keeps it (False).
    """
    fresh = session.exec(select(Case).where(Case.id == case.id).with_for_update()).first()
    if fresh is None or fresh.status != CaseStatus.resolved.value:
        return False
    if purge_blocked(session, fresh, now) is not None:
        return False
    # The reporting clock goes with the case (the audit trail keeps that it ran). A referral
    # stays, unlinked and without its note: transparency reports count disclosures over a
    # longer window than cases are kept.
    for table in (OutboxMessage, EscalationTimer, CaseEvent, ReportClock):
        session.execute(delete(table).where(col(table.case_id) == fresh.id))
    session.execute(
        update(Referral).where(col(Referral.case_id) == fresh.id).values(case_id=None, note="")
    )
    session.execute(delete(Case).where(col(Case.id) == fresh.id))
    audit.record(
        session,
        at=now,
        actor=actor,
        action="case.purge",
        subject=fresh.key,
        team_id=fresh.team_id,
        detail={"case_id": fresh.id, "type": fresh.type},
    )
    return True


def _held_case(session: Session, team_id: int, actor: Actor | None, key: str) -> tuple[Actor, Case]:
    who = require_member(session, get_team(session, team_id), actor)
    return who, get_case(session, team_id=team_id, key=key, for_update=True)


def hold(
    session: Session, *, team_id: int, actor: Actor | None, key: str, at: datetime, reason: str
) -> Case:
    """Keep a case past its retention until released; managers and admins only."""
    who, case = _held_case(session, team_id, actor, key)
    if not who.is_manager:
        raise Refused("only managers and admins can put a case on legal hold")
    if blank(reason):
        raise Refused("say why the case is held, e.g. a legal request's reference")
    if case.legal_hold is not None:
        raise Refused(f"{case.key} is already on legal hold")
    case.legal_hold = reason.strip()
    add_event(session, case=case, at=at, actor=who.slack_id, kind="held", text=reason.strip())
    # The reason is typed text: it stays on the case, out of the audit details.
    _audit_hold(session, case, who=who, at=at, action="case.hold")
    return case


def release(session: Session, *, team_id: int, actor: Actor | None, key: str, at: datetime) -> Case:
    """End a legal hold: the case's usual retention applies again."""
    who, case = _held_case(session, team_id, actor, key)
    if not who.is_manager:
        raise Refused("only managers and admins can release a legal hold")
    if case.legal_hold is None:
        raise Refused(f"{case.key} is not on legal hold")
    case.legal_hold = None
    add_event(session, case=case, at=at, actor=who.slack_id, kind="released")
    _audit_hold(session, case, who=who, at=at, action="case.release")
    return case


def _audit_hold(session: Session, case: Case, *, who: Actor, at: datetime, action: str) -> None:
    audit.record(
        session,
        at=at,
        actor=who.slack_id,
        action=action,
        subject=case.key,
        team_id=case.team_id,
        detail={"case_id": case.id},
    )
