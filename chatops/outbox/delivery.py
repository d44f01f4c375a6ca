"""Delivering the outbox: claim due rows with a lease, send each, settle it.

One discipline for everything the worker sends. `claim` moves due rows to "sending" in one
statement (under ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so replicas never take the same row;
SQLite's BEGIN IMMEDIATE serialises a single worker), bumps `attempts` (the fencing token) and
sets `due_at` to the end of the claim's lease. The Slack call happens after that commit, outside
any lock. `settle_sent` / `settle_failed` then update the row only while it is still ours
(`state = sending AND attempts = n AND claimed_by = me`), so a worker that lost its lease cannot
overwrite the newer claim, and write the audit row in the same transaction iff the update took
effect. Only Slack's `ok` marks a message sent; every failure is audited and retried. A crash
between send and settle leaves the row "sending"; when the lease ends it is due again and sent
once more: that one message in flight is the only possible duplicate (docs/architecture.md,
invariant 4).

When Slack misbehaves (issue #13): a 429's Retry-After is stored in `slack_rate_limit` and every
worker reads it before claiming and before each call, so no replica calls the method until it
ends; a 429 is not a failure (no backoff growth) and a row handed back keeps its place in the
queue (`Claim.queue_at`), so the oldest pages still go first. Backoff grows with `failures`
only, is capped per row (`max_backoff_s`), and an outage's backoff ends the moment a call
succeeds again (the "outage" row closes). Leases are short and renewed while a batch is sent,
so a dead worker's rows are taken over within about `LEASE`.

Everything here runs through SQLAlchemy Core on one connection held for the worker's pass: no
ORM unit of work and no pool checkout per message, statements built once with bound parameters.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import (
    Connection,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal_column,
    or_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import InvalidRequestError
from sqlmodel import col, select

from chatops.audit import AuditEvent
from chatops.blockkit import Block
from chatops.clock import Clock
from chatops.db import Database, as_utc
from chatops.logs import correlated, correlation_id
from chatops.outbox.models import OutboxMessage, OutboxState, SlackRateLimit, Topic
from chatops.outbox.notifier import Notifier, Outcome
from rota.models import UTCDateTime

log = logging.getLogger(__name__)

#: How long a claim lasts; a claimed message not settled by then is sent again. Short, and
#: renewed while the batch is being sent, so a dead worker's rows wait at most this long.
LEASE = timedelta(seconds=10)
#: A send starts only with this much of its lease left (more than `SEND_TIMEOUT`, so a claim
#: cannot expire while its message is in flight); otherwise the rest is handed back.
LEASE_MARGIN = timedelta(seconds=6)
#: Renew a batch's lease once less than this is left (every ~2 s of sending).
RENEW_BELOW = timedelta(seconds=8)
#: The worker's Slack client timeout (per phase), below `LEASE_MARGIN`.
SEND_TIMEOUT = 4.0
#: The Web API method every outbox message is sent with: the scope of its rate limit.
METHOD = "chat.postMessage"
RATE_SCOPE = f"method:{METHOD}"
#: Present while the method is failing as in an outage; the first success removes it and makes
#: every row waiting on outage backoff due at once.
OUTAGE_SCOPE = f"outage:{METHOD}"
#: Messages claimed per transaction. Small enough that a batch is sent well within its lease.
BATCH = 50
#: Backoff after a failure without Retry-After: 5 s, 10 s, 20 s … at most 5 minutes.
FIRST_RETRY = timedelta(seconds=5)
LONGEST_RETRY = timedelta(minutes=5)


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
}


@dataclass(frozen=True)
class Claim:
    """A claimed row: what to send, and the fencing token (`attempts`) that settles it."""

    id: int
    attempts: int
    team_id: int
    topic: str
    kind: str
    case_id: int | None
    handoff_id: int | None
    recipient: str
    text: str
    blocks: list[Block]
    lease_until: datetime
    queue_at: datetime  # its place in the queue, restored when it is handed back unsent
    failures: int = 0
    max_backoff_s: int | None = None

    def refs(self) -> dict[str, Any]:
        """The domain ids an audit row names (a page's case; a handoff message's handoff)."""
        if self.topic == Topic.page:
            return {"case_id": self.case_id}
        if self.topic == Topic.duty:
            return {"case_id": self.case_id, "kind": self.kind}
        return {"handoff_id": self.handoff_id, "kind": self.kind}


_CLAIMED = (
    col(OutboxMessage.id),
    col(OutboxMessage.attempts),
    col(OutboxMessage.team_id),
    col(OutboxMessage.topic),
    col(OutboxMessage.kind),
    col(OutboxMessage.case_id),
    col(OutboxMessage.handoff_id),
    col(OutboxMessage.recipient),
    col(OutboxMessage.text),
    col(OutboxMessage.blocks),
    col(OutboxMessage.failures),
    col(OutboxMessage.max_backoff_s),
)


def claim(
    on: Database | Connection,
    *,
    now: datetime,
    worker_id: str,
    limit: int,
    lease: timedelta = LEASE,
) -> list[Claim]:
    """Claim up to `limit` due rows (pending, or sending with an expired lease), by id.

    One statement: the locked selection is a CTE (evaluated once) that the update joins. Rows
    are taken in `due_at` order, ties in index order: ordering ties by id as well would make
    PostgreSQL sort every due row (its index has `due_at` only) when a backlog shares one
    instant. Given a `Connection` (the worker's, held for its pass) the claim is its own
    transaction on it.
    """
    lease_until = now + lease
    due = (
        select(OutboxMessage.id)
        .where(col(OutboxMessage.due_at) <= now)
        .order_by(col(OutboxMessage.due_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    statement = (
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == due.c.id)
        .values(
            state=OutboxState.sending.value,
            attempts=col(OutboxMessage.attempts) + 1,
            claimed_by=worker_id,
            due_at=lease_until,
        )
        .returning(*_CLAIMED)
    )
    if isinstance(on, Connection):
        with on.begin():
            rows = on.execute(statement).all()
    else:
        with on.engine.begin() as connection:
            rows = connection.execute(statement).all()
    # Rows come back in no particular order; they were due in `due_at` order, ties by id.
    rows = sorted(rows, key=lambda r: r.id)
    n = len(rows)
    return [
        _claim_of(r, lease_until, now - timedelta(microseconds=n - i)) for i, r in enumerate(rows)
    ]


def _claim_of(row: Any, lease_until: datetime, queue_at: datetime) -> Claim:
    return Claim(
        id=row.id,
        attempts=row.attempts,
        team_id=row.team_id,
        topic=row.topic,
        kind=row.kind,
        case_id=row.case_id,
        handoff_id=row.handoff_id,
        recipient=row.recipient,
        text=row.text,
        blocks=json.loads(row.blocks),
        lease_until=lease_until,
        queue_at=queue_at,
        failures=row.failures,
        max_backoff_s=row.max_backoff_s,
    )


# Settles run once per message, so their statements are built once, with bound parameters.
_OURS = (
    col(OutboxMessage.id) == bindparam("b_id"),
    col(OutboxMessage.state) == OutboxState.sending.value,
    col(OutboxMessage.attempts) == bindparam("b_attempts"),
    col(OutboxMessage.claimed_by) == bindparam("b_worker"),
)
_SENT = (
    update(OutboxMessage)
    .where(*_OURS)
    .values(
        state=OutboxState.sent.value,
        due_at=None,
        sent_at=bindparam("b_at", type_=UTCDateTime()),
        message_ts=bindparam("b_ts"),
        last_error=None,
    )
)
_FAILED = (
    update(OutboxMessage)
    .where(*_OURS)
    .values(
        state=OutboxState.pending.value,
        due_at=bindparam("b_due", type_=UTCDateTime()),
        last_error=bindparam("b_error"),
        failures=col(OutboxMessage.failures) + 1,
    )
)
# A 429: pending again in its old place (the shared limit holds every worker), no failure.
_LIMITED = (
    update(OutboxMessage)
    .where(*_OURS)
    .values(
        state=OutboxState.pending.value,
        due_at=bindparam("b_due", type_=UTCDateTime()),
        last_error=bindparam("b_error"),
    )
)
_RELEASED = (
    update(OutboxMessage)
    .where(*_OURS)
    .values(
        state=OutboxState.pending.value,
        due_at=bindparam("b_due", type_=UTCDateTime()),
        attempts=col(OutboxMessage.attempts) - 1,
        claimed_by=None,
    )
)
_AUDIT = insert(AuditEvent)
_CLOSE_OUTAGE = (
    delete(SlackRateLimit)
    .where(col(SlackRateLimit.scope) == OUTAGE_SCOPE)
    .returning(col(SlackRateLimit.scope))
)

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


_IN_OUTAGE_BACKOFF = (
    col(OutboxMessage.state) == OutboxState.pending.value,
    col(OutboxMessage.failures) > 0,
    or_(
        col(OutboxMessage.last_error).like("http 5%"),
        # Written into the SQL (fixed names, no quotes in them): an expanding IN would be
        # re-rendered on every execution of the statement that settles each message.
        col(OutboxMessage.last_error).in_(literal_column(f"'{e}'") for e in sorted(OUTAGE_ERRORS)),
    ),
)


_WAKE = (
    update(OutboxMessage)
    .where(*_IN_OUTAGE_BACKOFF, col(OutboxMessage.due_at) > bindparam("b_at", type_=UTCDateTime()))
    .values(due_at=bindparam("b_at", type_=UTCDateTime()), failures=0)
)
_SCOPES = select(col(SlackRateLimit.scope), col(SlackRateLimit.until)).where(
    col(SlackRateLimit.scope).in_([RATE_SCOPE, OUTAGE_SCOPE])
)
_LIMITED_UNTIL = select(col(SlackRateLimit.until)).where(
    col(SlackRateLimit.scope) == RATE_SCOPE,
    col(SlackRateLimit.until) > bindparam("b_now", type_=UTCDateTime()),
)
#: Where a worker's connection keeps the rate limit its last settle read (`Connection.info`).
_KNOWN_LIMIT = "chatops.outbox.known_limit"
_AUDIT_COLUMNS = ("at", "actor", "action", "subject", "detail", "correlation_id")


def _sent_in_one_statement() -> Any:
    """`settle_sent` as one PostgreSQL statement (data-modifying CTEs all run, atomically):
    the fenced update; the audit row iff it matched; the outage closed iff it matched, and the
    rows in outage backoff woken iff it was open; then one row: how many rows each changed and
    the shared rate limit's end. The audit columns are bound as ``a_<column>``."""
    at = bindparam("b_at", type_=UTCDateTime())
    changed = _SENT.returning(col(OutboxMessage.team_id)).cte("changed")
    audit = AuditEvent.__table__  # type: ignore[attr-defined]
    binds = [bindparam(f"a_{c}", type_=audit.c[c].type) for c in _AUDIT_COLUMNS]
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
        .where(*_IN_OUTAGE_BACKOFF, col(OutboxMessage.due_at) > at, exists(select(closed.c.scope)))
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


_SENT_PG = _sent_in_one_statement()


def _audit_binds(audit: dict[str, Any]) -> dict[str, Any]:
    return {f"a_{c}": audit[c] for c in _AUDIT_COLUMNS}


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


def _ours(claim: Claim, worker_id: str) -> dict[str, Any]:
    return {"b_id": claim.id, "b_attempts": claim.attempts, "b_worker": worker_id}


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


def _upsert_scope(connection: Connection, scope: str, until: datetime) -> None:
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
        _upsert_scope(connection, scope, until)


def limited_until(on: Database | Connection, *, now: datetime) -> datetime | None:
    """The end of the method's active rate limit (set by any worker's 429), or None.

    On a worker's connection the limit read by its last `settle_sent` (in the same round trip,
    just before) serves the next call once; otherwise it is read here.
    """
    if isinstance(on, Connection):
        if _KNOWN_LIMIT in on.info:
            known: datetime | None = on.info.pop(_KNOWN_LIMIT)
            return known if known is not None and as_utc(known) > now else None
        with on.begin():
            return on.execute(_LIMITED_UNTIL, {"b_now": now}).scalar()
    with on.engine.connect() as connection:
        return connection.execute(_LIMITED_UNTIL, {"b_now": now}).scalar()


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
) -> bool:
    """Mark a message sent (and audit it); False when the claim was no longer ours.

    The hot path: one per message. In the same transaction it ends an open outage (waking every
    row waiting on outage backoff) and reads the shared rate limit, which `limited_until` then
    uses for the very next send instead of a query of its own. On PostgreSQL all of it is one
    statement committed on its own (`_SENT_PG`): one round trip and one WAL flush per message.
    """
    names = AUDIT[Topic(claim.topic)]
    params = {**_ours(claim, worker_id), "b_at": at, "b_ts": message_ts}
    audit = _audit_row(claim, at=at, action=names.sent, kind=claim.kind, attempt=claim.attempts)
    if connection.dialect.name == "postgresql":
        row = _autocommitted(connection, _SENT_PG, {**params, **_audit_binds(audit)})
        settled, closed, woken, limit = row.settled, row.closed, row.woken, row.limited
    else:
        closed = woken = 0
        with connection.begin():
            settled = connection.execute(_SENT, params).rowcount
            if settled:
                connection.execute(_AUDIT, audit)
            scopes = {r.scope: r.until for r in connection.execute(_SCOPES)}
            limit = scopes.get(RATE_SCOPE)
            if settled and OUTAGE_SCOPE in scopes:
                closed = connection.execute(_CLOSE_OUTAGE).rowcount
                woken = connection.execute(_WAKE, {"b_at": at}).rowcount
    if closed:
        log.info("slack recovered; outage backoff ended", extra={"woken": woken})
    connection.info[_KNOWN_LIMIT] = limit
    return bool(settled)


