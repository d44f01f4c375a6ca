"""Signed requests seen in the last five minutes, shared through the database by every replica.

Slack signs each request over its timestamp and body, and Bolt refuses a timestamp older than five
minutes. Within those five minutes a captured request verifies again, so it could open the same
case twice: each request is remembered here under a key until its timestamp is five minutes old,
and a second sighting of the key is a replay. The table holds only hashes and expiry times (never
a body) and is pruned by whoever inserts (at most once a minute per process), so it stays as
small as six minutes of traffic.

The check runs on the acknowledging path, before Bolt answers Slack: one statement in one short
transaction, not a read then a write.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, delete, literal_column
from sqlalchemy.dialects import postgresql, sqlite
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


#: How often one process deletes expired keys (the table holds at most this much extra).
PRUNE_EVERY = timedelta(minutes=1)
_pruned: WeakKeyDictionary[Engine, datetime] = WeakKeyDictionary()
_prune_lock = threading.Lock()


def first_sighting(db: Database, key: str, *, sent_at: datetime, now: datetime) -> bool:
    """True the first time `key` is seen (and remember it until `sent_at` + the window).

    False for a replay. A key whose time is up counts as unseen and is taken again, as if it
    had been pruned. Two replicas racing on one key both try the same upsert; the primary key
    lets exactly one of them take it.
    """
    expires = max(sent_at, now).astimezone(UTC) + REPLAY_WINDOW
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(SeenRequest).values(key=key, expires_at=expires)
    taken = insert.on_conflict_do_update(
        index_elements=[col(SeenRequest.key)],
        set_={"expires_at": insert.excluded.expires_at},
        where=col(SeenRequest.expires_at) < now,
    ).returning(literal_column("1"))
    with db.engine.begin() as connection:
        if _prune_due(db.engine, now):
            connection.execute(delete(SeenRequest).where(col(SeenRequest.expires_at) < now))
        return connection.execute(taken).first() is not None


def _prune_due(engine: Engine, now: datetime) -> bool:
    """Whether this process should delete expired keys now (and note that it did)."""
    with _prune_lock:
        last = _pruned.get(engine)
        if last is not None and last <= now < last + PRUNE_EVERY:
            return False
        _pruned[engine] = now
        return True
