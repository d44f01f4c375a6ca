"""The outbox: every message the worker sends to Slack, one row each, in one table.

A row is written in the transaction of the change it announces (a case paged, a handoff posted,
a coverage gap found), rendered once, and then delivered claim → send → settle by
`chatops.outbox.delivery`. The outbox knows nothing of cases or handoffs: a row carries the ids
its domain needs (`case_id`, `handoff_id`, …) and the domain reads them back.

One state vocabulary for every row:

* ``pending``: waiting for its first attempt, or for its next one after a failure (then
  `last_error` says why and `attempts` > 0: "failed, retrying" is pending with an error);
* ``sending``: claimed by a worker until `due_at` (the lease), then claimable again;
* ``sent``: Slack answered ``ok`` (`sent_at`, `message_ts`); final;
* ``cancelled``: no longer wanted before it was sent (case resolved, boundary moved); final.

A failure is never final: a message is retried until it is sent or cancelled. `due_at` is the
one column the worker polls: set while a row needs the worker, NULL once it is final.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, text
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
from sqlmodel import Field, SQLModel

from rota.models import utc_column


class OutboxState(StrEnum):
    pending = "pending"  # waiting for its first or next attempt (due_at)
    sending = "sending"  # claimed by a worker until due_at (the lease); then retried
    sent = "sent"  # Slack answered ok
    cancelled = "cancelled"  # no longer wanted before it was sent


#: States after which the worker never touches a row again.
FINAL = frozenset({OutboxState.sent, OutboxState.cancelled})


class Topic(StrEnum):
    """Which domain a row belongs to; it names the row's audit events."""

    page = "page"  # about a case: a page DM or the channel announcement
    handoff = "handoff"  # a handoff post, reminder or escalation, or a coverage-watch DM
    duty = "duty"  # a case's legal duty: a reporting-deadline reminder
    care = "care"  # a private word to a member: the exposure cap note, a check-in after a case


class OutboxMessage(SQLModel, table=True):
    """One message to one channel or person (a user id as channel is a DM).

    `key` is unique, so queueing is idempotent (a page's key names its case, paging, kind and
    recipient; a handoff message's is chosen by its domain). Restricted case text is never in
    `text` or `blocks`: pages are rendered without it.
    """

    __tablename__ = "outbox"
    # Pages of open sev1/sev2 cases (they carry a backoff cap) are claimed in small batches of
    # their own, first (docs/architecture.md, invariant 12).
    __table_args__ = (
        Index(
            "ix_outbox_urgent_due",
            "due_at",
            postgresql_where=text("max_backoff_s IS NOT NULL"),
            sqlite_where=text("max_backoff_s IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    topic: str
    kind: str  # page: "dm" / "channel"; handoff: "handoff.post", "coverage.watch", …
    key: str = Field(unique=True)
    # A page's: its case, the case's n-th paging, the ladder step, the level shown, the role.
    case_id: int | None = Field(default=None, foreign_key="ts_case.id", index=True)
    batch: int | None = None
    step: int | None = None
    level: str | None = None
    role: str | None = None
    # Who caused a page: a member's Slack id, or "system" for a timer. A direct page (role
    # "direct") gives its recipient access to a restricted case only when whoever sent it had
    # access themselves; ladder pages always do (the policy chose the recipient).
    paged_by: str | None = None
    grants_access: bool = Field(default=True, sa_column_kwargs={"server_default": sa_true()})
    # Waiting for its domain to release it (a page held for working hours, re-targeted when it
    # comes due): delivery never claims a held row, whatever its `due_at`.
    held: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})
    # A handoff message's boundary (none for a coverage-watch DM).
    handoff_id: int | None = Field(default=None, foreign_key="handoff.id", index=True)
    recipient: str  # channel id, or a Slack user id for a DM
    text: str
    blocks: str = "[]"  # Block Kit JSON
    state: str = OutboxState.pending.value
    due_at: datetime | None = utc_column(nullable=True, index=True)
    attempts: int = 0  # claims so far: the fencing token of the current one
    # Failed attempts that count for backoff: not 429s (Slack asked us to wait, nothing failed),
    # and reset when Slack recovers from an outage, so the next failure starts backoff afresh.
    failures: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # The longest backoff this row may wait (a page of an open sev1/sev2 case: 30 s); None: the
    # outbox's own cap. Set by the domain that queues it: the outbox knows nothing of cases.
    max_backoff_s: int | None = None
    claimed_by: str | None = None
    # Set when a send's outcome is unknown: the instant by which it had started (a timeout's
    # send, or the end of the lease of a claim whose worker died). Before sending again the
    # worker looks for the message in the conversation's history; cleared once sent.
    doubt_at: datetime | None = utc_column(nullable=True)
    last_error: str | None = None
    created_at: datetime = utc_column(nullable=False)
    # When it first fell due (a held page: when it was to be released); `due_at` moves with
    # claims and retries. A sent row's delivery lag is `sent_at - first_due_at`.
    first_due_at: datetime | None = utc_column(nullable=True)
    sent_at: datetime | None = utc_column(nullable=True)
    message_ts: str | None = None  # Slack's ts of the sent message


class SlackRateLimit(SQLModel, table=True):
    """Slack asked us (a 429) not to call `scope` until `until`: every worker reads it first.

    `scope` is a Web API method ("method:chat.postMessage") or one channel of it
    ("channel:chat.postMessage:C123"); a row whose `until` has passed is simply ignored.
    """

    __tablename__ = "slack_rate_limit"

    scope: str = Field(primary_key=True)
    until: datetime = utc_column(nullable=False)
