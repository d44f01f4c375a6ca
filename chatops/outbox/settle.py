"""Settling a claimed row after its send: sent, failed (retried later) or rate limited.

Each settle updates the row only while it is still ours (`claims.OURS`: state "sending", the
same `attempts`, the same worker), so a worker that lost its lease cannot overwrite the newer
claim, and writes its audit row in the same transaction iff the update took effect
(docs/architecture.md, invariants 5 and 7). Only Slack's `ok` (or finding the message already
in its conversation) marks a message sent; every failure is audited and retried. Statements are
built once with bound parameters: settles run once per message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, delete, exists, func, insert, select, update
from sqlalchemy.exc import InvalidRequestError
from sqlmodel import col

from chatops.audit import AuditEvent
from chatops.logs import correlation_id
from chatops.outbox.claims import OURS, Claim, ours
from chatops.outbox.models import OutboxMessage, OutboxState, SlackRateLimit, Topic
from chatops.outbox.notifier import Outcome
from chatops.outbox.ratelimits import (
    CLOSE_OUTAGE,
    IN_OUTAGE_BACKOFF,
    KNOWN_LIMIT,
    OUTAGE_SCOPE,
    RATE_SCOPE,
    SCOPES,
    WAKE,
    is_outage,
    open_outage,
    upsert_scope,
)
from rota.models import UTCDateTime

log = logging.getLogger(__name__)

#: Backoff after a failure without Retry-After: 5 s, 10 s, 20 s … at most 5 minutes.
FIRST_RETRY = timedelta(seconds=5)
LONGEST_RETRY = timedelta(minutes=5)

#: Failures after which the message may have been posted all the same: the request went out
#: and no answer came back. The next attempt first looks for it in the conversation.
IN_DOUBT_ERRORS = frozenset(
    {"ReadTimeout", "WriteTimeout", "ReadError", "WriteError", "RemoteProtocolError"}
)


@dataclass(frozen=True)
class AuditNames:
    """How a topic's rows appear in the audit trail."""

    sent: str
    retry: str
    subject: str  # the subject's prefix: "<subject>:<outbox id>"


#: Page names predate the one outbox and are kept, so the trail reads the same across it.
AUDIT = {
    Topic.page: AuditNames(sent="page.delivered", retry="page.retry", subject="page"),
    Topic.handoff: AuditNames(
        sent="handoff.message_sent", retry="handoff.message_retry", subject="handoff_message"
    ),
    Topic.duty: AuditNames(sent="duty.message_sent", retry="duty.message_retry", subject="duty"),
    Topic.care: AuditNames(sent="care.message_sent", retry="care.message_retry", subject="care"),
}

_SENT = (
    update(OutboxMessage)
    .where(*OURS)
    .values(
        state=OutboxState.sent.value,
        due_at=None,
        sent_at=bindparam("b_at", type_=UTCDateTime()),
        message_ts=bindparam("b_ts"),
        last_error=None,
        doubt_at=None,
    )
)
# A send in doubt keeps the instant its doubt began (the earliest it may have been posted).
_FAILED = (
    update(OutboxMessage)
    .where(*OURS)
    .values(
        state=OutboxState.pending.value,
        due_at=bindparam("b_due", type_=UTCDateTime()),
        last_error=bindparam("b_error"),
        failures=col(OutboxMessage.failures) + 1,
        doubt_at=func.coalesce(
            col(OutboxMessage.doubt_at), bindparam("b_doubt", type_=UTCDateTime())
        ),
    )
)
# A 429: pending again (in its old place when the shared limit holds every worker), no failure.
_LIMITED = (
    update(OutboxMessage)
    .where(*OURS)
    .values(
        state=OutboxState.pending.value,
        due_at=bindparam("b_due", type_=UTCDateTime()),
        last_error=bindparam("b_error"),
    )
)
_AUDIT = insert(AuditEvent)


def _settle(
    connection: Connection,
    change: Any,
    params: dict[str, Any],
    audit: dict[str, Any],
    then: Callable[[Connection], object] | None = None,
) -> bool:
    """The fenced update and its audit row (iff it matched), committed as one transaction, with
    `then` (the shared rate-limit or outage bookkeeping) in it too.

    `connection` must not be in a transaction: a settle commits before the next send.
    """
    with connection.begin():
        if not connection.execute(change, params).rowcount:
            return False
        connection.execute(_AUDIT, audit)
        if then is not None:
            then(connection)
    return True


