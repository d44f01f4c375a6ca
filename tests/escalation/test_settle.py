"""Settling a claimed page on each database: fenced by claim, audited iff it took effect.

One Core path on both databases (the fenced update, then its audit row, in one transaction),
run here against each real database.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy.exc import InvalidRequestError, StatementError
from sqlmodel import col, select

from chatops.audit import AuditEvent
from chatops.db import Database
from chatops.logs import correlated
from chatops.outbox.claims import Claim, claim
from chatops.outbox.models import OutboxMessage, OutboxState
from chatops.outbox.settle import settle_failed, settle_sent
from tests.support.case_world import NOW
from tests.support.pages import seed_due_pages

LATER = NOW + timedelta(seconds=3)


def _claim_two(db: Database) -> list[Claim]:
    seed_due_pages(db, 2, at=NOW)
    claims = claim(db, now=NOW, worker_id="w1", limit=10)
    assert [c.attempts for c in claims] == [1, 1]
    return claims


def _audits(db: Database) -> list[AuditEvent]:
    with db.transaction() as session:
        return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.id))))


def _page(db: Database, page_id: int) -> OutboxMessage:
    with db.transaction() as session:
        page = session.get(OutboxMessage, page_id)
        assert page is not None
        return page


def test_a_settle_that_is_no_longer_ours_changes_nothing_and_audits_nothing(
    db: Database,
) -> None:
    claim = _claim_two(db)[0]
    with db.engine.connect() as connection:
        for worker_id, attempts in (("w2", 1), ("w1", 2)):  # another worker; a newer claim
            stale = replace(claim, attempts=attempts)
            assert not settle_sent(
                connection, claim=stale, worker_id=worker_id, at=LATER, message_ts="1.1"
            )
            assert not settle_failed(
                connection,
                claim=stale,
                worker_id=worker_id,
                at=LATER,
                error="boom",
                retry_at=LATER,
            )
    page = _page(db, claim.id)
    assert page.state == OutboxState.sending.value and page.sent_at is None
    assert page.last_error is None
    assert _audits(db) == []


def test_delivered_once_with_its_audit_row_then_fenced(db: Database) -> None:
    claim = _claim_two(db)[0]
    with db.engine.connect() as connection, correlated("cid-1"):
        assert settle_sent(
            connection, claim=claim, worker_id="w1", at=LATER, message_ts="1712.0001"
        )
        assert not settle_sent(  # delivered is final: the same claim cannot settle twice
            connection, claim=claim, worker_id="w1", at=LATER, message_ts="1712.0002"
        )
    page = _page(db, claim.id)
    assert page.state == OutboxState.sent.value and page.due_at is None
    assert page.sent_at == LATER and page.message_ts == "1712.0001"
    [event] = _audits(db)
    assert (event.team_id, event.at, event.actor, event.action, event.subject) == (
        claim.team_id,
        LATER,
        "system",
        "page.delivered",
        f"page:{claim.id}",
    )
    assert event.correlation_id == "cid-1"
    assert json.loads(event.detail) == {"attempt": 1, "case_id": claim.case_id, "kind": "dm"}


def test_failed_goes_back_to_pending_with_its_audit_row(db: Database) -> None:
    first, second = _claim_two(db)
    retry = LATER + timedelta(seconds=5)
    with db.engine.connect() as connection:
        assert settle_failed(
            connection, claim=first, worker_id="w1", at=LATER, error="x" * 300, retry_at=retry
        )
        assert settle_sent(  # the same connection goes on to the next page
            connection, claim=second, worker_id="w1", at=LATER, message_ts=None
        )
    page = _page(db, first.id)
    assert page.state == OutboxState.pending.value and page.due_at == retry
    assert page.last_error == "x" * 200
    retried, delivered = _audits(db)
    assert (retried.action, retried.subject) == ("page.retry", f"page:{first.id}")
    assert json.loads(retried.detail) == {
        "attempt": 1,
        "case_id": first.case_id,
        "error": "x" * 200,
        "retry_at": str(retry),
    }
    assert delivered.action == "page.delivered" and delivered.correlation_id is None
    assert _page(db, second.id).message_ts is None


def test_a_naive_instant_is_refused(db: Database) -> None:
    claim = _claim_two(db)[0]
    refused = pytest.raises((ValueError, StatementError), match="naive")
    with db.engine.connect() as connection, refused:
        settle_sent(
            connection,
            claim=claim,
            worker_id="w1",
            at=LATER.replace(tzinfo=None),
            message_ts=None,
        )
    assert _page(db, claim.id).state == OutboxState.sending.value


def test_a_settle_will_not_run_inside_a_transaction_it_cannot_commit(db: Database) -> None:
    claim = _claim_two(db)[0]
    refused = pytest.raises(InvalidRequestError)
    with db.engine.connect() as connection, connection.begin(), refused:
        settle_sent(connection, claim=claim, worker_id="w1", at=LATER, message_ts=None)
    assert _page(db, claim.id).state == OutboxState.sending.value
    assert _audits(db) == []