def settle_failed(
    connection: Connection,
    *,
    claim: Claim,
    worker_id: str,
    at: datetime,
    error: str,
    retry_at: datetime,
) -> bool:
    """Back to pending, due at `retry_at`, audited: a failure is retried, never dropped.

    An outage-class failure opens the outage, so the first success ends every such backoff.
    """
    names = AUDIT[Topic(claim.topic)]
    return _settle(
        connection,
        _FAILED,
        {**_ours(claim, worker_id), "b_due": retry_at, "b_error": error[:200]},
        _audit_row(
            claim,
            at=at,
            action=names.retry,
            attempt=claim.attempts,
            error=error[:200],
            retry_at=retry_at,
        ),
        (lambda c: _upsert_scope(c, OUTAGE_SCOPE, at)) if is_outage(error) else None,
    )


def settle_limited(
    connection: Connection,
    *,
    claim: Claim,
    worker_id: str,
    at: datetime,
    error: str,
    until: datetime,
) -> bool:
    """A 429: the limit stored for every worker, the row pending in its old place, audited.

    Not a failure: `failures` (the backoff) is unchanged; the row goes at `until` because no
    worker calls the method before then, and first because it keeps its place in the queue.
    """
    names = AUDIT[Topic(claim.topic)]
    return _settle(
        connection,
        _LIMITED,
        {**_ours(claim, worker_id), "b_due": claim.queue_at, "b_error": error[:200]},
        _audit_row(
            claim, at=at, action=names.retry, attempt=claim.attempts, error=error, retry_at=until
        ),
        lambda c: _upsert_scope(c, RATE_SCOPE, until),
    )


