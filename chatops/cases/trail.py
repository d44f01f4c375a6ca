"""A case's audit trail as admins read it (`/ts audit TS-…`): its events, paged.

Only admins may read it, and each reading is itself audited. Audit details never hold case text,
so the trail shows what happened and who did it, never what the case says. A purged case's
trail is still there: the events name the case by its key, not by its row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from chatops import audit
from chatops.audit import AuditEvent
from chatops.cases.ids import normalise_key
from chatops.cases.models import Case
from chatops.errors import Refused
from chatops.escalation.pages import IS_PAGE
from chatops.outbox.models import OutboxMessage
from chatops.team import Actor, get_team, require_member

PAGE_SIZE = 20


@dataclass(frozen=True)
class Trail:
    key: str
    events: list[AuditEvent]
    page: int
    pages: int
    total: int


def case_trail(
    session: Session,
    *,
    team_id: int,
    actor: Actor | None,
    key: str,
    at: datetime,
    page: int = 1,
) -> Trail:
    """Page `page` (from 1, oldest first) of the audit events about case `key`."""
    who = require_member(session, get_team(session, team_id), actor)
    if not who.is_admin:
        raise Refused("only admins can read a case's audit trail")
    normal = normalise_key(key)
    if normal is None:
        raise Refused(f"'{key}' is not a case id (they look like TS-2027-0042)")
    subjects = [normal]
    case = session.exec(select(Case).where(Case.team_id == team_id, Case.key == normal)).first()
    if case is not None:
        pages = session.exec(
            select(OutboxMessage.id).where(IS_PAGE, OutboxMessage.case_id == case.id)
        ).all()
        subjects += [f"page:{p}" for p in pages]
    about = (col(AuditEvent.team_id) == team_id, col(AuditEvent.subject).in_(subjects))
    total = session.exec(select(func.count()).select_from(AuditEvent).where(*about)).one()
    if total == 0 and case is None:
        raise Refused(f"there is no case {normal}")
    last = max(1, -(-total // PAGE_SIZE))
    if page < 1 or page > last:
        raise Refused(f"{normal} has {last} page{'s' if last > 1 else ''} of audit events")
    events = session.exec(
        select(AuditEvent)
        .where(*about)
        .order_by(col(AuditEvent.id))
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    audit.record(
        session,
        at=at,
        actor=who.slack_id,
        action="case.audit_view",
        subject=normal,
        team_id=team_id,
        detail={"page": page},
    )
    return Trail(normal, list(events), page, last, total)
