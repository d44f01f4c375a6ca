"""A rotation's orders over time, and where the next full cycle starts.

Adding or removing a member must not re-deal shifts people already planned around: the new
order takes over at the start of the next full cycle of the current one, and every shift before
that stays exactly as it was (docs/architecture.md, invariant 2). A rotation therefore follows a
sequence of orders (`RotationSpec.previous`, then `participants`); order ``e`` takes over at
shift ``K_e`` and deals shift ``k`` to its participant ``(k - K_e) mod n_e``.

Shift numbers come from the rotation's handoff series, so every instant here is an exact UTC
handoff, DST included (rota/wallclock.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rota.handoffs import FOREVER, HandoffSeries, series
from rota.spec import RotationSpec
from rota.wallclock import from_ts, to_ts


def first_shift_from(ser: HandoffSeries, length: int, at: datetime | None) -> int:
    """The number of the first shift that starts at or after ``at`` (0 for None)."""
    if at is None:
        return 0
    first_handoff = ser.index_at(to_ts(at) - 1) + 1
    return -(-first_handoff // length)


@dataclass(frozen=True)
class Orders:
    """Which order deals each shift: ``(first shift, participants)``, oldest first."""

    eras: tuple[tuple[int, tuple[str, ...]], ...]

    def member_of(self, k: int) -> str:
        first, people = self.eras[0]
        for start, who in self.eras[1:]:
            if k < start:
                break
            first, people = start, who
        return people[(k - first) % len(people)]


def orders_of(rotation: RotationSpec) -> Orders:
    ser = series(rotation)
    length = rotation.shift_length
    return Orders(tuple((first_shift_from(ser, length, at), who) for at, who in rotation.orders()))


@dataclass(frozen=True)
class CycleStart:
    """The start of a full cycle of the current order: shift ``shift``, at ``at`` (UTC)."""

    shift: int
    at: datetime


def next_cycle_start(rotation: RotationSpec, now: datetime) -> CycleStart | None:
    """The first start of a full cycle of the current order strictly after ``now``.

    None when the rotation's handoffs stop before one comes (its cron never fires again).
    A cycle that began exactly at ``now`` has a responder already on call: it is not "next".
    """
    ser = series(rotation)
    length = rotation.shift_length
    anchor = first_shift_from(ser, length, rotation.orders()[-1][0])
    cycle = len(rotation.participants)
    k = anchor
    now_ts = to_ts(now)
    if ser.at_index(k * length) <= now_ts:
        current = max(ser.index_at(now_ts), 0) // length  # the shift holding ``now``
        k = anchor + ((current - anchor) // cycle + 1) * cycle
    at = ser.at_index(k * length)
    if at >= FOREVER:
        return None
    return CycleStart(k, from_ts(at))


def cycle_end(rotation: RotationSpec, start: CycleStart) -> datetime:
    """When the full cycle of the current order that begins at ``start`` ends."""
    ser = series(rotation)
    end = (start.shift + len(rotation.participants)) * rotation.shift_length
    return from_ts(min(ser.at_index(end), FOREVER))