def renew(
    connection: Connection, *, claims: Sequence[Claim], worker_id: str, now: datetime
) -> list[Claim]:
    """Extend the lease of claims still ours to `now + LEASE`; the ones renewed.

    A claim whose lease had already been taken over is not renewed (and must not be sent).
    """
    if not claims:
        return []
    until = now + LEASE
    tokens = {c.id: c.attempts for c in claims}
    with connection.begin():
        rows = connection.execute(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.id).in_(list(tokens)),
                col(OutboxMessage.state) == OutboxState.sending.value,
                col(OutboxMessage.claimed_by) == worker_id,
            )
            .values(due_at=until)
            .returning(col(OutboxMessage.id), col(OutboxMessage.attempts))
        ).all()
    # Another claim of a row by this same worker (a later attempt) is not this one.
    still = {r.id for r in rows if tokens[r.id] == r.attempts}
    return [replace(c, lease_until=until) for c in claims if c.id in still]


def release(
    connection: Connection, *, claims: Sequence[Claim], worker_id: str, due_at: datetime
) -> int:
    """Give back claims that were not attempted (e.g. after a 429): pending again, no attempt.

    Each is due at the earlier of `due_at` and its old place in the queue: a row handed back is
    not overtaken by rows queued after it (the shared rate limit, not `due_at`, holds it).
    """
    if not claims:
        return 0
    with connection.begin():
        result = connection.execute(
            _RELEASED,
            [{**_ours(c, worker_id), "b_due": min(due_at, c.queue_at)} for c in claims],
        )
    return int(result.rowcount)


