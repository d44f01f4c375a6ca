"""Walking a case up its policy's ladder: resolve a step's people, page them, set the next timer.

Everything here runs inside the caller's transaction (a command, or the worker firing a timer),
so the pages, the timeline, the audit event and the next timer exist together or not at all.
A step that resolves to nobody is skipped at once and recorded; a rota gap pages the managers
instead (invariant 3); a case language nobody paged speaks brings in an advisor who does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, select

from chatops import audit
from chatops.blockkit import Block
from chatops.cases import timers
from chatops.cases.models import Case
from chatops.cases.timeline import add_event
from chatops.escalation import messages
from chatops.escalation.models import PageKind
from chatops.escalation.pages import IS_PAGE, add_page
from chatops.escalation.policy import PolicySpec, Step, ladder
from chatops.escalation.targets import Roster, find_advisor, load_roster, resolve_targets, speaks
from chatops.outbox.models import OutboxMessage
from rota.models import Team

log = logging.getLogger(__name__)


@dataclass
class Paging:
    """What one paging did, for the reply and the tests."""

    step: int
    level: str
    paged: list[str] = field(default_factory=list)
    role: str = "responder"
    advisor: str | None = None
    skipped: list[str] = field(default_factory=list)  # levels that resolved to nobody
    next_due: datetime | None = None


def policy_of(case: Case) -> PolicySpec:
    return PolicySpec.model_validate_json(case.policy)


def steps_of(case: Case) -> list[Step]:
    return ladder(policy_of(case))


def already_paged(session: Session, *, case_id: int) -> list[str]:
    rows = session.exec(
        select(OutboxMessage.recipient).where(
            IS_PAGE, OutboxMessage.case_id == case_id, OutboxMessage.kind == PageKind.dm.value
        )
    )
    return list(dict.fromkeys(rows))


def page_step(
    session: Session,
    *,
    case: Case,
    team: Team,
    step: int,
    at: datetime,
    actor: str,
    reason: str,
    opened: bool = False,
) -> Paging:
    """Page ladder step `step` of `case` (skipping empty steps) and schedule the next one.

    `reason` goes into the messages as is: callers keep restricted text out of it.
    """
    assert case.id is not None
    steps = steps_of(case)
    roster = load_roster(session, team, at)
    result = Paging(step=step, level=steps[step].level)
    people: list[str] = []
    for current in steps[step:]:
        resolution = resolve_targets(roster, current.targets)
        people, role = resolution.people, "responder"
        if not people and resolution.gap:
            people, role = roster.managers(), "fallback"
            add_event(session, case=case, at=at, actor=actor, kind="fallback", level=current.level)
        result.step, result.level, result.role = current.index, current.level, role
        if people:
            break
        result.skipped.append(current.level)
        add_event(session, case=case, at=at, actor=actor, kind="skipped", level=current.level)
    case.step = result.step
    if not people:
        log.error("case has nobody to page", extra={"case": case.key, "team_id": case.team_id})
    result.paged = people
    _send(
        session,
        case=case,
        team=team,
        roster=roster,
        paging=result,
        at=at,
        reason=reason,
        actor=actor,
        opened=opened,
    )
    wait = steps[result.step].wait
    if wait is not None:
        result.next_due = at + wait
        timers.schedule(session, case=case, step=result.step + 1, due_at=result.next_due, at=at)
    else:
        timers.cancel(session, case_id=case.id)
        add_event(session, case=case, at=at, actor=actor, kind="last_level", level=result.level)
    audit.record(
        session,
        at=at,
        actor=actor,
        action="case.page",
        subject=case.key,
        team_id=case.team_id,
        detail={
            "level": result.level,
            "step": result.step,
            "paged": result.paged,
            "role": result.role,
            "advisor": result.advisor,
            "skipped": result.skipped,
        },
    )
    return result


def page_member(
    session: Session, *, case: Case, team: Team, member: str, at: datetime, actor: str, reason: str
) -> Paging:
    """Page one member directly (an escalation to a person), keeping the ladder's timer."""
    roster = load_roster(session, team, at)
    result = Paging(
        step=case.step, level=steps_of(case)[case.step].level, paged=[member], role="direct"
    )
    _send(
        session,
        case=case,
        team=team,
        roster=roster,
        paging=result,
        at=at,
        reason=reason,
        actor=actor,
        opened=False,
    )
    return result


def _send(
    session: Session,
    *,
    case: Case,
    team: Team,
    roster: Roster,
    paging: Paging,
    at: datetime,
    reason: str,
    actor: str,
    opened: bool,
) -> None:
    """Add the DMs, the advisor and the channel post of one paging, and their timeline events."""
    assert case.id is not None
    case.pagings += 1
    batch = case.pagings
    before = already_paged(session, case_id=case.id)
    recipients = [(p, paging.role) for p in paging.paged]
    if case.language:
        everyone = before + paging.paged
        if not any((m := roster.member(p)) and speaks(m, case.language) for p in everyone):
            paging.advisor = find_advisor(roster, case.language, everyone)
            if paging.advisor:
                recipients.append((paging.advisor, "advisor"))
            else:
                add_event(
                    session,
                    case=case,
                    at=at,
                    actor=actor,
                    kind="no_speaker",
                    language=case.language,
                )

    case_id = case.id

    def page(kind: PageKind, role: str, recipient: str, text: str, blocks: list[Block]) -> None:
        add_page(
            session,
            team_id=case.team_id,
            case_id=case_id,
            batch=batch,
            step=paging.step,
            level=paging.level,
            kind=kind,
            role=role,
            recipient=recipient,
            text=text,
            blocks=blocks,
            at=at,
        )

    for person, role in recipients:
        text, blocks = messages.direct_message(
            key=case.key,
            case_type=case.type,
            severity=case.severity,
            summary=case.summary,
            restricted=case.restricted,
            language=case.language,
            level=paging.level,
            role=role,
            reason=reason,
        )
        page(PageKind.dm, role, person, text, blocks)
        add_event(
            session,
            case=case,
            at=at,
            actor=actor,
            kind="paged",
            person=person,
            level=paging.level,
            role=role,
        )
    if team.channel:
        text, blocks = messages.channel_post(
            key=case.key,
            case_type=case.type,
            severity=case.severity,
            summary=case.summary,
            restricted=case.restricted,
            level=paging.level,
            paged=[p for p, _ in recipients],
            reason=reason,
            opened=opened,
        )
        page(PageKind.channel, "announcement", team.channel, text, blocks)
