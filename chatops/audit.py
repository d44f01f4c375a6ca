"""The append-only, tamper-evident audit trail: who changed what, when (docs/architecture.md,
invariant 7).

`record` only adds to the caller's session, so the event commits or rolls back together with
the change it describes; it takes no lock, so auditing never serialises the hot path. Rows are
written unsealed; `seal` (run by every worker pass and by `chatops audit verify`) later gives
each new row, in id order, a chain sequence number and a SHA-256 over its fields and the
previous event's hash, in the separate `audit_seal` table, and moves the one-row `audit_head`.
`verify` walks the chain: an edited, deleted or truncated event breaks it (docs/audit.md).

Seals live apart from the events so that the app's database role can be refused UPDATE and
DELETE on `audit_event` (and `audit_seal`) entirely: sealing only INSERTs seals and updates
the head.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, text
from sqlmodel import Field, Session, SQLModel, col, select

from rota.models import utc_column

log = logging.getLogger(__name__)

#: The "previous hash" of the first event in the chain.
GENESIS = "0" * 64
#: The one row of `audit_head`.
HEAD_ID = 1
#: PostgreSQL function (made by migration 0010, SECURITY DEFINER) that takes the sealer's
#: SHARE ROW EXCLUSIVE lock on audit_event for an app role without UPDATE on that table.
SEAL_LOCK_FUNCTION = "chatops_audit_seal_lock"


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    # Ids are never reused on SQLite either, so a deleted newest row leaves a gap behind it.
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    team_id: int | None = Field(default=None, foreign_key="team.id", index=True)
    at: datetime = utc_column(nullable=False, index=True)
    actor: str  # Slack user id, or "system" / "cli"
    action: str  # e.g. "rota.import", "case.open"
    subject: str = ""  # e.g. "TS-2027-0042", "rotation:emea"
    detail: str = "{}"  # JSON; never restricted case text
    correlation_id: str | None = None


class AuditSeal(SQLModel, table=True):
    """An event's place in the chain. No foreign key: a deleted event leaves its seal behind."""

    __tablename__ = "audit_seal"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    event_id: int = Field(unique=True)
    prev_hash: str
    hash: str


