"""Messages whose send is in doubt: looked up in their conversation before being sent again.

A send is in doubt when the request may have reached Slack without an answer coming back (an
HTTP timeout, a dropped connection) or when its worker died while the row was claimed. Every
message carries its outbox id as Slack message metadata, so before such a row is sent again
its conversation's recent history is searched for it: found, it is settled as sent
(deduplicated, audited) and not posted twice (docs/architecture.md, invariant 4). Without the
history scopes the lookup is unavailable and the row is sent anyway: at most one duplicate, as
before lookups existed.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Connection

from chatops import metrics
from chatops.clock import Clock
from chatops.outbox.claims import Claim
from chatops.outbox.notifier import Notifier
from chatops.outbox.ratelimits import HISTORY_SCOPE, limited_until
from chatops.outbox.settle import retry_delay, settle_failed, settle_limited, settle_sent

log = logging.getLogger(__name__)

#: History is searched from this long before the doubt began: the claim's lease, the client
#: timeout and the clock difference between this host and Slack all fit in it.
DOUBT_LOOKBACK = timedelta(minutes=2)


#: Answers saying this conversation cannot be read (while a post to it may still work): the
#: message is sent without looking rather than held back for ever.
UNREADABLE = frozenset({"channel_not_found", "not_in_channel", "access_denied", "is_archived"})


def oldest(doubt_at: datetime) -> datetime:
    """Where a lookup's history starts."""
    return doubt_at - DOUBT_LOOKBACK


def still_to_send(
    connection: Connection, *, claim: Claim, notifier: Notifier, clock: Clock, worker_id: str
) -> bool:
    """For a claim in doubt: True when it must be sent (not found, or cannot look); otherwise
    it is settled here: sent (found) or due again later (Slack could not say)."""
    assert claim.doubt_at is not None
    where = {"outbox_id": claim.id, "topic": claim.topic, "kind": claim.kind, **claim.refs()}
    held = limited_until(connection, now=clock(), scope=HISTORY_SCOPE)
    if held is not None:
        settle_limited(
            connection,
            claim=claim,
            worker_id=worker_id,
            at=clock(),
            error="history ratelimited",
            until=held,
            scope=HISTORY_SCOPE,
            due_at=held,
        )
        return False
    metrics.outbox_in_doubt(claim.topic)
    lookup = notifier.find_sent(
        channel=claim.recipient, outbox_id=claim.id, oldest=oldest(claim.doubt_at)
    )
    now = clock()
    if lookup.unavailable:
        return True  # no history scopes: at most one duplicate
    if lookup.found:
        if settle_sent(
            connection,
            claim=claim,
            worker_id=worker_id,
            at=now,
            message_ts=lookup.ts,
            deduplicated=True,
        ):
            metrics.outbox_deduplicated(claim.topic)
            log.info("message in doubt was already posted; not sent again", extra=where)
        return False
    if lookup.error is None:
        return True  # looked, and it is not there
    if lookup.error in UNREADABLE:
        # A page that is never sent is worse than one sent twice (invariant 11).
        log.warning(
            "cannot read this conversation to look for a message in doubt; sending it",
            extra={**where, "error": lookup.error},
        )
        return True
    error = f"history {lookup.error}"
    if lookup.retry_after is not None:
        until = now + timedelta(seconds=lookup.retry_after)
        settle_limited(
            connection,
            claim=claim,
            worker_id=worker_id,
            at=now,
            error=error,
            until=until,
            scope=HISTORY_SCOPE,
            due_at=until,
        )
        return False
    retry = now + retry_delay(claim.failures + 1, claim.max_backoff_s)
    settle_failed(connection, claim=claim, worker_id=worker_id, at=now, error=error, retry_at=retry)
    log.warning(
        "cannot tell whether a message in doubt was posted; will look again",
        extra={**where, "error": lookup.error, "retry_at": retry.isoformat()},
    )
    return False
