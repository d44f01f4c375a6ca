"""How often one person may page: `case open` and `escalate` wake people up.

A stuck key, a script or a hijacked account must not page the on-call a hundred times a minute.
The count comes from the audit trail (every opening and escalation is audited with its actor),
so every replica sees the same count without a table of its own. Escalations fired by timers are
the system's, not a person's, and never count.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from chatops.audit import AuditEvent
from chatops.errors import Refused

PAGING_ACTIONS = ("case.open", "case.escalate")
WINDOW = timedelta(minutes=1)


def pages_asked(session: Session, *, team_id: int, actor: str, at: datetime) -> int:
    """How many cases `actor` opened or escalated in the minute before `at`."""
    query = select(func.count()).where(
        col(AuditEvent.team_id) == team_id,
        col(AuditEvent.actor) == actor,
        col(AuditEvent.action).in_(PAGING_ACTIONS),
        col(AuditEvent.at) > at - WINDOW,
    )
    return int(session.exec(query).one())


def check_paging_rate(
    session: Session, *, team_id: int, actor: str | None, at: datetime, per_minute: int
) -> None:
    """Refuse with one line when `actor` has paged `per_minute` times in the last minute."""
    if actor is None:
        return
    if pages_asked(session, team_id=team_id, actor=actor, at=at) >= per_minute:
        raise Refused(
            f"you have opened or escalated {per_minute} cases in the last minute, the most one "
            "person may; wait a minute, or ask a teammate to page"
        )