def _audit_row(claim: Claim, *, at: datetime, action: str, **detail: Any) -> dict[str, Any]:
    """An audit row, the same shape `audit.record` writes."""
    return {
        "team_id": claim.team_id,
        "at": at,
        "actor": "system",
        "action": action,
        "subject": f"{AUDIT[Topic(claim.topic)].subject}:{claim.id}",
        "detail": json.dumps({**claim.refs(), **detail}, sort_keys=True, default=str),
        "correlation_id": correlation_id(),
    }


def settle_sent(
    connection: Connection,
    *,
    claim: Claim,
    worker_id: str,
    at: datetime,
    message_ts: str | None,
    deduplicated: bool = False,
) -> bool:
    """Mark a message sent (and audit it); False when the claim was no longer ours.

    `deduplicated`: not sent now but found already posted (an earlier send in doubt reached
    Slack); audited as delivered, with the flag, so the trail says why no new post was made.

    The hot path: one per message. In the same transaction it ends an open outage (waking every
    row waiting on outage backoff) and reads the shared rate limit, which `limited_until` then
    uses for the very next send instead of a query of its own. On PostgreSQL all of it is one
    statement committed on its own (`_SENT_PG`): one round trip and one WAL flush per message.
    """
    names = AUDIT[Topic(claim.topic)]
    extra: dict[str, Any] = {"deduplicated": True} if deduplicated else {}
    params = {**ours(claim, worker_id), "b_at": at, "b_ts": message_ts}
    audit = _audit_row(
        claim, at=at, action=names.sent, kind=claim.kind, attempt=claim.attempts, **extra
    )
    if connection.dialect.name == "postgresql":
        binds = {f"a_{c}": audit[c] for c in _AUDIT_COLUMNS}
        row = _autocommitted(connection, _SENT_PG, {**params, **binds})
        settled, closed, woken, limit = row.settled, row.closed, row.woken, row.limited
    else:
        closed = woken = 0
        with connection.begin():
            settled = connection.execute(_SENT, params).rowcount
            if settled:
                connection.execute(_AUDIT, audit)
            scopes = {r.scope: r.until for r in connection.execute(SCOPES)}
            limit = scopes.get(RATE_SCOPE)
            if settled and OUTAGE_SCOPE in scopes:
                closed = connection.execute(CLOSE_OUTAGE).rowcount
                woken = connection.execute(WAKE, {"b_at": at}).rowcount
    if closed:
        log.info("slack recovered; outage backoff ended", extra={"woken": woken})
    connection.info[KNOWN_LIMIT] = limit
    return bool(settled)


_AUDIT_COLUMNS = ("at", "actor", "action", "subject", "detail", "correlation_id")


def _sent_in_one_statement() -> Any:
    """`settle_sent` as one PostgreSQL statement (data-modifying CTEs all run, atomically):
    the fenced update; the audit row iff it matched; the outage closed iff it matched, and the
    rows in outage backoff woken iff it was open; then one row: how many rows each changed and
    the shared rate limit's end. The audit columns are bound as ``a_<column>``."""
    at = bindparam("b_at", type_=UTCDateTime())
    changed = _SENT.returning(col(OutboxMessage.team_id)).cte("changed")
    table = AuditEvent.__table__  # type: ignore[attr-defined]
    binds = [bindparam(f"a_{c}", type_=table.c[c].type) for c in _AUDIT_COLUMNS]
    audited = (
        insert(AuditEvent)
        .from_select(["team_id", *_AUDIT_COLUMNS], select(changed.c.team_id, *binds))
        .returning(col(AuditEvent.id))
        .cte("audited")
    )
    matched = exists(select(changed.c.team_id))
    closed = (
        delete(SlackRateLimit)
        .where(col(SlackRateLimit.scope) == OUTAGE_SCOPE, matched)
        .returning(col(SlackRateLimit.scope))
        .cte("closed")
    )
    woken = (
        update(OutboxMessage)
        .where(*IN_OUTAGE_BACKOFF, col(OutboxMessage.due_at) > at, exists(select(closed.c.scope)))
        .values(due_at=at, failures=0)
        .returning(col(OutboxMessage.id))
        .cte("woken")
    )
    limit = select(col(SlackRateLimit.until)).where(
        col(SlackRateLimit.scope) == RATE_SCOPE, col(SlackRateLimit.until) > at
    )
    return select(
        select(func.count()).select_from(audited).scalar_subquery().label("settled"),
        select(func.count()).select_from(closed).scalar_subquery().label("closed"),
        select(func.count()).select_from(woken).scalar_subquery().label("woken"),
        limit.scalar_subquery().label("limited"),
    )


