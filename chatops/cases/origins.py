"""Where a case came from, when not from a `/ts` line: a reported Slack message.

A case opened from the *Report to Trust & Safety* shortcut keeps the reported message's
permalink and its author's id, so a responder with access can open the message in Slack. The
message's text is not copied: Slack keeps it (under the workspace's own retention and legal
holds), the reporter's own words are the case's summary, and a copy here would be one more
place a restricted text could leak from (docs/architecture.md, invariant 6). The permalink and
author are shown only where the case's details are (`/ts case show`, access checked).
"""

from __future__ import annotations

from sqlmodel import Field, Session, SQLModel


class CaseOrigin(SQLModel, table=True):
    """The message a case was reported from (one per case at most)."""

    __tablename__ = "case_origin"

    case_id: int = Field(foreign_key="ts_case.id", primary_key=True)
    source: str  # "shortcut"
    permalink: str
    message_author: str  # Slack user id of the reported message's author
    message_channel: str
    message_ts: str


def record_message(
    session: Session,
    *,
    case_id: int,
    permalink: str,
    author: str,
    channel: str,
    ts: str,
) -> CaseOrigin:
    """Keep where the case's message is, in the opening transaction."""
    origin = CaseOrigin(
        case_id=case_id,
        source="shortcut",
        permalink=permalink,
        message_author=author,
        message_channel=channel,
        message_ts=ts,
    )
    session.add(origin)
    return origin


def origin_of(session: Session, case_id: int | None) -> CaseOrigin | None:
    return session.get(CaseOrigin, case_id) if case_id is not None else None
