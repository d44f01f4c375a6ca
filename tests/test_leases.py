"""The claim-send loop both outboxes share, with plain claims and a clock that moves on."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chatops.clock import ManualClock
from chatops.outbox.claims import LEASE as DELIVERY_LEASE
from chatops.outbox.claims import LEASE_MARGIN
from chatops.outbox.delivery import deliver_claimed

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class Row:
    id: int
    lease_until: datetime


class Outbox:
    """Due rows handed out in claim order; records what was sent and handed back."""

    def __init__(
        self, count: int, clock: ManualClock, *, send_takes: timedelta, lease: timedelta = LEASE
    ) -> None:
        self.due = list(range(1, count + 1))
        self.lease = lease
        self.claims = 0
        self.renewals: list[tuple[datetime, datetime]] = []
        self.stolen: set[int] = set()
        self.clock = clock
        self.send_takes = send_takes
        self.sent: list[int] = []
        self.released: list[tuple[list[int], datetime]] = []
        self.answer: dict[int, datetime] = {}  # row id → retry instant (a 429)

    def claim(self, now: datetime, n: int) -> list[Row]:
        taken, self.due = self.due[:n], self.due[n:]
        self.claims += 1
        return [Row(i, now + self.lease) for i in taken]

    def renew(self, rows: Sequence[Row], now: datetime) -> list[Row]:
        self.renewals.append((now, now + self.lease))
        return [Row(r.id, now + self.lease) for r in rows if r.id not in self.stolen]

    def send(self, row: Row) -> datetime | None:
        self.sent.append(row.id)
        self.clock.advance(self.send_takes)
        return self.answer.get(row.id)

    def release(self, rows: Sequence[Row], due_at: datetime) -> None:
        self.released.append(([r.id for r in rows], due_at))
        self.due = [r.id for r in rows] + self.due


def run(
    outbox: Outbox,
    *,
    limit: int = 100,
    batch: int = 10,
    renew: Callable[[Sequence[Row], datetime], Sequence[Row]] | None = None,
    gate: Callable[[datetime], datetime | None] | None = None,
) -> int:
    return deliver_claimed(
        renew=renew,
        gate=gate,
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
    # Without renewal: each send takes 3 s; a batch claimed at 0 s holds its lease until 8 s,
    # so with the 6 s margin a send may start before 2 s: row 1 goes, 2-5 are handed back at
    # 3 s and claimed again with a fresh lease, one send per claim.
    assert timedelta(seconds=2) == DELIVERY_LEASE - LEASE_MARGIN
    outbox = Outbox(5, ManualClock(T0), send_takes=timedelta(seconds=3), lease=DELIVERY_LEASE)
    assert run(outbox, limit=5, batch=5) == 5
    assert outbox.released[0] == ([2, 3, 4, 5], T0 + timedelta(seconds=3))
    assert outbox.sent == [1, 2, 3, 4, 5]


def test_a_batch_being_sent_renews_its_lease_and_is_never_handed_back() -> None:
    # Sends of 1 s each: the 8 s lease is renewed whenever less than 7 s is left, so all 30
    # rows of one claim go out without a hand-back, and the lease never lapses mid-batch.
    clock = ManualClock(T0)
    outbox = Outbox(30, clock, send_takes=timedelta(seconds=1), lease=DELIVERY_LEASE)
    assert run(outbox, limit=30, batch=30, renew=outbox.renew) == 30
    assert outbox.released == [] and outbox.sent == list(range(1, 31))
    assert outbox.claims == 1
    assert outbox.renewals and all(until - at == DELIVERY_LEASE for at, until in outbox.renewals)
    gaps = [b[0] - a[0] for a, b in zip(outbox.renewals, outbox.renewals[1:], strict=False)]
    assert max(gaps) <= timedelta(seconds=3)  # "every few sends"


def test_a_renewal_that_lost_a_row_does_not_send_it() -> None:
    clock = ManualClock(T0)
    outbox = Outbox(5, clock, send_takes=timedelta(seconds=1), lease=DELIVERY_LEASE)
    outbox.stolen = {4}  # another worker took row 4 over
    assert run(outbox, limit=5, batch=5, renew=outbox.renew) == 4
    assert outbox.sent == [1, 2, 3, 5]


def test_an_active_rate_limit_stops_claims_and_sends() -> None:
    clock = ManualClock(T0)
    outbox = Outbox(5, clock, send_takes=timedelta(milliseconds=10))
    until = T0 + timedelta(seconds=2)
    assert run(outbox, gate=lambda now: until if now < until else None) == 0
    assert outbox.sent == [] and outbox.claims == 0
    clock.advance_to(until)
    assert run(outbox, gate=lambda now: until if now < until else None) == 5


def test_a_retry_instant_hands_back_the_rest_and_ends_the_pass() -> None:
    outbox = Outbox(10, ManualClock(T0), send_takes=timedelta(milliseconds=10))
    retry = T0 + timedelta(seconds=30)
    outbox.answer[3] = retry
    assert run(outbox, batch=5) == 3
    assert outbox.sent == [1, 2, 3]
    assert outbox.released == [([4, 5], retry)]
