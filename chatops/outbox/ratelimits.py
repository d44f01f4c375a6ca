"""What Slack said about calling it again, shared by every worker through the database.

A 429's Retry-After is stored per scope in `slack_rate_limit` and read before claiming and
before each call, so no replica calls the method until it ends (issue #13). An outage-class
failure (5xx, network) stores an "outage" row; the first success removes it and makes every
row waiting on outage backoff due at once: a circuit that closes (docs/architecture.md,
invariant 12).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, func, literal_column, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select

from chatops.db import Database, as_utc
from chatops.outbox.models import OutboxMessage, OutboxState, SlackRateLimit
from rota.models import UTCDateTime

log = logging.getLogger(__name__)

#: The Web API method every outbox message is sent with: the scope of its rate limit.
METHOD = "chat.postMessage"
RATE_SCOPE = f"method:{METHOD}"
#: The method an in-doubt message is looked up with (Tier 3: fewer calls than posts).
HISTORY_METHOD = "conversations.history"
HISTORY_SCOPE = f"method:{HISTORY_METHOD}"
#: Present while the method is failing as in an outage; the first success removes it and makes
#: every row waiting on outage backoff due at once.
OUTAGE_SCOPE = f"outage:{METHOD}"

#: Errors that say Slack (or the way to it) is down, not that this message is wrong.
OUTAGE_ERRORS = frozenset(
    {
        "ConnectError",
        "ConnectTimeout",
        "ReadTimeout",
        "WriteTimeout",
        "PoolTimeout",
        "ReadError",
        "WriteError",
        "RemoteProtocolError",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
    }
)


def is_outage(error: str) -> bool:
    """Whether a failure is Slack's (5xx, network, its internal errors), not the message's."""
    return error.startswith("http 5") or error in OUTAGE_ERRORS


IN_OUTAGE_BACKOFF = (
    col(OutboxMessage.state) == OutboxState.pending.value,
    col(OutboxMessage.failures) > 0,
    or_(
        col(OutboxMessage.last_error).like("http 5%"),
        # Written into the SQL (fixed names, no quotes in them): an expanding IN would be
        # re-rendered on every execution of the statement that settles each message.
        col(OutboxMessage.last_error).in_(literal_column(f"'{e}'") for e in sorted(OUTAGE_ERRORS)),
    ),
)
#: Rows in outage backoff made due at `b_at`: the circuit closing.
WAKE = (
    update(OutboxMessage)
    .where(*IN_OUTAGE_BACKOFF, col(OutboxMessage.due_at) > bindparam("b_at", type_=UTCDateTime()))
    .values(due_at=bindparam("b_at", type_=UTCDateTime()), failures=0)
)
#: The send method's rate limit and outage rows, read by a settle in its transaction.
SCOPES = select(col(SlackRateLimit.scope), col(SlackRateLimit.until)).where(
    col(SlackRateLimit.scope).in_([RATE_SCOPE, OUTAGE_SCOPE])
)
_LIMITED_UNTIL = select(col(SlackRateLimit.until)).where(
    col(SlackRateLimit.scope) == bindparam("b_scope"),
    col(SlackRateLimit.until) > bindparam("b_now", type_=UTCDateTime()),
)
#: Where a worker's connection keeps the rate limit its last settle read (`Connection.info`),
#: so the next send needs no query of its own.
KNOWN_LIMIT = "chatops.outbox.known_limit"
CLOSE_OUTAGE = (
    delete(SlackRateLimit)
    .where(col(SlackRateLimit.scope) == OUTAGE_SCOPE)
    .returning(col(SlackRateLimit.scope))
)


def upsert_scope(connection: Connection, scope: str, until: datetime) -> None:
    """Store `scope`'s limit, keeping the later end when another worker stored one too."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(SlackRateLimit).values(scope=scope, until=until)
    latest = func.max if connection.dialect.name == "sqlite" else func.greatest
    connection.execute(
        stmt.on_conflict_do_update(
            index_elements=[col(SlackRateLimit.scope)],
            set_={"until": latest(col(SlackRateLimit.until), stmt.excluded.until)},
        )
    )


def hold(connection: Connection, *, scope: str, until: datetime) -> None:
    """Record a 429's Retry-After for every worker (its own transaction)."""
    with connection.begin():
        upsert_scope(connection, scope, until)


def limited_until(
    on: Database | Connection, *, now: datetime, scope: str = RATE_SCOPE
) -> datetime | None:
    """The end of `scope`'s active rate limit (set by any worker's 429), or None.

    On a worker's connection, the send method's limit read by its last `settle_sent` (in the
    same round trip, just before) serves the next call once; otherwise it is read here.
    """
    params = {"b_scope": scope, "b_now": now}
    if isinstance(on, Connection):
        if scope == RATE_SCOPE and KNOWN_LIMIT in on.info:
            known: datetime | None = on.info.pop(KNOWN_LIMIT)
            return known if known is not None and as_utc(known) > now else None
        with on.begin():
            return on.execute(_LIMITED_UNTIL, params).scalar()
    with on.engine.connect() as connection:
        return connection.execute(_LIMITED_UNTIL, params).scalar()


def close_outage(now: datetime) -> Callable[[Connection], object]:
    """For a settle's transaction: end the outage (if one is open) and wake its backoff."""

    def close(connection: Connection) -> None:
        if connection.execute(CLOSE_OUTAGE).first() is None:
            return
        woken = connection.execute(
            update(OutboxMessage)
            .where(*IN_OUTAGE_BACKOFF, col(OutboxMessage.due_at) > now)
            .values(due_at=now, failures=0)
        ).rowcount
        log.info("slack recovered; outage backoff ended", extra={"woken": woken})

    return close


def open_outage(at: datetime) -> Callable[[Connection], object]:
    """For a settle's transaction: mark the method as failing like in an outage."""
    return lambda connection: upsert_scope(connection, OUTAGE_SCOPE, at)