def deliver_due(
    db: Database, *, clock: Clock, notifier: Notifier, worker_id: str, limit: int
) -> int:
    """Claim and send up to `limit` due messages on one connection; how many were attempted."""
    with db.engine.connect() as connection:
        connection.info.pop(_KNOWN_LIMIT, None)  # a pooled connection's: from an earlier pass
        return deliver_claimed(
            claim=lambda now, n: claim(connection, now=now, worker_id=worker_id, limit=n),
            send=lambda c: send_one(
                connection, claim=c, clock=clock, notifier=notifier, worker_id=worker_id
            ),
            release=lambda claims, due_at: release(
                connection, claims=claims, worker_id=worker_id, due_at=due_at
            ),
            clock=clock,
            limit=limit,
            batch=BATCH,
            renew=lambda claims, now: renew(
                connection, claims=claims, worker_id=worker_id, now=now
            ),
            gate=lambda now: limited_until(connection, now=now),
        )


class Leased(Protocol):
    @property
    def lease_until(self) -> datetime: ...


_L = TypeVar("_L", bound=Leased)


def deliver_claimed(
    *,
    claim: Callable[[datetime, int], Sequence[_L]],
    send: Callable[[_L], datetime | None],
    release: Callable[[Sequence[_L], datetime], object],
    clock: Clock,
    limit: int,
    batch: int,
    renew: Callable[[Sequence[_L], datetime], Sequence[_L]] | None = None,
    gate: Callable[[datetime], datetime | None] | None = None,
) -> int:
    """Claim (`claim(now, n)`) and send up to `limit` due rows; how many were attempted.

    Before claiming and before each send, `gate(now)` says whether Slack's rate limit (stored
    by any worker) is on: then nothing is called and the rest of the batch is handed back. While
    a batch is sent its lease is renewed (`renew`) once it runs low; a claim too near the end of
    its lease (or no longer ours) is handed back unsent, with the rest of its batch: once the
    lease ends another worker may take it, and sending it now could double it. When `send`
    returns a retry instant (a 429), the rest of the batch waits and the pass ends.
    """
    attempted = 0
    while attempted < limit:
        if gate is not None and gate(clock()) is not None:
            break
        claims: Sequence[_L] = claim(clock(), min(batch, limit - attempted))
        if not claims:
            break
        i = 0
        while i < len(claims):
            now = clock()
            if renew is not None and claims[i].lease_until - now < RENEW_BELOW:
                kept = renew(claims[i:], now)
                claims, i = list(kept), 0
                if not claims:
                    break
            if now >= claims[i].lease_until - LEASE_MARGIN:
                release(claims[i:], now)
                break
            if gate is not None and (until := gate(now)) is not None:
                release(claims[i:], until)
                return attempted
            attempted += 1
            retry_at = send(claims[i])
            if retry_at is not None:
                release(claims[i + 1 :], retry_at)
                return attempted
            i += 1
    return attempted


