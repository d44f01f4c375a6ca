"""Opening a case, from a member (`/ts case open`) or from anyone (`/ts emergency`).

The case, its first page and its escalation timer are written in one transaction with the
audit event (docs/architecture.md, invariants 4 and 7).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from chatops import audit
from chatops.blockkit import blank
from chatops.cases import ladder, legal
from chatops.cases.ids import next_case_key
from chatops.cases.lookup import parse_severity, parse_type
from chatops.cases.models import (
    RESTRICTED_BY_DEFAULT,
    Case,
    Severity,
)
from chatops.cases.timeline import add_event
from chatops.errors import Refused
from chatops.escalation.store import policy_for_case
from chatops.languages import known_language, spoken
from chatops.team import Actor, get_team, members_by_slack_id, require_member
from rota.models import Team


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
    source: str | None = None,
) -> tuple[Case, ladder.Paging]:
    """Open a case, page its policy's first level now and set the escalation timer.

    A child-safety case starts its legal reporting clock at the same time: its policy's
    `report_within`, else `report_within` here (the deployment's default).
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
        source=source,
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
    severity: str = Severity.sev2.value,
    details: str = "",
    source: str = "emergency",
) -> tuple[Case, ladder.Paging]:
    """A case opened by someone outside the team, paged like any other: `/ts emergency`, the
    message shortcut (`source` "shortcut") or another tool (`source` "intake").

    The reporter is a Slack user id the team may not know (or `intake:NAME`); callers pace
    them and tell them nothing but the case id.
    """
    return _open(
        session,
        team=get_team(session, team_id),
        reporter=reporter,
        at=at,
        case_type=case_type,
        severity=severity,
        summary=summary,
        details=details,
        report_within=report_within,
        source=source,
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
    if blank(summary):
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
        within = policy.report_deadline(report_within)
        legal.start(session, case_id=case.id, team_id=team_id, at=at, within=within)
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
