"""Walking a case up its policy's ladder: resolve a step's people, page them, set the next timer.

Everything here runs inside the caller's transaction (a command, or the worker firing a timer),
so the pages, the timeline, the audit event and the next timer exist together or not at all.
A step that resolves to nobody is skipped at once and recorded; a rota gap pages the managers
instead (docs/architecture.md, invariant 3); a case language nobody paged speaks brings in an
advisor who does.
After the last level an unacknowledged case pages the admins and the on-call again every
`final_repeat` (sev1/sev2 by default): the ladder never goes quiet. A `hours: working` policy
holds each DM until its recipient's working hours, and its timeouts count from then.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from chatops import audit
from chatops.blockkit import Block
from chatops.cases import exposure, timers
from chatops.cases.exposure_settings import load_exposure
from chatops.cases.models import Case
from chatops.cases.timeline import add_event
from chatops.casetypes import Severity
from chatops.escalation import messages
from chatops.escalation.models import PageKind
from chatops.escalation.pages import IS_PAGE, URGENT_MAX_BACKOFF_S, add_page
from chatops.escalation.policy import ADMINS_LEVEL, PolicySpec, Step, ladder
from chatops.escalation.targets import (
    Roster,
    find_advisor,
    load_roster,
    prefer_rested,
    resolve_targets,
    speaks,
)
from chatops.outbox.models import OutboxMessage
from rota.models import Team

log = logging.getLogger(__name__)

#: Severities whose pages retry at most `URGENT_MAX_BACKOFF_S` apart while Slack fails.
URGENT = frozenset({Severity.sev1.value, Severity.sev2.value})


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
    no_speaker: str | None = None  # the case's language, when nobody on the team speaks it
    held_until: datetime | None = None  # working hours: when the first DM goes out
    repeating: bool = False  # a final repeat after the last level
    spared: int = 0  # people left out of a graphic case's level: over their exposure cap


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
    due_from: datetime | None = None,
    repeat: bool = False,
) -> Paging:
    """Page ladder step `step` of `case` (skipping empty steps) and schedule the next one.

    `reason` goes into the messages as is: callers keep restricted text out of it.
    `due_from` is when this step was due (a worker catching up after an outage): the next
    timeout counts from then, not from `at`. `repeat` pages the last level again, with the
    current on-call beside the admins.
    """
    assert case.id is not None
    policy = policy_of(case)
    steps = ladder(policy)
    roster = load_roster(session, team, at)
    result = Paging(step=step, level=steps[step].level, repeating=repeat)
    people: list[str] = []
    spent = _spent(session, case=case, roster=roster, at=at)
    for current in [] if repeat else steps[step:]:
        resolution = resolve_targets(roster, current.targets)
        people, role = resolution.people, "responder"
        if not people and resolution.gap:
            people, role = roster.managers(), "fallback"
            add_event(session, case=case, at=at, actor=actor, kind="fallback", level=current.level)
        rested = prefer_rested(people, spent)
        result.spared += len(people) - len(rested)
        people = rested
        result.step, result.level, result.role = current.index, current.level, role
        if people:
            break
        result.skipped.append(current.level)
        add_event(session, case=case, at=at, actor=actor, kind="skipped", level=current.level)
    if repeat:
        result.step, result.level, result.role = len(steps) - 1, ADMINS_LEVEL, "repeat"
        people = list(dict.fromkeys(roster.admins() + [o.slack_id for o in roster.on_call]))
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
        working_hours=policy.working_hours,
    )
    base = due_from or at
    if result.held_until is not None and result.held_until > at:
        base = max(base, result.held_until)  # a held page's timeout starts when it goes out
    wait = steps[result.step].wait
    last = wait is None
    if last:
        wait = policy.repeat_every(case.severity)
    if wait is not None:
        result.next_due = base + wait
        following = result.step if last else result.step + 1
        timers.schedule(session, case=case, step=following, due_at=result.next_due, at=at)
    else:
        timers.cancel(session, case_id=case.id)
    if last and not repeat:
        every = policy.repeat_every(case.severity)
        minutes: dict[str, Any] = {}
        if every is not None:
            minutes["every"] = int(every.total_seconds() // 60)
        add_event(
            session, case=case, at=at, actor=actor, kind="last_level", level=result.level, **minutes
        )
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
            "repeat": repeat,
            "spared": result.spared,
        },
    )
    return result


def _spent(session: Session, *, case: Case, roster: Roster, at: datetime) -> set[str]:
    """Who reached the daily exposure cap, when `case` is graphic (else nobody is spared)."""
    if not load_exposure(session, team_id=case.team_id).is_graphic(case.type):
        return set()
    zones = {m.slack_id: m.tz for m in roster.members}
    return exposure.over_cap(session, team_id=case.team_id, zones=zones, now=at)


def page_member(
    session: Session,
    *,
    case: Case,
    team: Team,
    member: str,
    at: datetime,
    actor: str,
    reason: str,
    grants_access: bool,
) -> Paging:
    """Page one member directly (an escalation to a person), keeping the ladder's timer.

    `grants_access` says whether the page gives its recipient a restricted case: only when
    `actor` had access (need-to-know, `chatops.cases.access`).
    """
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
        grants_access=grants_access,
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
    grants_access: bool = True,
    working_hours: bool = False,
) -> None:
    """Add the DMs, the advisor and the channel post of one paging, and their timeline events.

    Every page row records who caused it (`actor`); a policy's pages give access to their case.
    With `working_hours` each DM is due at its recipient's next working instant.
    """
    assert case.id is not None
    case.pagings += 1
    batch = case.pagings
    before = already_paged(session, case_id=case.id)
    recipients = [(p, paging.role) for p in paging.paged]
    if case.language:
        everyone = before + paging.paged
        if not any((m := roster.member(p)) and speaks(m, case.language) for p in everyone):
            paging.advisor = find_advisor(roster, case.language, everyone, at)
            if paging.advisor:
                recipients.append((paging.advisor, "advisor"))
            elif not any(speaks(m, case.language) for m in roster.members):
                paging.no_speaker = case.language
                add_event(
                    session,
                    case=case,
                    at=at,
                    actor=actor,
                    kind="no_speaker",
                    language=case.language,
                )

    case_id = case.id

    def page(
        kind: PageKind,
        role: str,
        recipient: str,
        text: str,
        blocks: list[Block],
        due_at: datetime = at,
    ) -> None:
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
            paged_by=actor,
            grants_access=grants_access,
            due_at=due_at,
            max_backoff_s=URGENT_MAX_BACKOFF_S if case.severity in URGENT else None,
        )

    for person, role in recipients:
        due_at = at
        if working_hours:
            due_at = roster.working_from(person, at)
            first = paging.held_until or due_at
            paging.held_until = min(first, due_at)
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
        page(PageKind.dm, role, person, text, blocks, due_at)
        add_event(
            session,
            case=case,
            at=at,
            actor=actor,
            kind="paged",
            person=person,
            level=paging.level,
            role=role,
            **({"held_until": due_at.isoformat()} if due_at > at else {}),
        )
    if team.channel:
        text, blocks = messages.channel_post(
            key=case.key,
            case_type=case.type,
            severity=case.severity,
            summary=case.summary,
            restricted=case.restricted,
            level=messages.REPEAT_LEVEL if paging.role == "repeat" else paging.level,
            paged=[p for p, _ in recipients],
            reason=reason,
            opened=opened,
        )
        page(PageKind.channel, "announcement", team.channel, text, blocks)
