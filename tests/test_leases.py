"""The claim-send loop both outboxes share, with plain claims and a clock that moves on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chatops.clock import ManualClock
from chatops.outbox.delivery import LEASE_MARGIN, deliver_claimed

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class Row:
    id: int
    lease_until: datetime


class Outbox:
    """Due rows handed out in claim order; records what was sent and handed back."""

    def __init__(self, count: int, clock: ManualClock, *, send_takes: timedelta) -> None:
        self.due = list(range(1, count + 1))
        self.clock = clock
        self.send_takes = send_takes
        self.sent: list[int] = []
        self.released: list[tuple[list[int], datetime]] = []
        self.answer: dict[int, datetime] = {}  # row id → retry instant (a 429)

    def claim(self, now: datetime, n: int) -> list[Row]:
        taken, self.due = self.due[:n], self.due[n:]
        return [Row(i, now + LEASE) for i in taken]

    def send(self, row: Row) -> datetime | None:
        self.sent.append(row.id)
        self.clock.advance(self.send_takes)
        return self.answer.get(row.id)

    def release(self, rows: Sequence[Row], due_at: datetime) -> None:
        self.released.append(([r.id for r in rows], due_at))
        self.due = [r.id for r in rows] + self.due


def run(outbox: Outbox, *, limit: int = 100, batch: int = 10) -> int:
    return deliver_claimed(
        claim=outbox.claim,
        send=outbox.send,
        release=outbox.release,
        clock=outbox.clock,
        limit=limit,
        batch=batch,
    )


def test_sends_batch_after_batch_up_to_the_limit() -> None:
    outbox = Outbox(25, ManualClock(T0), send_takes=timedelta(milliseconds=10))
    assert run(outbox, limit=23) == 23
    assert outbox.sent == list(range(1, 24))
    assert outbox.released == []


def test_a_claim_near_the_end_of_its_lease_is_handed_back_with_the_rest_of_its_batch() -> None:
    # Each send takes 15 s; a batch claimed at 0 s holds its lease until 60 s, so with the
    # 20 s margin a send may start before 40 s: rows 1-3 go, 4 and 5 are handed back at 45 s
    # and claimed again with a fresh lease.
    assert timedelta(seconds=40) == LEASE - LEASE_MARGIN
    outbox = Outbox(5, ManualClock(T0), send_takes=timedelta(seconds=15))
    assert run(outbox, limit=5, batch=5) == 5
    assert outbox.released == [([4, 5], T0 + timedelta(seconds=45))]
    assert outbox.sent == [1, 2, 3, 4, 5]


def test_a_retry_instant_hands_back_the_rest_and_ends_the_pass() -> None:
    outbox = Outbox(10, ManualClock(T0), send_takes=timedelta(milliseconds=10))
    retry = T0 + timedelta(seconds=30)
    outbox.answer[3] = retry
    assert run(outbox, batch=5) == 3
    assert outbox.sent == [1, 2, 3]
    assert outbox.released == [([4, 5], retry)]
