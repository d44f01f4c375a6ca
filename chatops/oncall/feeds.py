"""Calendar subscriptions: each member's shifts (and the team's) as an iCalendar feed.

A feed lives at a secret URL, `/ical/<token>.ics`. The token is 32 random bytes (urlsafe) and
only its SHA-256 is stored, so a copy of the database does not open anyone's calendar; that is
also why a link can be shown once only: `/ts ical reset` revokes it and issues a new one. The
feed is computed on each request from the compiled rota cache, so every rota edit shows up at the
calendar's next refresh. An unknown or revoked token is answered as if nothing were there.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Field, Session, SQLModel, col, select

from chatops import audit
from chatops.clock import Clock
from chatops.db import Database
from chatops.errors import Refused
from chatops.oncall.cache import compiled_rota
from chatops.team import Actor, get_team, require_member
from rota.ical import shifts_calendar
from rota.models import Team, utc_column

FEED_BACK = timedelta(days=7)
FEED_AHEAD = timedelta(days=90)
TOKEN_BYTES = 32
#: What a token looks like in a URL; anything else is not looked up at all.
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
TEAM_FEED = ""  # the `member` of the team feed's token
#: The HTTP server's view of feeds: a token in, a calendar (or None: 404) out.
FeedSource = Callable[[str], "str | None"]


class IcalToken(SQLModel, table=True):
    """A feed token's hash: a member's own feed, or the team's (`member` empty)."""

    __tablename__ = "ical_token"

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    member: str  # Slack user id, or TEAM_FEED
    token_hash: str = Field(unique=True, index=True)
    created_by: str
    created_at: datetime = utc_column(nullable=False)
    revoked_at: datetime | None = utc_column(nullable=True)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Issued:
    """A new token (shown once), or None when a live one exists and was kept."""

    token: str | None
    issued_at: datetime
    revoked: int


def issue_token(
    session: Session,
    *,
    team_id: int,
    actor: Actor | None,
    now: datetime,
    team_feed: bool = False,
    reset: bool = False,
) -> Issued:
    """The actor's feed token (or the team's, for managers); audited.

    Without `reset`, a live token is kept and not shown again (only its hash is stored).
    With `reset`, live tokens are revoked and a new one issued.
    """
    team = get_team(session, team_id)
    who = require_member(session, team, actor)
    if team_feed and not who.is_manager:
        raise Refused("only managers can subscribe to the whole team's calendar")
    member = TEAM_FEED if team_feed else who.slack_id
    live = list(
        session.exec(
            select(IcalToken).where(
                IcalToken.team_id == team_id,
                IcalToken.member == member,
                col(IcalToken.revoked_at).is_(None),
            )
        )
    )
    if live and not reset:
        return Issued(None, live[0].created_at, 0)
    for old in live:
        old.revoked_at = now
        session.add(old)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = IcalToken(
        team_id=team_id,
        member=member,
        token_hash=token_hash(token),
        created_by=who.slack_id,
        created_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=who.slack_id,
        action="ical.reset" if live else "ical.issue",
        subject=f"ical:{row.id}",
        team_id=team_id,
        detail={"feed": "team" if team_feed else "member", "revoked": len(live)},
    )
    return Issued(token, now, len(live))


def feed_url(public_url: str, token: str) -> str:
    """`webcal://HOST/ical/<token>.ics` from the public base URL."""
    host = re.sub(r"^https?://", "", public_url).rstrip("/")
    return f"webcal://{host}/ical/{token}.ics"


def feed(session: Session, token: str, now: datetime) -> str | None:
    """The calendar behind `token`, or None when no live token matches."""
    if not TOKEN_SHAPE.match(token):
        return None
    row = session.exec(
        select(IcalToken).where(
            IcalToken.token_hash == token_hash(token), col(IcalToken.revoked_at).is_(None)
        )
    ).first()
    if row is None or session.get(Team, row.team_id) is None:
        return None
    compiled = compiled_rota(session, row.team_id)
    spec = compiled.spec
    start, end = now - FEED_BACK, now + FEED_AHEAD
    if row.member == TEAM_FEED:
        return shifts_calendar(spec, compiled.shifts(start, end), stamp=now, tz=spec.team.tz)
    members = {m.id: m for m in spec.members}
    member = members.get(row.member)
    if member is None:  # no longer on the team: the link no longer opens anything
        return None
    return shifts_calendar(
        spec,
        compiled.shifts(start, end, member=member.id),
        stamp=now,
        tz=member.tz,
        name=f"{member.name} on call ({spec.team.name})",
    )


def feed_server(db: Database, clock: Clock) -> FeedSource:
    """What the HTTP server calls for `/ical/<token>.ics`."""

    def serve(token: str) -> str | None:
        with db.transaction() as session:
            return feed(session, token, clock())

    return serve