def _autocommitted(connection: Connection, statement: Any, params: dict[str, Any]) -> Any:
    """Run one statement as its own transaction (PostgreSQL commits a lone statement atomically
    and durably): no BEGIN and COMMIT round trips around it. The connection goes back to
    explicit transactions afterwards, so nothing else on it autocommits by accident."""
    if connection.in_transaction():  # autocommit would escape the caller's transaction
        raise InvalidRequestError("a settle commits on its own: end the transaction first")
    connection.execution_options(isolation_level="AUTOCOMMIT")
    try:
        row = connection.execute(statement, params).one()
        connection.commit()  # ends SQLAlchemy's autobegun transaction (nothing to send)
        return row
    finally:
        if connection.in_transaction():
            connection.rollback()
        connection.execution_options(isolation_level=connection.default_isolation_level)


def settle_failed(
    connection: Connection,
    *,
    claim: Claim,
    worker_id: str,
    at: datetime,
    error: str,
    retry_at: datetime,
    doubt_at: datetime | None = None,
) -> bool:
    """Back to pending, due at `retry_at`, audited: a failure is retried, never dropped.

    An outage-class failure opens the outage, so the first success ends every such backoff.
    `doubt_at` (when the send may have been posted anyway) makes the next attempt look first.
    """
    names = AUDIT[Topic(claim.topic)]
    return _settle(
        connection,
        _FAILED,
        {
            **ours(claim, worker_id),
            "b_due": retry_at,
            "b_error": error[:200],
            "b_doubt": doubt_at,
        },
        _audit_row(
            claim,
            at=at,
            action=names.retry,
            attempt=claim.attempts,
            error=error[:200],
            retry_at=retry_at,
        ),
        open_outage(at) if is_outage(error) else None,
    )


def settle_limited(
    connection: Connection,
    *,
    claim: Claim,
    worker_id: str,
    at: datetime,
    error: str,
    until: datetime,
    scope: str,
    due_at: datetime | None = None,
) -> bool:
    """A 429: `scope`'s limit stored for every worker, the row pending again, audited.

    Not a failure: `failures` (the backoff) is unchanged. By default the row keeps its place in
    the queue (no worker calls the method before `until`, and then it goes first); `due_at`
    sets another instant (a lookup's limit, which does not hold the other rows).
    """
    names = AUDIT[Topic(claim.topic)]
    return _settle(
        connection,
        _LIMITED,
        {
            **ours(claim, worker_id),
            "b_due": claim.queue_at if due_at is None else due_at,
            "b_error": error[:200],
        },
        _audit_row(
            claim, at=at, action=names.retry, attempt=claim.attempts, error=error, retry_at=until
        ),
        lambda c: upsert_scope(c, scope, until),
    )


def retry_delay(failures: int, cap: int | None = None) -> timedelta:
    """Exponential backoff by failed attempts (429s are not), capped (more tightly for a row
    that says so: a page of an open sev1/sev2 case)."""
    longest = LONGEST_RETRY if cap is None else min(LONGEST_RETRY, timedelta(seconds=cap))
    return min(FIRST_RETRY * (2 ** max(failures - 1, 0)), longest)


def retry_at(outcome: Outcome, *, failures: int, now: datetime, cap: int | None = None) -> datetime:
    """When to try again: exactly Retry-After when Slack said so, else the backoff."""
    if outcome.retry_after is not None:
        return now + timedelta(seconds=outcome.retry_after)
    return now + retry_delay(failures, cap)


_SENT_PG = _sent_in_one_statement()
