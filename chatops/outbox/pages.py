"""Pages and their delivery state: created with the case change, claimed, sent, settled.

Delivery is claim → send → settle. `claim_due_pages` moves due rows to "sending" in one short
transaction (on PostgreSQL under ``FOR UPDATE SKIP LOCKED``, so two workers never claim the same
row) and bumps `attempts`; the row's `due_at` becomes the end of the claim's lease. The Slack
call happens after that commit, outside any lock. `settle_*` then updates the row only if it is
still ours (`state = sending AND attempts = n AND claimed_by = me`): `attempts` is a fencing
token, so a worker that lost its lease cannot overwrite the newer claim. A crash between send and
settle leaves the row "sending"; when the lease expires it is due again and sent once more —
that one message in flight is the only possible duplicate (invariant 4).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Insert, Update, bindparam, insert, update
from sqlalchemy.exc import InvalidRequestError
from sqlmodel import Session, col, select

from chatops.audit import AuditEvent
from chatops.blockkit import Block
from chatops.clock import Clock
from chatops.db import Database
from chatops.escalation.models import Page, PageKind, PageState
from chatops.logs import correlation_id
from chatops.outbox.delivery import claim_due_rows, deliver_claimed, send_claimed
from chatops.outbox.notifier import Notifier
from rota.models import UTCDateTime

#: How long a claim lasts; a claimed page not settled by then is sent again.
LEASE = timedelta(seconds=60)


def add_page(
    session: Session,
    *,
    team_id: int,
    case_id: int,
    batch: int,
    step: int,
    level: str,
    kind: PageKind,
    role: str,
    recipient: str,
    text: str,
    blocks: list[Block],
    at: datetime,
    paged_by: str | None = None,
    grants_access: bool = True,
    due_at: datetime | None = None,
) -> Page:
    """A page due now (or at `due_at`: held for working hours), in the caller's transaction
    (so it exists iff the case change does)."""
    page = Page(
        team_id=team_id,
        case_id=case_id,
        batch=batch,
        step=step,
        level=level,
        kind=kind.value,
        role=role,
        recipient=recipient,
        text=text,
        blocks=json.dumps(blocks),
        due_at=due_at or at,
        created_at=at,
        paged_by=paged_by,
        grants_access=grants_access,
    )
    session.add(page)
    return page


def cancel_pending_pages(session: Session, *, case_id: int) -> int:
    """Cancel pages not yet sent (a resolved case needs no more messages); returns how many.

    A page being sent right now is left alone: its worker settles it.
    """
    result = session.execute(
        update(Page)
        .where(col(Page.case_id) == case_id, col(Page.state) == PageState.pending.value)
        .values(state=PageState.cancelled.value, due_at=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def cancel_held_pages(session: Session, *, case_id: int, at: datetime) -> int:
    """Cancel pages held for working hours (due after `at`): the case was taken meanwhile,
    so nobody needs waking for it. Returns how many."""
    result = session.execute(
        update(Page)
        .where(
            col(Page.case_id) == case_id,
            col(Page.state) == PageState.pending.value,
            col(Page.due_at) > at,
        )
        .values(state=PageState.cancelled.value, due_at=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Claim:
    """A page claimed by one worker for one attempt, with what to send."""

    id: int
    attempts: int
    team_id: int
    case_id: int
    kind: str
    recipient: str
    text: str
    blocks: list[Block]
    lease_until: datetime

    @classmethod
    def from_row(cls, row: Any, lease_until: datetime) -> Claim:
        return cls(
            id=row.id,
            attempts=row.attempts,
            team_id=row.team_id,
            case_id=row.case_id,
            kind=row.kind,
            recipient=row.recipient,
            text=row.text,
            blocks=json.loads(row.blocks),
            lease_until=lease_until,
        )


def claim_due_pages(
    db: Database | Connection,
    *,
    now: datetime,
    worker_id: str,
    limit: int,
    lease: timedelta = LEASE,
) -> list[Claim]:
    """Claim up to `limit` due pages (pending, or sending with an expired lease).

    Given a `Connection` (the worker's, held for its pass), the claim is its own transaction on
    it: no pool checkout and ORM session for every batch.
    """
    lease_until = now + lease
    if isinstance(db, Connection):
        with db.begin():
            rows = _claim(db, now=now, worker_id=worker_id, limit=limit, lease_until=lease_until)
    else:
        with db.transaction() as session:
            rows = _claim(
                session, now=now, worker_id=worker_id, limit=limit, lease_until=lease_until
            )
    return sorted((Claim.from_row(r, lease_until) for r in rows), key=lambda c: c.id)


def _claim(
    on: Session | Connection, *, now: datetime, worker_id: str, limit: int, lease_until: datetime
) -> Sequence[Any]:
    return claim_due_rows(
        on,
        Page,
        now=now,
        worker_id=worker_id,
        limit=limit,
        lease_until=lease_until,
        sending=PageState.sending.value,
        returning=(
            col(Page.id),
            col(Page.attempts),
            col(Page.team_id),
            col(Page.case_id),
            col(Page.kind),
            col(Page.recipient),
            col(Page.text),
            col(Page.blocks),
        ),
    )


# The settle statements run once per page, so they are built once, with bound parameters, and
# executed on the worker's one connection: no ORM unit of work, no per-call SQL construction.
_OURS = (
    col(Page.id) == bindparam("b_id"),
    col(Page.state) == PageState.sending.value,
    col(Page.attempts) == bindparam("b_attempts"),
    col(Page.claimed_by) == bindparam("b_worker"),
)
_DELIVERED = (
    update(Page)
    .where(*_OURS)
    .values(
        state=PageState.delivered.value,
        due_at=None,
        delivered_at=bindparam("b_at", type_=UTCDateTime()),
        message_ts=bindparam("b_ts"),
        last_error=None,
    )
)
_FAILED = (
    update(Page)
    .where(*_OURS)
    .values(
        state=PageState.pending.value,
        due_at=bindparam("b_due", type_=UTCDateTime()),
        last_error=bindparam("b_error"),
    )
)
_RELEASED = (
    update(Page)
    .where(*_OURS)
    .values(
        state=PageState.pending.value,
        due_at=bindparam("b_due", type_=UTCDateTime()),
        attempts=col(Page.attempts) - 1,
        claimed_by=None,
    )
)
_AUDIT = insert(AuditEvent)


class _Settle:
    """A fenced page update and its audit row (written iff the update matched), committed.

    A settle follows every Slack call, so on PostgreSQL its cost is round trips and the commit's
    WAL flush: as separate statements that is BEGIN, UPDATE, INSERT, COMMIT. There it is one
    statement instead (the update as a CTE feeding the audit INSERT), run in autocommit: one
    round trip, still one atomic and durable transaction. It goes to psycopg directly, compiled
    once (psycopg then prepares it server-side), since SQLAlchemy's per-execute work measurably
    adds to every page. Other drivers and SQLite take the two-statement transaction.
    """

    def __init__(self, change: Update) -> None:
        self.change = change
        self.combined = _with_audit(change)
        self._compiled: tuple[str, dict[str, Any]] | None = None

    def __call__(
        self, connection: Connection, params: dict[str, Any], audit: dict[str, Any]
    ) -> bool:
        if connection.dialect.driver == "psycopg":
            _refuse_naive(params, audit)
            row = {f"a_{k}": v for k, v in audit.items() if k != "team_id"}
            return self._autocommitted(connection, {**params, **row})
        with connection.begin():
            if not connection.execute(self.change, params).rowcount:
                return False
            connection.execute(_AUDIT, audit)
        return True

    def _autocommitted(self, connection: Connection, params: dict[str, Any]) -> bool:
        if connection.in_transaction():  # autocommit would escape the caller's transaction
            raise InvalidRequestError("a settle commits on its own: end the transaction first")
        if self._compiled is None:
            compiled = self.combined.compile(dialect=connection.dialect)
            # Values written into the statement (states, NULLs) are bound parameters too.
            fixed = {k: v for k, v in compiled.params.items() if not k.startswith(("a_", "b_"))}
            self._compiled = (str(compiled), fixed)
        sql, fixed = self._compiled
        raw: Any = connection.connection.driver_connection
        raw.autocommit = True
        try:
            return bool(raw.execute(sql, {**fixed, **params}).rowcount)
        finally:
            if not raw.broken:
                raw.autocommit = False


def _with_audit(change: Update) -> Insert:
    """`change` feeding an audit INSERT: a row iff it matched, with the page's team.

    The other audit columns are bound as ``a_<column>``.
    """
    changed = change.returning(col(Page.team_id)).cte("changed")
    columns = ("at", "actor", "action", "subject", "detail", "correlation_id")
    binds = [bindparam(f"a_{c}", type_=_AUDIT.table.c[c].type) for c in columns]
    return insert(AuditEvent).from_select(["team_id", *columns], select(changed.c.team_id, *binds))


def _refuse_naive(*params: dict[str, Any]) -> None:
    """What `UTCDateTime` checks on the Core path, for the psycopg one that bypasses it."""
    for value in (v for p in params for v in p.values()):
        if isinstance(value, datetime) and value.utcoffset() is None:
            raise ValueError("naive datetime given to the database; use an aware UTC instant")


_SETTLE_DELIVERED = _Settle(_DELIVERED)
_SETTLE_FAILED = _Settle(_FAILED)


def _ours(claim: Claim, worker_id: str) -> dict[str, Any]:
    return {"b_id": claim.id, "b_attempts": claim.attempts, "b_worker": worker_id}


def _audit_row(claim: Claim, *, at: datetime, action: str, **detail: Any) -> dict[str, Any]:
    """An audit row for the Core fast path; the same shape `audit.record` writes."""
    return {
        "team_id": claim.team_id,
        "at": at,
        "actor": "system",
        "action": action,
        "subject": f"page:{claim.id}",
        "detail": json.dumps({"case_id": claim.case_id, **detail}, sort_keys=True, default=str),
        "correlation_id": correlation_id(),
    }


def settle_delivered(
    connection: Connection,
    *,
    claim: Claim,
    worker_id: str,
    at: datetime,
    message_ts: str | None,
) -> bool:
    """Mark a sent page delivered (and audit it); False when the claim was no longer ours.

    `connection` is the worker's own, kept for a whole pass and not in a transaction: each
    settle commits on its own before the next page is sent.
    """
    return _SETTLE_DELIVERED(
        connection,
        {**_ours(claim, worker_id), "b_at": at, "b_ts": message_ts},
        _audit_row(claim, at=at, action="page.delivered", kind=claim.kind, attempt=claim.attempts),
    )


def settle_failed(
    connection: Connection,
    *,
    claim: Claim,
    worker_id: str,
    at: datetime,
    error: str,
    retry_at: datetime,
) -> bool:
    """Put a page back to pending, due at `retry_at`; the failure is audited, never dropped."""
    return _SETTLE_FAILED(
        connection,
        {**_ours(claim, worker_id), "b_due": retry_at, "b_error": error[:200]},
        _audit_row(
            claim,
            at=at,
            action="page.retry",
            attempt=claim.attempts,
            error=error[:200],
            retry_at=retry_at,
        ),
    )


def release(
    connection: Connection, *, claims: list[Claim], worker_id: str, due_at: datetime
) -> int:
    """Give back claims that were not attempted (e.g. after a 429): pending again, no attempt."""
    if not claims:
        return 0
    with connection.begin():
        result = connection.execute(
            _RELEASED, [{**_ours(c, worker_id), "b_due": due_at} for c in claims]
        )
    return int(result.rowcount)


def pages_of(session: Session, *, case_id: int) -> list[Page]:
    return list(session.exec(select(Page).where(Page.case_id == case_id).order_by(col(Page.id))))


#: Pages claimed per transaction. Small enough that a batch is sent well within its lease.
BATCH = 50


def deliver_due_pages(
    db: Database, *, clock: Clock, notifier: Notifier, worker_id: str, limit: int
) -> int:
    """Claim and send up to `limit` due pages on one connection; how many were attempted."""
    with db.engine.connect() as connection:
        return deliver_claimed(
            claim=lambda now, n: claim_due_pages(connection, now=now, worker_id=worker_id, limit=n),
            send=lambda claim: _send_one(
                connection, claim=claim, clock=clock, notifier=notifier, worker_id=worker_id
            ),
            release=lambda claims, due_at: release(
                connection, claims=list(claims), worker_id=worker_id, due_at=due_at
            ),
            clock=clock,
            limit=limit,
            batch=BATCH,
        )


def _send_one(
    connection: Connection, *, claim: Claim, clock: Clock, notifier: Notifier, worker_id: str
) -> datetime | None:
    """Send one claimed page and settle it; returns the retry instant after a 429."""
    return send_claimed(
        claim,
        notifier=notifier,
        clock=clock,
        settle_sent=lambda at, ts: settle_delivered(
            connection, claim=claim, worker_id=worker_id, at=at, message_ts=ts
        ),
        settle_failed=lambda at, error, retry: settle_failed(
            connection, claim=claim, worker_id=worker_id, at=at, error=error, retry_at=retry
        ),
        what="page",
        log_extra={"page": claim.id, "case_id": claim.case_id},
    )