def send_one(
    connection: Connection, *, claim: Claim, clock: Clock, notifier: Notifier, worker_id: str
) -> datetime | None:
    """Send one claimed row and settle it: sent only on Slack's ok, otherwise due again later.

    Returns the end of the rate limit after a 429 (so the caller hands its batch back).
    """
    where = {"outbox_id": claim.id, "topic": claim.topic, "kind": claim.kind, **claim.refs()}
    with correlated():
        outcome = notifier.send(channel=claim.recipient, text=claim.text, blocks=claim.blocks)
        now = clock()
        if outcome.ok:
            sent = settle_sent(
                connection, claim=claim, worker_id=worker_id, at=now, message_ts=outcome.ts
            )
            if not sent:
                log.warning("message sent after its claim expired", extra=where)
            return None
        error = outcome.error or "unknown"
        if outcome.retry_after is not None:
            until = now + timedelta(seconds=outcome.retry_after)
            settle_limited(
                connection, claim=claim, worker_id=worker_id, at=now, error=error, until=until
            )
            log.warning(
                "slack rate limit; every worker waits",
                extra={**where, "error": error, "until": until.isoformat()},
            )
            return until
        retry = retry_at(outcome, failures=claim.failures + 1, now=now, cap=claim.max_backoff_s)
        settle_failed(
            connection, claim=claim, worker_id=worker_id, at=now, error=error, retry_at=retry
        )
        log.warning(
            "message not delivered; will retry",
            extra={
                **where,
                "attempt": claim.attempts,
                "error": outcome.error,
                "retry_at": retry.isoformat(),
            },
        )
        return None


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
