"""The legal reporting clock of a case: a deadline, its reminders, the filing, the preservation.

US law (18 U.S.C. 2258A) asks a provider to report apparent child sexual abuse material to the
national clearinghouse "as soon as reasonably possible" and to preserve what it reported for a
year. So a child-safety case gets a reporting deadline when it opens (any other case may opt
in); the worker DMs its assignee and the managers at 50%, 90% and 100% of the time; the case
cannot be resolved until the filing or a reason for not filing is recorded; and a filing sets a
preserve-until date before which the case must not be purged.

A reminder is an outbox row whose key names the case, the threshold and the recipient, so each
is queued exactly once however many workers run or restart. Reminders carry the case id, type
and deadline only, never its text. A no-report reason is typed text: it lives in the timeline
(restricted with its case), never in the audit trail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Field, Session, SQLModel, col, select

from chatops import audit
from chatops.blockkit import quote_input, section
from chatops.cases.models import Case, CaseStatus
from chatops.casetypes import CaseType
from chatops.clock import parse_duration
from chatops.db import Database, as_utc
from chatops.errors import Refused
from chatops.escalation.policy import REPORT_LONGEST, REPORT_SHORTEST
from chatops.outbox import queue as outbox
from chatops.outbox.models import OutboxMessage, Topic
from chatops.team import managers, members_by_slack_id
from rota.models import utc_column

#: Default time to report a child-safety case, from its opening (CHATOPS_REPORT_WITHIN).
REPORT_WITHIN = timedelta(hours=24)
#: How long a filed report's contents are preserved (CHATOPS_REPORT_PRESERVE_DAYS).
PRESERVE_FOR = timedelta(days=365)
#: Reminder thresholds, in percent of the time between start and deadline.
THRESHOLDS = (50, 90, 100)
#: An external report id as the clearinghouse gives it: letters, digits and a few separators.
EXTERNAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")
#: The shortest and longest deadline a case may opt in to.
SHORTEST, LONGEST = REPORT_SHORTEST, REPORT_LONGEST
REMINDER_KIND = "report.reminder"


class ReportClock(SQLModel, table=True):
    """One case's reporting duty; `next_reminder_at` is what the worker polls (NULL: done)."""

    __tablename__ = "case_report_clock"

    case_id: int = Field(foreign_key="ts_case.id", primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    started_at: datetime = utc_column(nullable=False)
    deadline_at: datetime = utc_column(nullable=False)
    reminded: int = 0  # the highest threshold (percent) already queued
    next_reminder_at: datetime | None = utc_column(nullable=True, index=True)
    filed_at: datetime | None = utc_column(nullable=True)
    filed_by: str | None = None
    external_id: str | None = None
    declined_at: datetime | None = utc_column(nullable=True)  # "no-report" recorded
    declined_by: str | None = None
    preserve_until: datetime | None = utc_column(nullable=True)


@dataclass(frozen=True)
class Settings:
    """How long to report a child-safety case, and how long to preserve a filed report."""

    report_within: timedelta = REPORT_WITHIN
    preserve_for: timedelta = PRESERVE_FOR


def threshold_at(clock: ReportClock, percent: int) -> datetime:
    started, deadline = as_utc(clock.started_at), as_utc(clock.deadline_at)
    return started + (deadline - started) * percent / 100


def _next_after(clock: ReportClock, percent: int) -> datetime | None:
    later = [p for p in THRESHOLDS if p > percent]
    return threshold_at(clock, later[0]) if later else None


def clock_of(session: Session, case_id: int | None) -> ReportClock | None:
    return session.get(ReportClock, case_id) if case_id is not None else None


def start(
    session: Session, *, case_id: int, team_id: int, at: datetime, within: timedelta
) -> ReportClock:
    """Start the case's reporting clock at `at` (in the caller's transaction)."""
    clock = ReportClock(case_id=case_id, team_id=team_id, started_at=at, deadline_at=at + within)
    clock.next_reminder_at = threshold_at(clock, THRESHOLDS[0])
    session.add(clock)
    return clock


def needs_clock(case_type: str) -> bool:
    return case_type == CaseType.child_safety.value


def parse_deadline(text: str) -> timedelta:
    """`24h`, `2d`, … within SHORTEST..LONGEST, or Refused in one line."""
    try:
        within = parse_duration(text)
    except ValueError:
        raise Refused(f"'{quote_input(text)}' is not a duration like 24h or 2d") from None
    if not SHORTEST <= within <= LONGEST:
        raise Refused("a reporting deadline is between 15m and 30d")
    return within


def preserve_until(filed_at: datetime, preserve_for: timedelta) -> datetime:
    """`preserve_for` after the filing, and never less than one calendar year (the law's
    minimum): 365 days from a date before a 29 February would end a day early."""
    try:
        year_later = filed_at.replace(year=filed_at.year + 1)
    except ValueError:  # filed on 29 February: a year later is 1 March
        year_later = filed_at.replace(year=filed_at.year + 1, month=3, day=1)
    return max(filed_at + preserve_for, year_later)


def check_external_id(text: str) -> str:
    if not EXTERNAL_ID.match(text):
        raise Refused(
            f"'{quote_input(text)}' is not a report id: letters, digits and . _ : / - only, "
            "at most 64"
        )
    return text


def unresolvable(clock: ReportClock | None, key: str) -> str | None:
    """Why a case with this clock cannot be resolved yet (one line), or None."""
    if clock is None or clock.filed_at is not None or clock.declined_at is not None:
        return None
    return (
        f"{key} has a reporting duty: record the filing with `/ts case report {key} filed "
        f"<report id>` or why none is made with `/ts case report {key} no-report <reason>` "
        "before resolving it"
    )


def stop_reminders(session: Session, clock: ReportClock) -> int:
    """No more reminders for this case; unsent ones are cancelled. Returns how many."""
    clock.next_reminder_at = None
    return outbox.cancel_pending(
        session,
        col(OutboxMessage.topic) == Topic.duty.value,
        col(OutboxMessage.case_id) == clock.case_id,
    )


def purge_hold(session: Session, *, case_id: int | None, now: datetime) -> str | None:
    """Why a case must not be purged yet for its filed report (one line, no case text), or None.

    For `chatops.cases.retention.purge_blocked`: a filed report is preserved until its date.
    """
    clock = clock_of(session, case_id)
    if clock is None or clock.preserve_until is None:
        return None
    until = as_utc(clock.preserve_until)
    if now < until:
        return f"filed report preserved until {until:%Y-%m-%d}"
    return None


# --- The worker step ------------------------------------------------------------------------


def reminder_text(key: str, case_type: str, deadline: datetime, percent: int) -> str:
    when = f"{as_utc(deadline):%Y-%m-%d %H:%M} UTC"
    if percent >= 100:
        lead = f":rotating_light: {key} ({case_type}): the report to the clearinghouse was due at "
        lead += f"{when} and is not recorded."
    else:
        lead = f":hourglass: {key} ({case_type}): {percent}% of the time to report it is gone; "
        lead += f"the report is due by {when}."
    return (
        f"{lead} Record it with `/ts case report {key} filed <report id>`, or why none is made "
        f"with `/ts case report {key} no-report <reason>`."
    )


def queue_due_reminders(db: Database, *, now: datetime, limit: int = 100) -> int:
    """Queue the reminders whose instant has come; returns how many clocks moved on.

    A worker down across several thresholds queues only the latest one passed (a 50% reminder
    after the deadline would mislead); the earlier ones are recorded as passed.
    """
    done = 0
    with db.transaction() as session:
        due = session.exec(
            select(ReportClock)
            .where(col(ReportClock.next_reminder_at) <= now)
            .order_by(col(ReportClock.next_reminder_at))
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for clock in due:
            case = session.get(Case, clock.case_id)
            if case is None or case.status == CaseStatus.resolved.value:
                clock.next_reminder_at = None
                continue
            passed = [p for p in THRESHOLDS if p > clock.reminded and threshold_at(clock, p) <= now]
            if not passed:
                clock.next_reminder_at = _next_after(clock, clock.reminded)
                continue
            percent = passed[-1]
            staff = managers(members_by_slack_id(session, case.team_id))
            recipients = list(dict.fromkeys([*([case.assignee] if case.assignee else []), *staff]))
            text = reminder_text(case.key, case.type, clock.deadline_at, percent)
            for who in recipients:
                outbox.enqueue(
                    session,
                    topic=Topic.duty,
                    team_id=case.team_id,
                    key=f"report:{case.id}:{percent}:{who}",
                    kind=REMINDER_KIND,
                    recipient=who,
                    text=text,
                    blocks=[section(text)],
                    at=now,
                    case_id=case.id,
                )
            clock.reminded = percent
            clock.next_reminder_at = _next_after(clock, percent)
            audit.record(
                session,
                at=now,
                actor="system",
                action="case.report_reminder",
                subject=case.key,
                team_id=case.team_id,
                detail={"percent": percent, "recipients": len(recipients)},
            )
            done += 1
    return done


def next_due(session: Session) -> datetime | None:
    found: datetime | None = session.exec(select(func.min(col(ReportClock.next_reminder_at)))).one()
    return found
