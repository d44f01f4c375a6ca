"""Signed requests seen in the last five minutes, shared through the database by every replica.

Slack signs each request over its timestamp and body, and Bolt refuses a timestamp older than five
minutes. Within those five minutes a captured request verifies again, so it could open the same
case twice: each request is remembered here under a key until its timestamp is five minutes old,
and a second sighting of the key is a replay. The table holds only hashes and expiry times (never
a body) and is pruned by whoever inserts, so it stays as small as five minutes of traffic.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel, col

from chatops.db import Database
from rota.models import utc_column

#: Bolt (like Slack's own guidance) refuses requests whose timestamp is older than this.
REPLAY_WINDOW = timedelta(minutes=5)


class SeenRequest(SQLModel, table=True):
    """One request already taken: `key` is a SHA-256 hex digest, never the request itself."""

    __tablename__ = "seen_request"

    key: str = Field(primary_key=True, max_length=64)
    expires_at: datetime = utc_column(nullable=False, index=True)


def request_key(kind: str, value: str) -> str:
    """The stored key of one request: `kind` ("sig", "event") keeps the name spaces apart."""
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def first_sighting(db: Database, key: str, *, sent_at: datetime, now: datetime) -> bool:
    """True the first time `key` is seen (and remember it until `sent_at` + the window).

    False for a replay. Expired keys are deleted first, in the same transaction, so the table
    never outgrows the window. Two replicas racing on one key both insert; the primary key lets
    exactly one of them commit.
    """
    expires = max(sent_at, now).astimezone(UTC) + REPLAY_WINDOW
    try:
        with db.transaction() as session:
            session.execute(delete(SeenRequest).where(col(SeenRequest.expires_at) < now))
            if session.get(SeenRequest, key) is not None:
                return False
            session.add(SeenRequest(key=key, expires_at=expires))
    except IntegrityError:
        return False
    return True
