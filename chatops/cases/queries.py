"""Reading cases: one case in full (`/ts case show`) and the lists (`/ts case list`, App Home).

Every read goes through the access rule, and a restricted case a viewer may not see is listed
by id, type and severity only (docs/architecture.md, invariant 10).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, col, select

from chatops.cases import access, ladder, legal, timers
from chatops.cases.lookup import get_case
from chatops.cases.models import (
    Case,
    CaseEvent,
    CaseStatus,
    CaseType,
)
from chatops.cases.origins import CaseOrigin, origin_of
from chatops.cases.referrals import Referral, referrals_of
from chatops.cases.timeline import PAGE_SIZE, count_events, events_page
from chatops.errors import Refused
from chatops.escalation.messages import REPEAT_LEVEL
from chatops.escalation.models import EscalationTimer, PageKind
from chatops.escalation.pages import IS_PAGE, pages_of
from chatops.outbox.models import OutboxMessage
from chatops.team import Actor, get_team, require_member


@dataclass
class CaseView:
    """A case as one member may see it; `details_visible` False hides summary, details, notes.

    `timeline` is page `page` of `timeline_pages` (oldest first); `timeline_total` counts all.
    """

    case: Case
    details_visible: bool
    timeline: list[CaseEvent]
    pages: list[OutboxMessage]
    next_escalation: datetime | None
    level: str
    page: int = 1
    timeline_total: int = 0
    timeline_pages: int = 1
    report: legal.ReportClock | None = None
    referrals: list[Referral] | None = None
    origin: CaseOrigin | None = None  # the reported message, shown with the details only

    def level_of(self, step: int) -> str:
        """The name of ladder step `step` (the timeline stores step indexes)."""
        steps = ladder.steps_of(self.case)
        return steps[step].level if 0 <= step < len(steps) else str(step)


def show(
    session: Session,
    *,
    team_id: int,
    actor: Actor | None,
    key: str,
    at: datetime,
    page: int = 1,
) -> CaseView:
    """Read a case and one page of its timeline; every look at a restricted case is audited,
    refused or not. A member without access still sees what a channel sees (id, type, severity,
    status).
    """
    team = get_team(session, team_id)
    who = require_member(session, team, actor)
    case = get_case(session, team_id=team_id, key=key)
    assert case.id is not None
    visible = access.record_view(session, case=case, actor=who, at=at)
    total = count_events(session, case=case, legal=visible)
    last_page = max(1, -(-total // PAGE_SIZE))
    if page < 1 or page > last_page:
        raise Refused(
            f"{case.key}'s timeline has {total} entries: pages 1 to {last_page} "
            f"({PAGE_SIZE} a page)"
        )
    timer = timers.pending_timer(session, case_id=case.id)
    return CaseView(
        case=case,
        details_visible=visible,
        timeline=events_page(session, case=case, page=page, legal=visible),
        pages=pages_of(session, case_id=case.id),
        next_escalation=timer.due_at if timer else None,
        level=_level(case, timer),
        page=page,
        timeline_total=total,
        timeline_pages=last_page,
        report=legal.clock_of(session, case.id) if visible else None,
        referrals=referrals_of(session, case.id) if visible else None,
        origin=origin_of(session, case.id) if visible else None,
    )


class CaseListing(StrEnum):
    open = "open"
    mine = "mine"
    resolved = "resolved"


@dataclass(frozen=True)
class ListedCase:
    """One line of `/ts case list`: `visible` False shows only id, type and severity."""

    case: Case
    visible: bool


def list_cases(
    session: Session,
    *,
    team_id: int,
    actor: Actor | None,
    which: CaseListing = CaseListing.open,
    case_type: CaseType | None = None,
    since: datetime | None = None,
) -> list[ListedCase]:
    """The team's cases: open ones, the asker's (assigned or paged, unresolved), or resolved.

    `since` is when they were opened (for resolved ones: when they were resolved). Newest last.
    """
    team = get_team(session, team_id)
    who = require_member(session, team, actor)
    query = select(Case).where(Case.team_id == team_id)
    if which == CaseListing.resolved:
        query = query.where(Case.status == CaseStatus.resolved.value)
        if since is not None:
            query = query.where(col(Case.resolved_at) >= since)
    else:
        query = query.where(Case.status != CaseStatus.resolved.value)
        if since is not None:
            query = query.where(col(Case.opened_at) >= since)
    if which == CaseListing.mine:
        paged = select(OutboxMessage.case_id).where(
            IS_PAGE,
            OutboxMessage.kind == PageKind.dm.value,
            OutboxMessage.recipient == who.slack_id,
        )
        query = query.where((col(Case.assignee) == who.slack_id) | col(Case.id).in_(paged))
    if case_type is not None:
        query = query.where(Case.type == case_type.value)
    found = session.exec(query.order_by(col(Case.id))).all()
    return [ListedCase(c, access.can_see(session, case=c, actor=who)) for c in found]


def open_cases_for(session: Session, *, team_id: int, slack_id: str) -> list[Case]:
    """The unresolved cases assigned to a member or for which they were paged (by DM).

    Callers showing them filter restricted ones through `access.can_see`.
    """
    paged = select(OutboxMessage.case_id).where(
        IS_PAGE, OutboxMessage.kind == PageKind.dm.value, OutboxMessage.recipient == slack_id
    )
    return list(
        session.exec(
            select(Case)
            .where(
                Case.team_id == team_id,
                Case.status != CaseStatus.resolved.value,
                (col(Case.assignee) == slack_id) | col(Case.id).in_(paged),
            )
            .order_by(col(Case.id))
        )
    )


def open_cases(session: Session, *, team_id: int) -> list[Case]:
    return list(
        session.exec(
            select(Case)
            .where(Case.team_id == team_id, Case.status != CaseStatus.resolved.value)
            .order_by(col(Case.id))
        )
    )


def _level(case: Case, timer: EscalationTimer | None) -> str:
    """The level a case is at; past the last one with a timer still set, the repeats that
    follow it (docs/architecture.md, invariant 11), not the last level alone."""
    steps = ladder.steps_of(case)
    level = steps[case.step].level
    if timer is not None and case.step == len(steps) - 1 and steps[-1].wait is None:
        return f"{level}, the last; then {REPEAT_LEVEL} until acknowledged"
    return level
