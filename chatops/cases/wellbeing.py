"""The two private messages of the exposure budget: the daily cap note and the check-in.

Both go through the outbox as DMs, written in the transaction that decides them, under a unique
key: the cap note once per member and local day (`exposure-cap:<team>:<member>:<day>`), the
check-in once per case (`check-in:<case>`). Whichever worker inserts the key first sends it;
every other worker or a restarted one finds it and does nothing (docs/architecture.md,
invariants 4 and 5).

The words are for a tired person: no alarm, no blame, an offer rather than an order. A DM names
a case by id only, so a restricted case stays restricted (invariant 6). The audit events name
the member and the day, never the time spent: that figure is the member's and the managers'.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from sqlmodel import Session, select

from chatops import audit
from chatops.blockkit import context, section
from chatops.cases import exposure
from chatops.cases.exposure_settings import load_exposure
from chatops.cases.models import Case
from chatops.casetypes import Severity
from chatops.db import Database
from chatops.logs import correlated
from chatops.outbox import queue as outbox
from chatops.outbox.models import OutboxMessage, Topic
from rota.models import Member

log = logging.getLogger(__name__)

CAP_KIND = "exposure.cap"
CHECK_IN_KIND = "exposure.check_in"


def hours_text(spent: timedelta) -> str:
    """`4 h 10 min`, `45 min`: how long, as a person says it (whole minutes)."""
    minutes = int(spent.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"


def cap_note(spent: timedelta) -> str:
    return (
        f"Hi, a quiet note just for you: you have spent about {hours_text(spent)} on difficult "
        "cases today. That is a lot for anyone, and it is good work.\n"
        "For the rest of your day I will page someone else first for new graphic cases when "
        "there is someone to page; you can still take any case you choose.\n"
        "If you would like to hand over what you are holding, `/ts case assign TS-… @teammate` "
        "does it, or ask a teammate or your manager. Nobody will mind. A break, some air, "
        "something ordinary: all of it counts."
    )


def check_in_note(key: str) -> str:
    return (
        f"Thank you for seeing {key} through.\n"
        "Cases like this one can stay with a person after they close. If you would like a "
        "pause, someone to talk to, or to sit out the next one, tell your manager or a "
        "teammate: that is what the team is for. No need to answer this message."
    )


def _cap_key(team_id: int, member: str, day: date) -> str:
    return f"exposure-cap:{team_id}:{member}:{day.isoformat()}"


def check_in(session: Session, *, case: Case, at: datetime) -> bool:
    """After `case` is resolved: its assignee gets a check-in when it was a sev1 or graphic.

    Returns whether one was queued (never twice for a case).
    """
    assert case.id is not None
    if case.assignee is None:
        return False
    graphic = load_exposure(session, team_id=case.team_id).is_graphic(case.type)
    if case.severity != Severity.sev1.value and not graphic:
        return False
    text = check_in_note(case.key)
    return outbox.enqueue(
        session,
        topic=Topic.care,
        team_id=case.team_id,
        key=f"check-in:{case.id}",
        kind=CHECK_IN_KIND,
        recipient=case.assignee,
        text=text,
        blocks=[section(text)],
        at=at,
        case_id=case.id,
    )


def send_cap_notes(db: Database, *, now: datetime) -> int:
    """The worker's duty: every member who reached the daily cap in their local day gets the
    note, once. Returns how many were queued."""
    with db.transaction() as session:
        holders = exposure.recent_holders(session, now=now)
    queued = 0
    for team_id, member in holders:
        with correlated():
            try:
                queued += _cap_note(db, team_id=team_id, member=member, now=now)
            except Exception:
                log.exception("exposure cap check failed", extra={"team_id": team_id})
    return queued


def _member_zone(session: Session, team_id: int, member: str) -> str | None:
    row = session.exec(
        select(Member.tz).where(Member.team_id == team_id, Member.slack_id == member)
    ).first()
    return row


def _already(session: Session, key: str) -> bool:
    found = session.exec(select(OutboxMessage.id).where(OutboxMessage.key == key)).first()
    return found is not None


def _cap_note(db: Database, *, team_id: int, member: str, now: datetime) -> int:
    with db.transaction() as session:
        tz = _member_zone(session, team_id, member)
        settings = load_exposure(session, team_id=team_id)
        if tz is None or not settings.graphic:
            return 0  # no longer a member, or the team counts no type as graphic
        day, _, _ = exposure.day_of(tz, now)
        key = _cap_key(team_id, member, day)
        if _already(session, key):
            return 0
        spent = exposure.today(session, team_id=team_id, member=member, tz=tz, now=now)
        if spent < settings.cap:
            return 0
        text = cap_note(spent)
        if not outbox.enqueue(
            session,
            topic=Topic.care,
            team_id=team_id,
            key=key,
            kind=CAP_KIND,
            recipient=member,
            text=text,
            blocks=[section(text), context("Only you see this message.")],
            at=now,
        ):
            return 0
        audit.record(
            session,
            at=now,
            actor="system",
            action="exposure.cap_note",
            subject=f"member:{member}",
            team_id=team_id,
            detail={"member": member, "day": day.isoformat()},
        )
    return 1


def next_cap_at(db: Database, *, now: datetime) -> datetime | None:
    """The soonest instant a member still holding a graphic case reaches the cap, when nobody
    hands it over first (the console steps its clock through it)."""
    with db.transaction() as session:
        holders = exposure.recent_holders(session, now=now)
        soonest: datetime | None = None
        for team_id, member in holders:
            tz = _member_zone(session, team_id, member)
            settings = load_exposure(session, team_id=team_id)
            if tz is None or not settings.graphic or not exposure.holding(session, member=member):
                continue
            day, _, day_end = exposure.day_of(tz, now)
            if _already(session, _cap_key(team_id, member, day)):
                continue
            spent = exposure.today(session, team_id=team_id, member=member, tz=tz, now=now)
            at = now + max(settings.cap - spent, timedelta(seconds=1))
            if at < day_end:
                soonest = at if soonest is None else min(soonest, at)
    return soonest
