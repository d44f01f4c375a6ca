"""What `/ts case report`, `/ts case report-due` and `/ts refer` do, over one session.

The same rules as every case change: members only, need-to-know on restricted cases (refusals
audited), one audit event per change in the same transaction with ids only, and a refusal
before anything is written.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from chatops import audit
from chatops.blockkit import blank, user_text
from chatops.cases import access, legal
from chatops.cases.lookup import get_case
from chatops.cases.models import Case, CaseStatus
from chatops.cases.referrals import (
    Referral,
    earlier_kind,
    parse_agency,
    parse_basis,
    parse_country,
    parse_kind,
)
from chatops.cases.timeline import add_event
from chatops.errors import Refused
from chatops.team import Actor, get_team, require_member


def _case_for(
    session: Session, *, team_id: int, actor: Actor | None, key: str, at: datetime, action: str
) -> tuple[Actor, Case]:
    team = get_team(session, team_id)
    who = require_member(session, team, actor)
    case = get_case(session, team_id=team_id, key=key, for_update=True)
    access.require_access(session, case=case, actor=who, at=at, action=action)
    return who, case


def _record(
    session: Session, case: Case, who: Actor, at: datetime, action: str, **detail: object
) -> None:
    audit.record(
        session,
        at=at,
        actor=who.slack_id,
        action=action,
        subject=case.key,
        team_id=case.team_id,
        detail=detail,
    )


def _open_clock(session: Session, case: Case) -> legal.ReportClock:
    clock = legal.clock_of(session, case.id)
    if clock is None:
        raise Refused(
            f"{case.key} has no reporting deadline; give it one with "
            f"`/ts case report-due {case.key} 24h`"
        )
    if clock.filed_at is not None:
        raise Refused(
            f"{case.key}'s report was already filed as {user_text(clock.external_id or '')} "
            f"by <@{clock.filed_by}>"
        )
    if clock.declined_at is not None:
        raise Refused(
            f"<@{clock.declined_by}> already recorded that no report is made for {case.key}"
        )
    return clock


def file_report(
    session: Session,
    *,
    team_id: int,
    actor: Actor | None,
    key: str,
    at: datetime,
    external_id: str,
    preserve_for: timedelta = legal.PRESERVE_FOR,
) -> legal.ReportClock:
    """Record the filing: who, when, the clearinghouse's id; the report is preserved from now."""
    who, case = _case_for(session, team_id=team_id, actor=actor, key=key, at=at, action="report")
    report_id = legal.check_external_id(external_id)
    clock = _open_clock(session, case)
    clock.filed_at, clock.filed_by, clock.external_id = at, who.slack_id, report_id
    clock.preserve_until = legal.preserve_until(at, preserve_for)
    cancelled = legal.stop_reminders(session, clock)
    add_event(session, case=case, at=at, actor=who.slack_id, kind="report_filed", report=report_id)
    _record(
        session,
        case,
        who,
        at,
        "case.report_filed",
        report=report_id,
        preserve_until=clock.preserve_until.isoformat(),
        reminders_cancelled=cancelled,
    )
    return clock


def decline_report(
    session: Session, *, team_id: int, actor: Actor | None, key: str, at: datetime, reason: str
) -> legal.ReportClock:
    """Record why no report is made; the reason stays in the timeline (restricted text)."""
    who, case = _case_for(session, team_id=team_id, actor=actor, key=key, at=at, action="report")
    if blank(reason):
        raise Refused("say why no report is made")
    clock = _open_clock(session, case)
    clock.declined_at, clock.declined_by = at, who.slack_id
    cancelled = legal.stop_reminders(session, clock)
    add_event(session, case=case, at=at, actor=who.slack_id, kind="no_report", text=reason.strip())
    _record(
        session,
        case,
        who,
        at,
        "case.report_declined",
        length=len(reason.strip()),
        reminders_cancelled=cancelled,
    )
    return clock


def opt_in(
    session: Session, *, team_id: int, actor: Actor | None, key: str, at: datetime, within: str
) -> legal.ReportClock:
    """Give a case of any type a reporting deadline `within` from now."""
    who, case = _case_for(
        session, team_id=team_id, actor=actor, key=key, at=at, action="report-due"
    )
    duration = legal.parse_deadline(within)
    if case.status == CaseStatus.resolved:
        raise Refused(f"{case.key} is resolved; it takes no reporting deadline")
    clock = legal.clock_of(session, case.id)
    if clock is not None:
        raise Refused(
            f"{case.key} already has a reporting deadline ({clock.deadline_at:%Y-%m-%d %H:%M} UTC)"
        )
    assert case.id is not None
    clock = legal.start(session, case_id=case.id, team_id=case.team_id, at=at, within=duration)
    add_event(
        session,
        case=case,
        at=at,
        actor=who.slack_id,
        kind="report_due",
        deadline=clock.deadline_at.isoformat(),
    )
    _record(session, case, who, at, "case.report_due", deadline=clock.deadline_at.isoformat())
    return clock


def refer(
    session: Session,
    *,
    team_id: int,
    actor: Actor | None,
    key: str,
    at: datetime,
    agency: str,
    country: str,
    basis: str,
    note: str = "",
    kind: str | None = None,
) -> Referral:
    """Log a disclosure to an agency; the audit names agency, country and basis, not the note."""
    who, case = _case_for(session, team_id=team_id, actor=actor, key=key, at=at, action="refer")
    name = parse_agency(agency.strip())
    referral = Referral(
        case_id=case.id or 0,
        team_id=case.team_id,
        at=at,
        by=who.slack_id,
        agency=name,
        country=parse_country(country.strip()),
        basis=parse_basis(basis.strip()).value,
        kind=parse_kind(
            kind.strip() if kind else None,
            name,
            earlier_kind(
                session,
                team_id=case.team_id,
                agency=name,
                visible=lambda case_id: _visible(session, case_id, who),
            ),
        ).value,
        note=note.strip(),
    )
    session.add(referral)
    session.flush()
    add_event(
        session,
        case=case,
        at=at,
        actor=who.slack_id,
        kind="referred",
        agency=referral.agency,
        country=referral.country,
        basis=referral.basis,
    )
    _record(
        session,
        case,
        who,
        at,
        "case.refer",
        referral=referral.id,
        agency=referral.agency,
        country=referral.country,
        basis=referral.basis,
        kind=referral.kind,
        with_note=bool(referral.note),
    )
    return referral


def _visible(session: Session, case_id: int, who: Actor) -> bool:
    """Whether `who` may see case `case_id` (its referrals among them)."""
    found = session.get(Case, case_id)
    return found is not None and access.can_see(session, case=found, actor=who)
