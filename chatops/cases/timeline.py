"""A case's timeline: every step of its life, in the same transaction as the step."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from chatops.cases.models import Case, CaseEvent


def add_event(
    session: Session,
    *,
    case: Case,
    at: datetime,
    actor: str,
    kind: str,
    text: str = "",
    **detail: Any,
) -> CaseEvent:
    """Append to the timeline. `text` is restricted with its case; `detail` holds ids only."""
    assert case.id is not None
    event = CaseEvent(
        case_id=case.id,
        at=at,
        actor=actor,
        kind=kind,
        text=text,
        detail=json.dumps(detail, sort_keys=True, default=str),
    )
    session.add(event)
    return event


def events(session: Session, *, case: Case) -> list[CaseEvent]:
    return list(
        session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(col(CaseEvent.id))
        )
    )
