"""Finding a case and the acting member, and auditing a case change: shared by every case verb.

Refusals name the case as typed (quoted), so a mistyped id is one line and nothing changes
(docs/architecture.md, invariant 8).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from chatops import audit
from chatops.blockkit import quote_input
from chatops.cases.ids import normalise_key
from chatops.cases.models import (
    Case,
    CaseType,
    Severity,
)
from chatops.errors import Refused
from chatops.team import Actor, get_team, require_member
from rota.models import Team


def member_and_case(
    session: Session, team_id: int, actor: Actor | None, key: str
) -> tuple[Team, Actor, Case]:
    """The team, the acting member (refused if not one) and the case, locked for a change."""
    team = get_team(session, team_id)
    who = require_member(session, team, actor)
    return team, who, get_case(session, team_id=team_id, key=key, for_update=True)


def audit_case(
    session: Session,
    case: Case,
    *,
    who: Actor,
    at: datetime,
    action: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """The case's audit event, in the same transaction as the change (ids and counts only)."""
    audit.record(
        session,
        at=at,
        actor=who.slack_id,
        action=action,
        subject=case.key,
        team_id=case.team_id,
        detail=detail,
    )


def get_case(session: Session, *, team_id: int, key: str, for_update: bool = False) -> Case:
    """The team's case `key` (any spelling of TS-YYYY-N), or Refused naming it."""
    normal = normalise_key(key)
    if normal is None:
        raise Refused(f"'{quote_input(key)}' is not a case id (they look like TS-2027-0042)")
    query = select(Case).where(Case.team_id == team_id, Case.key == normal)
    case = session.exec(query.with_for_update() if for_update else query).first()
    if case is None:
        raise Refused(f"there is no case {normal}")
    return case


def parse_type(text: str) -> CaseType:
    try:
        return CaseType(text.lower())
    except ValueError:
        valid = ", ".join(t.value for t in CaseType)
        raise Refused(f"unknown case type '{quote_input(text)}'; valid types: {valid}") from None


def parse_severity(text: str) -> Severity:
    try:
        return Severity(text.lower())
    except ValueError:
        valid = ", ".join(s.value for s in Severity)
        raise Refused(
            f"unknown severity '{quote_input(text)}'; valid severities: {valid}"
        ) from None