class AuditHead(SQLModel, table=True):
    """The chain's newest seal, so removing the newest seals and events is noticed too."""

    __tablename__ = "audit_head"

    id: int = Field(default=HEAD_ID, primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = 0
    hash: str = GENESIS
    event_id: int = 0  # the newest sealed event's id: every event above it is unsealed
    sealed_at: datetime | None = utc_column(nullable=True)


def record(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    subject: str = "",
    team_id: int | None = None,
    detail: dict[str, Any] | None = None,
    correlation_id: str | None = None,
) -> AuditEvent:
    """Add an audit event to the current transaction (sealed later by `seal`)."""
    event = AuditEvent(
        team_id=team_id,
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        detail=json.dumps(detail or {}, sort_keys=True, default=str),
        correlation_id=correlation_id,
    )
    session.add(event)
    return event


def recent(session: Session, *, limit: int = 50, team_id: int | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(limit)
    if team_id is not None:
        query = query.where(AuditEvent.team_id == team_id)
    return list(session.exec(query))


# --- the chain ------------------------------------------------------------------------------


def instant(value: datetime) -> str:
    """The canonical UTC form of an instant: in hashes and exports alike."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(event: AuditEvent, *, seq: int, prev_hash: str) -> str:
    """SHA-256 of the event's fields, its place in the chain and the previous hash.

    The serialisation is a compact JSON array in a fixed order (docs/audit.md), so an export
    can be checked by anyone without this code.
    """
    fields = [
        seq,
        event.id,
        event.team_id,
        instant(event.at),
        event.actor,
        event.action,
        event.subject,
        event.detail,
        event.correlation_id,
        prev_hash,
    ]
    canonical = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ChainBroken(Exception):
    """The chain cannot be extended (its head is gone); `chatops audit verify` says where."""


def seal(db: Any, *, now: datetime | None = None, batch: int = 500) -> int:
    """Seal every event written so far, in short transactions of `batch`; how many were sealed.

    `db` is a `chatops.db.Database` (typed loosely: this module sits below it).
    """
    total = 0
    while True:
        with db.transaction() as session:
            done = seal_batch(session, now=now or datetime.now(UTC), batch=batch)
        total += done
        if done < batch:
            return total


def seal_batch(session: Session, *, now: datetime, batch: int = 500) -> int:
    """Seal up to `batch` unsealed events in id order, in the caller's (short) transaction.

    On PostgreSQL ids are taken at INSERT, not at commit, so a lower id may still commit after a
    higher one is sealed and then be skipped for ever. The sealer therefore first takes a SHARE
    ROW EXCLUSIVE lock on audit_event: it waits for every transaction that has inserted (they
    hold ROW EXCLUSIVE) and holds new ones off until this commits, so each id below the highest
    it reads is already visible. On SQLite the transaction is BEGIN IMMEDIATE: writers queue.
    """
    head = session.get(AuditHead, HEAD_ID)
    newest = session.exec(select(func.max(col(AuditEvent.id)))).one()
    if newest is None or (head is not None and newest <= head.event_id):
        return 0  # nothing committed beyond the head: no lock taken
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL lock_timeout = '5s'"))
        session.execute(text(f"SELECT {SEAL_LOCK_FUNCTION}()"))
        session.expire_all()
        head = session.get(AuditHead, HEAD_ID)
    if head is None:
        if session.exec(select(func.count()).select_from(AuditSeal)).one():
            raise ChainBroken("the audit head record is missing")
        head = AuditHead()
        session.add(head)
    events = session.exec(
        select(AuditEvent)
        .where(col(AuditEvent.id) > head.event_id)
        .order_by(col(AuditEvent.id))
        .limit(batch)
    ).all()
    seals: list[dict[str, Any]] = []
    seq, prev = head.seq, head.hash
    for event in events:
        assert event.id is not None
        seq += 1
        digest = event_hash(event, seq=seq, prev_hash=prev)
        seals.append({"seq": seq, "event_id": event.id, "prev_hash": prev, "hash": digest})
        prev = digest
    if seals:
        session.execute(insert(AuditSeal), seals)
        head.seq, head.hash, head.event_id = seq, prev, seals[-1]["event_id"]
        head.sealed_at = now
        session.add(head)
    return len(seals)


def seal_quietly(db: Any, *, now: datetime | None = None) -> int:
    """`seal` for the worker pass: a failure is logged, never stops the pass's other duties."""
    try:
        return seal(db, now=now)
    except Exception:
        log.exception("sealing the audit trail failed")
        return 0


@dataclass(frozen=True)
class Problem:
    """The first place where the chain does not hold."""

    seq: int | None
    event_id: int | None
    what: str

    def __str__(self) -> str:
        where = []
        if self.seq is not None:
            where.append(f"seq {self.seq}")
        if self.event_id is not None:
            where.append(f"event id {self.event_id}")
        return f"{', '.join(where) or 'chain'}: {self.what}"


@dataclass(frozen=True)
class Verdict:
    verified: int  # sealed events whose hash and place checked out
    head_hash: str
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def sealed(session: Session, *, page: int = 1000) -> Iterator[tuple[AuditSeal, AuditEvent | None]]:
    """Every seal in chain order with its event (None when the event row is gone)."""
    after = 0
    while True:
        rows = session.exec(
            select(AuditSeal, AuditEvent)
            .join(AuditEvent, col(AuditEvent.id) == col(AuditSeal.event_id), isouter=True)
            .where(col(AuditSeal.seq) > after)
            .order_by(col(AuditSeal.seq))
            .limit(page)
        ).all()
        if not rows:
            return
        yield from rows
        after = rows[-1][0].seq


def verify(session: Session) -> Verdict:
    """Check every sealed event's hash, that seqs run 1, 2, 3… and the head; the first fault."""
    expected, prev, count = 1, GENESIS, 0
    for seal_row, event in sealed(session):
        problem = _check(seal_row, event, expected=expected, prev=prev)
        if problem is not None:
            return Verdict(count, prev, problem)
        count += 1
        expected, prev = seal_row.seq + 1, seal_row.hash
    last = expected - 1
    problem = _check_head(session.get(AuditHead, HEAD_ID), last=last, prev=prev)
    if problem is None:
        problem = _unsealed_below(session, last)
    return Verdict(count, prev, problem)


def _check(
    seal_row: AuditSeal, event: AuditEvent | None, *, expected: int, prev: str
) -> Problem | None:
    seq, event_id = seal_row.seq, seal_row.event_id
    if seq != expected:
        missing = f"seq {expected}" if seq == expected + 1 else f"seq {expected}–{seq - 1}"
        return Problem(seq, event_id, f"events missing before it ({missing} removed)")
    if seal_row.prev_hash != prev:
        return Problem(
            seq,
            event_id,
            "events missing before it (its previous hash does not match the event before: "
            "one was removed or its seal rewritten)",
        )
    if event is None:
        return Problem(seq, event_id, "the event row is missing (deleted)")
    if event_hash(event, seq=seq, prev_hash=prev) != seal_row.hash:
        return Problem(seq, event_id, "edited: its fields no longer match its hash")
    return None


def _check_head(head: AuditHead | None, *, last: int, prev: str) -> Problem | None:
    if head is None:
        return Problem(None, None, "the head record is missing") if last else None
    if head.seq > last:
        return Problem(
            last + 1,
            None,
            f"tail removed: the head records {head.seq} events but the chain ends at seq {last}",
        )
    if head.seq < last:
        return Problem(head.seq + 1, None, f"the head record stops at seq {head.seq}, before it")
    if head.hash != prev:
        return Problem(last, head.event_id, "the head hash does not match the chain's last event")
    return None


def _unsealed_below(session: Session, last: int) -> Problem | None:
    """An event below the newest sealed one but outside the chain was slipped in afterwards."""
    if not last:
        return None
    newest = session.exec(select(func.max(col(AuditSeal.event_id)))).one() or 0
    stray = session.exec(
        select(AuditEvent.id)
        .join(AuditSeal, col(AuditSeal.event_id) == col(AuditEvent.id), isouter=True)
        .where(col(AuditSeal.seq).is_(None), col(AuditEvent.id) < newest)
        .order_by(col(AuditEvent.id))
        .limit(1)
    ).first()
    if stray is None:
        return None
    return Problem(
        None, stray, "not in the chain though later events are (inserted afterwards, or skipped)"
    )


def head(session: Session) -> AuditHead | None:
    return session.get(AuditHead, HEAD_ID)


def export(
    session: Session, *, start: datetime | None = None, end: datetime | None = None
) -> Iterator[dict[str, Any]]:
    """The sealed events with `start <= at < end`, in chain order, as JSON-ready dicts.

    `detail` is the stored JSON text as it is, so a reader can recompute each hash.
    """
    for seal_row, event in sealed(session):
        if event is None:
            continue
        if (start is not None and event.at < start) or (end is not None and event.at >= end):
            continue
        yield {
            "seq": seal_row.seq,
            "id": event.id,
            "at": instant(event.at),
            "team_id": event.team_id,
            "actor": event.actor,
            "action": event.action,
            "subject": event.subject,
            "detail": event.detail,
            "correlation_id": event.correlation_id,
            "prev_hash": seal_row.prev_hash,
            "hash": seal_row.hash,
        }
