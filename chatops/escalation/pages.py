"""Pages as outbox rows: one message about one case at one paging to one person or the channel.

A page is rendered when it is queued, with the case change that causes it (so it exists iff
that change does), and delivered by `chatops.outbox.delivery` like every other message. Its row
carries the case, the paging (`batch`), step, level, kind and role; restricted cases are
rendered without their summary or details.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from chatops.blockkit import Block
from chatops.escalation.models import PageKind
from chatops.outbox import queue
from chatops.outbox.models import OutboxMessage, Topic

#: The longest a page of an open sev1/sev2 case waits between failed attempts, in seconds.
URGENT_MAX_BACKOFF_S = 30

#: Where a query should look for pages (every other outbox row belongs to another domain).
IS_PAGE = col(OutboxMessage.topic) == Topic.page.value


def page_key(*, case_id: int, batch: int, kind: PageKind, recipient: str) -> str:
    """Unique per case, paging, kind and recipient: the same page is never queued twice."""
    return f"page:{case_id}:{batch}:{kind.value}:{recipient}"


def add_page(
    session: Session,
    *,
    team_id: int,
    case_id: int,
    batch: int,
    step: int,
    level: str,
    kind: PageKind,
    role: str,
    recipient: str,
    text: str,
    blocks: list[Block],
    at: datetime,
    paged_by: str | None = None,
    grants_access: bool = True,
    due_at: datetime | None = None,
    max_backoff_s: int | None = None,
) -> OutboxMessage:
    """A page due now (or at `due_at`: held for working hours), in the caller's transaction
    (a second one of the same key fails). `max_backoff_s` caps its retry backoff (urgent
    cases: `URGENT_MAX_BACKOFF_S`), since the outbox cannot read the case's severity."""
    values: dict[str, Any] = queue.row(
        topic=Topic.page,
        team_id=team_id,
        key=page_key(case_id=case_id, batch=batch, kind=kind, recipient=recipient),
        kind=kind.value,
        recipient=recipient,
        text=text,
        blocks=blocks,
        at=at,
        case_id=case_id,
        batch=batch,
        step=step,
        level=level,
        role=role,
    )
    values.update(
        paged_by=paged_by,
        grants_access=grants_access,
        due_at=due_at or at,
        first_due_at=due_at or at,
        held=due_at is not None and due_at > at,
        max_backoff_s=max_backoff_s,
    )
    page = OutboxMessage(**values)
    session.add(page)
    return page


def cancel_pending_pages(session: Session, *, case_id: int) -> int:
    """Cancel pages not yet sent (a resolved case needs no more messages); returns how many."""
    return queue.cancel_pending(session, IS_PAGE, col(OutboxMessage.case_id) == case_id)


def cancel_held_pages(session: Session, *, case_id: int) -> int:
    """Cancel pages held for working hours (due or not, not yet released): the case was taken
    meanwhile, so nobody needs waking for it. Returns how many."""
    return queue.cancel_pending(
        session,
        IS_PAGE,
        col(OutboxMessage.case_id) == case_id,
        col(OutboxMessage.held).is_(True),
    )


def pages_of(session: Session, *, case_id: int) -> list[OutboxMessage]:
    return list(
        session.exec(
            select(OutboxMessage)
            .where(IS_PAGE, OutboxMessage.case_id == case_id)
            .order_by(col(OutboxMessage.id))
        )
    )
