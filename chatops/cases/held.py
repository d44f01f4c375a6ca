"""Pages held for working hours (`hours: working`), released to whoever is on call by then.

A held page is an outbox DM queued for later and marked `held`: delivery never claims it, on any
replica, until it is released here. When it comes due, the worker re-resolves its level (the
timer pass runs before delivery): if its recipient is still on call there it is released as it
is; otherwise it is cancelled (and no longer gives access to a restricted case) and the level's
people now are paged instead, each held again until their own working hours if need be. A held
page of a case no longer open is cancelled.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from chatops.cases.ladder import steps_of
from chatops.cases.models import Case, CaseStatus
from chatops.cases.timeline import add_event
from chatops.db import Database
from chatops.escalation import messages
from chatops.escalation.models import PageKind
from chatops.escalation.pages import IS_PAGE, add_page
from chatops.escalation.targets import Roster, load_roster, resolve_targets
from chatops.logs import correlated
from chatops.outbox import queue
from chatops.outbox.models import OutboxMessage, OutboxState
from rota.models import Team

log = logging.getLogger(__name__)

#: Roles whose page stands for a ladder level (advisors and direct pages are for one person).
_LEVEL_ROLES = ("responder", "fallback")


def _held_due(now: datetime) -> tuple[object, ...]:
    return (
        IS_PAGE,
        col(OutboxMessage.kind) == PageKind.dm.value,
        col(OutboxMessage.state) == OutboxState.pending.value,
        col(OutboxMessage.held).is_(True),
        col(OutboxMessage.due_at) <= now,
    )


def release_held_pages(db: Database, *, now: datetime, limit: int) -> int:
    """Release up to `limit` held pages now due, each in its own transaction; returns how many."""
    with db.transaction() as session:
        ids = list(
            session.exec(
                select(OutboxMessage.id)
                .where(*_held_due(now))  # type: ignore[arg-type]
                .order_by(col(OutboxMessage.due_at))
                .limit(limit)
            )
        )
    released = 0
    for page_id in ids:
        with correlated():
            try:
                released += _release(db, page_id=int(page_id or 0), now=now)
            except Exception:
                log.exception("held page release failed", extra={"page": page_id})
    return released


def _release(db: Database, *, page_id: int, now: datetime) -> int:
    with db.transaction() as session:
        page = session.exec(
            select(OutboxMessage)
            .where(col(OutboxMessage.id) == page_id, *_held_due(now))  # type: ignore[arg-type]
            .with_for_update(skip_locked=True)
        ).first()
        if page is None:
            return 0
        page.held = False  # released: delivery may take it (or it is cancelled below)
        case = session.get(Case, page.case_id) if page.case_id is not None else None
        team = session.get(Team, page.team_id)
        if case is None or team is None or case.status != CaseStatus.open:
            queue.cancel_pending(session, col(OutboxMessage.id) == page.id)  # nobody to wake
            return 0
        if page.step is None or page.role not in _LEVEL_ROLES:
            return 1  # a page for one person, not for a level: it goes out as it is
        step = steps_of(case)[page.step]
        roster = load_roster(session, team, now)
        resolution = resolve_targets(roster, step.targets)
        people, role = resolution.people, "responder"
        if not people and resolution.gap:
            people, role = roster.managers(), "fallback"
        if not people or page.recipient in people:
            add_event(
                session,
                case=case,
                at=now,
                actor="system",
                kind="paged",
                person=page.recipient,
                level=page.level,
                role=page.role,
                released=True,
            )
            return 1
        _retarget(session, case=case, page=page, roster=roster, people=people, role=role, now=now)
        return 1


def _retarget(
    session: Session,
    *,
    case: Case,
    page: OutboxMessage,
    roster: Roster,
    people: list[str],
    role: str,
    now: datetime,
) -> None:
    """Cancel `page` (its recipient left the level) and page the level's `people` instead."""
    assert page.id is not None and case.id is not None
    grants = page.grants_access
    queue.cancel_pending(session, col(OutboxMessage.id) == page.id)
    # never paged, so the cancelled row gives no access to a restricted case
    session.execute(
        update(OutboxMessage).where(col(OutboxMessage.id) == page.id).values(grants_access=False)
    )
    add_event(
        session,
        case=case,
        at=now,
        actor="system",
        kind="page_retargeted",
        person=page.recipient,
        level=page.level,
    )
    log.info("held page retargeted", extra={"case": case.key, "level": page.level})
    batch_rows = session.exec(
        select(OutboxMessage.recipient).where(
            IS_PAGE,
            col(OutboxMessage.case_id) == case.id,
            col(OutboxMessage.batch) == page.batch,
            col(OutboxMessage.kind) == PageKind.dm.value,
        )
    )
    already = set(batch_rows)
    if role == page.role:
        text, blocks = page.text, json.loads(page.blocks)
    else:
        text, blocks = messages.direct_message(
            key=case.key,
            case_type=case.type,
            severity=case.severity,
            summary=case.summary,
            restricted=case.restricted,
            language=case.language,
            level=str(page.level),
            role=role,
            reason="Held for working hours, then sent to whoever is on call at this level now",
        )
    for person in people:
        if person in already:
            continue
        due = roster.working_from(person, now)
        add_page(
            session,
            team_id=case.team_id,
            case_id=case.id,
            batch=page.batch or case.pagings,
            step=page.step or 0,
            level=str(page.level),
            kind=PageKind.dm,
            role=role,
            recipient=person,
            text=text,
            blocks=blocks,
            at=now,
            paged_by=page.paged_by,
            grants_access=grants,
            due_at=due,
            max_backoff_s=page.max_backoff_s,
        )
        add_event(
            session,
            case=case,
            at=now,
            actor="system",
            kind="paged",
            person=person,
            level=page.level,
            role=role,
            **({"held_until": due.isoformat()} if due > now else {"released": True}),
        )
