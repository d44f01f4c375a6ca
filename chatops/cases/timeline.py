"""A case's timeline: every step of its life, in the same transaction as the step.

`describe` turns one stored event into the plain sentence people read in `/ts case show`: who
did it and, for a page, who was paged and why. Stored kinds (`last_level`, `no_speaker`, …) are
names for the code, never shown as they are.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from chatops.blockkit import mention, user_text
from chatops.cases.models import Case, CaseEvent

#: How many timeline lines one `case show` page holds.
PAGE_SIZE = 15

#: What was disclosed to whom, and the legal record: only for those who may read the case
#: (docs/architecture.md, invariant 10). Others see the case's life, not its legal steps.
LEGAL_KINDS = ("report_filed", "no_report", "report_due", "referred", "held", "released")


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


def count_events(session: Session, *, case: Case, legal: bool = True) -> int:
    """How many timeline lines there are; `legal` False leaves out `LEGAL_KINDS`."""
    query = select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case.id)
    if not legal:
        query = query.where(col(CaseEvent.kind).not_in(LEGAL_KINDS))
    return int(session.exec(query).one())


def events_page(session: Session, *, case: Case, page: int, legal: bool = True) -> list[CaseEvent]:
    """Page `page` (from 1) of the timeline, oldest first, `PAGE_SIZE` lines a page; `legal`
    False leaves out `LEGAL_KINDS`."""
    query = select(CaseEvent).where(CaseEvent.case_id == case.id)
    if not legal:
        query = query.where(col(CaseEvent.kind).not_in(LEGAL_KINDS))
    return list(
        session.exec(
            query.order_by(col(CaseEvent.id)).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
        )
    )


def _who(slack_id: object) -> str:
    return mention(str(slack_id)) if slack_id and slack_id != "system" else "the bot"


def _level(name: object) -> str:
    text = user_text(str(name), 100)
    return f"level {text}" if text.isdigit() else f"the {text} level"


def describe(
    event: CaseEvent,
    *,
    show_text: bool,
    level_of: Callable[[int], str] | None = None,
    local: Callable[[datetime], str] | None = None,
) -> str:
    """One timeline line in plain words (no time). `show_text` False keeps restricted text out.

    `level_of` names a ladder step by its index (escalations store step indexes); `local` shows
    an instant in the reader's zone (a missed level says when it was due).
    """
    d: dict[str, Any] = json.loads(event.detail or "{}")
    by = _who(event.actor)
    text = f": {user_text(event.text, 500)}" if event.text and show_text else ""
    hidden = " (text restricted)" if event.text and not show_text else ""
    match event.kind:
        case "opened":
            policy = (
                f" (escalation policy “{user_text(str(d['policy']), 100)}”)"
                if d.get("policy")
                else ""
            )
            return f"Opened by {by}{policy}"
        case "paged":
            person = _who(d.get("person"))
            role = d.get("role")
            if role == "advisor":
                return f"Paged {person} as language advisor"
            if role == "direct":
                return f"Paged {person} directly, by {by}"
            if role == "repeat":
                return f"Paged {person} again (still unacknowledged after the last level)"
            line = f"Paged {person} at {_level(d.get('level'))}"
            if role == "fallback":
                line += " (nobody was on call there, so a manager)"
            if d.get("held_until"):
                until = datetime.fromisoformat(str(d["held_until"]))
                shown = local(until) if local is not None else until.isoformat()
                where = _level(d.get("level"))
                return f"Page to {person} at {where} held until {shown} (working hours)"
            if d.get("released"):
                line += " (the page held for working hours went out)"
            return line
        case "page_retargeted":
            return (
                f"{_who(d.get('person'))} is no longer on call at {_level(d.get('level'))}: "
                f"the page held for working hours goes to whoever is on call there now"
            )
        case "skipped":
            return f"Skipped {_level(d.get('level'))}: nobody to page there"
        case "fallback":
            return f"Nobody on call at {_level(d.get('level'))}: paging the managers instead"
        case "last_level":
            level = user_text(str(d.get("level")), 100)
            if d.get("every"):
                return (
                    f"Reached the last level ({level}): from now on the admins and the on-call "
                    f"are paged again every {d['every']} min until acknowledged"
                )
            return f"Reached the last level ({level}): no further automatic escalation"
        case "no_speaker":
            language = user_text(str(d.get("language")), 20)
            return f"Nobody on the team speaks {language}: no language advisor could be paged"
        case "missed":
            due = datetime.fromisoformat(str(d.get("due")))
            shown = local(due) if local is not None else due.isoformat()
            targets = user_text(str(d.get("targets", "")), 200)
            to = d.get("to_level")
            then = "the repeated pages" if to == "repeats" else _level(to)
            return (
                f"{_level(d.get('level'))} ({targets}) was due {shown} but the worker "
                f"was down; skipped to {then}"
            )
        case "missed_repeats":
            first = datetime.fromisoformat(str(d.get("first")))
            last = datetime.fromisoformat(str(d.get("last")))
            show = local if local is not None else datetime.isoformat
            return (
                f"{d.get('count')} repeated pages (every {d.get('every')} min, due {show(first)} "
                f"to {show(last)}) were missed while the worker was down; paging once now"
            )
        case "repeated":
            return (
                "Still unacknowledged after the last level: paged the admins and the on-call again"
            )
        case "escalated":
            target = ""
            if d.get("to_member"):
                target = f" to {_who(d['to_member'])}"
            elif isinstance(d.get("to_step"), int) and level_of is not None:
                target = f" to {_level(level_of(d['to_step']))}"
            if d.get("auto"):
                return f"Not acknowledged in time: escalated automatically{target}"
            return f"Escalated{target} by {by}{text}{hidden}"
        case "acknowledged":
            return f"Acknowledged by {by}"
        case "assigned":
            assignee = d.get("assignee")
            if assignee == event.actor:
                return f"Taken by {by}"
            return f"Assigned to {_who(assignee)} by {by}"
        case "note":
            return f"New note by {by}{text}{hidden}"
        case "resolved":
            return f"Resolved by {by}{text}{hidden}"
        case "report_filed":
            return f"Report {user_text(str(d.get('report', '')), 100)} filed, recorded by {by}"
        case "no_report":
            return f"No report is made, recorded by {by}{text}{hidden}"
        case "report_due":
            when = ""
            if d.get("deadline"):
                deadline = datetime.fromisoformat(str(d["deadline"]))
                when = f" ({local(deadline) if local is not None else deadline.isoformat()})"
            return f"Reporting deadline set{when} by {by}"
        case "referred":
            agency = user_text(str(d.get("agency", "")), 100)
            return f"Referred to {agency} ({d.get('country')}, {d.get('basis')}) by {by}"
        case "held":
            return f"Put on legal hold by {by}{text}{hidden}"
        case "released":
            return f"Released from legal hold by {by}"
        case "retriggered":
            return f"Reported again by {by}{text}{hidden}"
        case "edited":
            field = d.get("field", "")
            if field == "summary":
                was = f" (it was: {user_text(event.text, 500)})" if event.text and show_text else ""
                return f"Summary corrected by {by}{was}"
            old, new = user_text(str(d.get("from"))), user_text(str(d.get("to")))
            return f"{user_text(str(field)).capitalize()} changed from {old} to {new} by {by}"
    return f"{event.kind.replace('_', ' ').capitalize()} by {by}{text}{hidden}"
