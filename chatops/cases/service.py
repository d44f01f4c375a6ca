"""The case service: what `/ts case …`, `/ts ack` and `/ts escalate` do, over one session.

Each function checks permissions itself (not only the Slack layer), changes the case, and
writes the audit event in the same transaction (docs/architecture.md, invariant 7). Refusals raise
`Refused` before
anything is written, so bad input changes nothing. Restricted text (summary, details, notes,
reasons) goes into case rows only: never into audit details or logs (docs/architecture.md,
invariant 6).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlmodel import Session, col, select

from chatops import audit
from chatops.blockkit import mention, quote_input, user_text
from chatops.cases import access, ladder, legal, timers
from chatops.cases.ids import next_case_key, normalise_key
from chatops.cases.models import (
    RESTRICTED_BY_DEFAULT,
    Case,
    CaseEvent,
    CaseStatus,
    CaseType,
    Severity,
)
from chatops.cases.referrals import Referral, referrals_of
from chatops.cases.timeline import PAGE_SIZE, add_event, count_events, events_page
from chatops.errors import Refused
from chatops.escalation.models import PageKind
from chatops.escalation.pages import IS_PAGE, cancel_held_pages, cancel_pending_pages, pages_of
from chatops.escalation.policy import ADMINS_LEVEL
from chatops.escalation.store import policy_for_case
from chatops.languages import known_language, spoken
from chatops.outbox.models import OutboxMessage
from chatops.team import Actor, get_team, member_of, members_by_slack_id, require_member
from rota.models import Team


def _member_and_case(
    session: Session, team_id: int, actor: Actor | None, key: str
) -> tuple[Team, Actor, Case]:
    """The team, the acting member (refused if not one) and the case, locked for a change."""
    team = get_team(session, team_id)
    who = require_member(session, team, actor)
    return team, who, get_case(session, team_id=team_id, key=key, for_update=True)


def _audit(
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


def open_case(
    session: Session,
    *,
    team_id: int,
    actor: Actor | None,
    at: datetime,
    case_type: str,
    severity: str,
    summary: str,
    details: str = "",
    language: str | None = None,
    restricted: bool | None = None,
    report_within: timedelta = legal.REPORT_WITHIN,
) -> tuple[Case, ladder.Paging]:
    """Open a case, page its policy's first level now and set the escalation timer.

    A child-safety case starts its legal reporting clock (`report_within`) at the same time.
    """
    team = get_team(session, team_id)
    who = require_member(session, team, actor)
    return _open(
        session,
        team=team,
        reporter=who.slack_id,
        at=at,
        case_type=case_type,
        severity=severity,
        summary=summary,
        details=details,
        language=language,
        restricted=restricted,
        report_within=report_within,
    )


def open_emergency(
    session: Session,
    *,
    team_id: int,
    reporter: str,
    at: datetime,
    case_type: str,
    summary: str,
    report_within: timedelta = legal.REPORT_WITHIN,
) -> tuple[Case, ladder.Paging]:
    """A case opened by someone outside the team (`/ts emergency`), paged like any other.

    The reporter is a Slack user id the team may not know; callers pace them and tell them
    nothing but the case id.
    """
    return _open(
        session,
        team=get_team(session, team_id),
        reporter=reporter,
        at=at,
        case_type=case_type,
        severity=Severity.sev2.value,
        summary=summary,
        report_within=report_within,
        source="emergency",
    )


def _open(
    session: Session,
    *,
    team: Team,
    reporter: str,
    at: datetime,
    case_type: str,
    severity: str,
    summary: str,
    details: str = "",
    language: str | None = None,
    restricted: bool | None = None,
    report_within: timedelta = legal.REPORT_WITHIN,
    source: str | None = None,
) -> tuple[Case, ladder.Paging]:
    assert team.id is not None
    team_id = team.id
    kind, sev = parse_type(case_type), parse_severity(severity)
    if not summary.strip():
        raise Refused("a case needs a summary")
    if language and not known_language(language):
        team_speaks = spoken(
            [
                x
                for m in members_by_slack_id(session, team_id).values()
                for x in m.languages.split(",")
            ]
        )
        raise Refused(
            f"'{language}' is not a language code like ar or pt-BR (ISO 639-1); "
            f"your team speaks {team_speaks}"
        )
    policy = policy_for_case(session, team_id=team_id, case_type=kind, severity=sev)
    case = Case(
        team_id=team_id,
        key=next_case_key(session, team_id=team_id, at=at),
        type=kind.value,
        severity=sev.value,
        summary=summary.strip(),
        details=details.strip(),
        language=language.lower() if language else None,
        restricted=kind in RESTRICTED_BY_DEFAULT if restricted is None else restricted,
        reporter=reporter,
        policy=policy.model_dump_json(),
        opened_at=at,
    )
    session.add(case)
    session.flush()
    assert case.id is not None
    if legal.needs_clock(case.type):
        legal.start(session, case_id=case.id, team_id=team_id, at=at, within=report_within)
    add_event(session, case=case, at=at, actor=reporter, kind="opened", policy=policy.name)
    detail: dict[str, Any] = {
        "type": case.type,
        "severity": case.severity,
        "restricted": case.restricted,
        "language": case.language,
        "policy": policy.name,
    }
    if source is not None:
        detail["source"] = source
    audit.record(
        session,
        at=at,
        actor=reporter,
        action="case.open",
        subject=case.key,
        team_id=team_id,
        detail=detail,
    )
    paging = ladder.page_step(
        session, case=case, team=team, step=0, at=at, actor=reporter, reason="", opened=True
    )
    return case, paging


def acknowledge(
    session: Session, *, team_id: int, actor: Actor | None, key: str, at: datetime
) -> Case:
    """Stop the ladder: the case is taken. The acknowledger becomes the assignee if none."""
    _, who, case = _member_and_case(session, team_id, actor, key)
    access.require_access(session, case=case, actor=who, at=at, action="acknowledge")
    if case.status == CaseStatus.resolved:
        raise Refused(f"{case.key} is resolved; there is nothing to acknowledge")
    if case.status == CaseStatus.acknowledged:
        raise Refused(f"{case.key} was already acknowledged by <@{case.acknowledged_by}>")
    assert case.id is not None
    case.status = CaseStatus.acknowledged.value
    case.acknowledged_at, case.acknowledged_by = at, who.slack_id
    case.assignee = case.assignee or who.slack_id
    cancelled = timers.cancel(session, case_id=case.id)
    held = cancel_held_pages(session, case_id=case.id, at=at)
    add_event(session, case=case, at=at, actor=who.slack_id, kind="acknowledged")
    _audit(
        session,
        case,
        who=who,
        at=at,
        action="case.acknowledge",
        detail={"timers_cancelled": cancelled, "assignee": case.assignee, "held_cancelled": held},
    )
    return case


def escalate(
    session: Session,
    *,
    team_id: int,
    actor: Actor | None,
    key: str,
    at: datetime,
    to_level: str | None = None,
    to_member: str | None = None,
    reason: str = "",
) -> tuple[Case, ladder.Paging]:
    """Page the next level, a named level ("2", "admins") or one member, with a reason.

    The case is open again until someone acknowledges, and the ladder's timer restarts. On a
    restricted case only those with access may escalate, so a member paged directly is given
    access by someone who had it (never by themselves).
    """
    team, who, case = _member_and_case(session, team_id, actor, key)
    access.require_access(session, case=case, actor=who, at=at, action="escalate")
    if case.status == CaseStatus.resolved:
        raise Refused(f"{case.key} is resolved; open a new case instead of escalating")
    assert case.id is not None
    steps = ladder.steps_of(case)
    if to_member is not None:
        if member_of(session, team, to_member) is None:
            raise Refused(
                f"{mention(to_member)} is not a member of the {user_text(team.name)} team"
            )
        target = None
    elif to_level is not None:
        target = _level_step(case, to_level)
    else:
        if case.step + 1 >= len(steps):
            raise Refused(f"{case.key} is already at the last level ({ADMINS_LEVEL})")
        target = case.step + 1
    detail = {"to_member": to_member, "to_step": target, "from_step": case.step}
    case.status = CaseStatus.open.value
    add_event(
        session, case=case, at=at, actor=who.slack_id, kind="escalated", text=reason, **detail
    )
    _audit(
        session,
        case,
        who=who,
        at=at,
        action="case.escalate",
        detail={**detail, "with_reason": bool(reason)},
    )
    # The reason is typed text: on a restricted case it stays in the timeline, out of messages.
    shown = f": {user_text(reason)}" if reason and not case.restricted else ""
    public = f"Escalated by <@{who.slack_id}>{shown}"
    if target is None and to_member is not None:
        paging = ladder.page_member(
            session,
            case=case,
            team=team,
            member=to_member,
            at=at,
            actor=who.slack_id,
            reason=public,
            grants_access=access.can_see(session, case=case, actor=who),
        )
        wait = steps[case.step].wait
        if wait is not None and case.step + 1 < len(steps):
            timers.schedule(session, case=case, step=case.step + 1, due_at=at + wait, at=at)
        return case, paging
    assert target is not None
    paging = ladder.page_step(
        session, case=case, team=team, step=target, at=at, actor=who.slack_id, reason=public
    )
    return case, paging


def _level_step(case: Case, level: str) -> int:
    steps = ladder.steps_of(case)
    wanted = level.lower()
    names = list(dict.fromkeys(s.level for s in steps))
    if wanted not in names:
        raise Refused(f"{case.key} has no level {level}; its levels are {', '.join(names)}")
    later = [s.index for s in steps if s.level == wanted and s.index > case.step]
    if not later:
        current = steps[case.step].level
        raise Refused(f"{case.key} is already at level {current}; level {level} is not above it")
    return later[0]


def reassign(
    session: Session, *, team_id: int, actor: Actor | None, key: str, at: datetime, assignee: str
) -> Case:
    """Give the case to another member: the assignee, the reporter or a manager may."""
    team, who, case = _member_and_case(session, team_id, actor, key)
    access.require_access(session, case=case, actor=who, at=at, action="assign")
    if case.status == CaseStatus.resolved:
        raise Refused(f"{case.key} is resolved; it cannot be reassigned")
    if not (who.is_manager or who.slack_id in {case.assignee, case.reporter}):
        raise Refused(f"only the assignee, the reporter or a manager can reassign {case.key}")
    if member_of(session, team, assignee) is None:
        raise Refused(f"{mention(assignee)} is not a member of the {user_text(team.name)} team")
    if assignee == case.assignee:
        raise Refused(f"{case.key} is already assigned to <@{assignee}>")
    before, case.assignee = case.assignee, assignee
    add_event(session, case=case, at=at, actor=who.slack_id, kind="assigned", assignee=assignee)
    _audit(
        session, case, who=who, at=at, action="case.assign", detail={"from": before, "to": assignee}
    )
    return case


def take(session: Session, *, team_id: int, actor: Actor | None, key: str, at: datetime) -> Case:
    """The Take case button: the clicker becomes the assignee, and an open case is acknowledged.

    Anyone in the team who may see the case may take it (a restricted one: `access.can_see`),
    so a responder can pick up work without asking a manager to reassign it. One audit event
    says both what changed hands and whether the ladder stopped.
    """
    _, who, case = _member_and_case(session, team_id, actor, key)
    access.require_access(session, case=case, actor=who, at=at, action="take")
    if case.status == CaseStatus.resolved:
        raise Refused(f"{case.key} is resolved; there is nothing to take")
    acknowledging = case.status == CaseStatus.open
    if case.assignee == who.slack_id and not acknowledging:
        raise Refused(f"{case.key} is already yours")
    assert case.id is not None
    before = case.assignee
    cancelled = 0
    if before != who.slack_id:
        case.assignee = who.slack_id
        add_event(
            session, case=case, at=at, actor=who.slack_id, kind="assigned", assignee=who.slack_id
        )
    if acknowledging:
        case.status = CaseStatus.acknowledged.value
        case.acknowledged_at, case.acknowledged_by = at, who.slack_id
        cancelled = timers.cancel(session, case_id=case.id)
        cancel_held_pages(session, case_id=case.id, at=at)
        add_event(session, case=case, at=at, actor=who.slack_id, kind="acknowledged")
    _audit(
        session,
        case,
        who=who,
        at=at,
        action="case.take",
        detail={"from": before, "acknowledged": acknowledging, "timers_cancelled": cancelled},
    )
    return case


def add_note(
    session: Session, *, team_id: int, actor: Actor | None, key: str, at: datetime, text: str
) -> CaseEvent:
    """Add a note to the timeline; on a restricted case only those it was given to may."""
    _, who, case = _member_and_case(session, team_id, actor, key)
    access.require_access(session, case=case, actor=who, at=at, action="note")
    if not text.strip():
        raise Refused("the note is empty")
    event = add_event(session, case=case, at=at, actor=who.slack_id, kind="note", text=text.strip())
    _audit(session, case, who=who, at=at, action="case.note", detail={"length": len(text.strip())})
    return event


def resolve(
    session: Session,
    *,
    team_id: int,
    actor: Actor | None,
    key: str,
    at: datetime,
    reason: str = "",
) -> Case:
    """Close the case: every timer and every unsent page is cancelled."""
    _, who, case = _member_and_case(session, team_id, actor, key)
    access.require_access(session, case=case, actor=who, at=at, action="resolve")
    if case.status == CaseStatus.resolved:
        raise Refused(f"{case.key} is already resolved")
    if not (who.is_manager or who.slack_id in {case.assignee, case.reporter}):
        raise Refused(f"only the assignee, the reporter or a manager can resolve {case.key}")
    assert case.id is not None
    clock = legal.clock_of(session, case.id)
    blocked = legal.unresolvable(clock, case.key)
    if blocked is not None:
        raise Refused(blocked)
    if clock is not None:
        legal.stop_reminders(session, clock)
    case.status = CaseStatus.resolved.value
    case.resolved_at, case.resolved_by = at, who.slack_id
    cancelled_timers = timers.cancel(session, case_id=case.id)
    cancelled_pages = cancel_pending_pages(session, case_id=case.id)
    add_event(session, case=case, at=at, actor=who.slack_id, kind="resolved", text=reason)
    _audit(
        session,
        case,
        who=who,
        at=at,
        action="case.resolve",
        detail={"timers_cancelled": cancelled_timers, "pages_cancelled": cancelled_pages},
    )
    return case


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
    total = count_events(session, case=case)
    last_page = max(1, -(-total // PAGE_SIZE))
    if page < 1 or page > last_page:
        raise Refused(
            f"{case.key}'s timeline has {total} entries: pages 1 to {last_page} "
            f"({PAGE_SIZE} a page)"
        )
    visible = access.record_view(session, case=case, actor=who, at=at)
    timer = timers.pending_timer(session, case_id=case.id)
    return CaseView(
        case=case,
        details_visible=visible,
        timeline=events_page(session, case=case, page=page),
        pages=pages_of(session, case_id=case.id),
        next_escalation=timer.due_at if timer else None,
        level=ladder.steps_of(case)[case.step].level,
        page=page,
        timeline_total=total,
        timeline_pages=last_page,
        report=legal.clock_of(session, case.id),
        referrals=referrals_of(session, case.id) if visible else None,
    )


#: What `/ts case edit` may correct, by the word typed.
EDITABLE = {"summary": "summary", "type": "type", "sev": "severity", "severity": "severity"}


def edit(
    session: Session,
    *,
    team_id: int,
    actor: Actor | None,
    key: str,
    at: datetime,
    field: str,
    value: str,
) -> tuple[Case, str]:
    """Correct a case's summary, type or severity; returns the case and the old value.

    The old value stays in the timeline (with the case's own restriction). The audit event
    names the field, and for type and severity the values; never a summary. A type that is
    restricted by default restricts the case; an edit never lifts a restriction. The case keeps
    the escalation ladder it was opened with.
    """
    _, who, case = _member_and_case(session, team_id, actor, key)
    name = EDITABLE.get(field.lower())
    if name is None:
        raise Refused(f"a case's {field} cannot be edited; edit its summary, type or sev")
    if not (who.is_manager or who.slack_id in {case.assignee, case.reporter}):
        raise Refused(f"only the assignee, the reporter or a manager can edit {case.key}")
    if not access.can_see(session, case=case, actor=who):
        raise Refused(f"{case.key} is restricted; only the people it was given to can edit it")
    detail: dict[str, Any] = {"field": name}
    if name == "summary":
        new = value.strip()
        if not new:
            raise Refused("a case needs a summary")
        if new == case.summary:
            raise Refused(f"{case.key} already has that summary")
        old, case.summary = case.summary, new
        add_event(session, case=case, at=at, actor=who.slack_id, kind="edited", text=old, **detail)
        detail["length"] = len(new)
    else:
        new = parse_type(value).value if name == "type" else parse_severity(value).value
        old = case.type if name == "type" else case.severity
        if new == old:
            raise Refused(f"{case.key} is already {new}")
        setattr(case, name, new)
        detail.update({"from": old, "to": new})
        add_event(session, case=case, at=at, actor=who.slack_id, kind="edited", **detail)
        if legal.needs_clock(new) and case.id and legal.clock_of(session, case.id) is None:
            legal.start(
                session, case_id=case.id, team_id=case.team_id, at=at, within=legal.REPORT_WITHIN
            )
            detail["report_due"] = True
        if name == "type" and CaseType(new) in RESTRICTED_BY_DEFAULT and not case.restricted:
            case.restricted = True
            detail["restricted"] = True
    _audit(session, case, who=who, at=at, action="case.edit", detail=detail)
    return case, old


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
