"""Who is on call: a RotaSpec resolved into concrete UTC shifts.

Semantics (the issue's words):

* Rotation shift ``k`` runs from handoff ``kL`` to handoff ``(k+1)L`` and belongs to participant
  ``k mod n`` (counted from where its order took over, rota/orders.py); before the rotation's
  start it covers nobody.
* A restricted rotation covers its shift member only inside the union of its windows.
* An override on a rotation replaces that rotation's responder for its whole interval, windows
  or not. Where overrides on the same rotation overlap, the later one in the list wins, so a
  rotation never has two responders at once.
* A team-wide override (``rotation: None``) adds a responder; its shifts carry ``rotation=None``
  and ``layer=TEAM_LAYER``.

:class:`CompiledRota` is built once per RotaSpec and keeps handoffs and restriction windows
materialised, so repeated questions cost interval arithmetic only. The plain functions
(:func:`shifts`, :func:`on_call`) go through :func:`compile_rota`, memoised on the frozen spec.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Literal

from rota.handoffs import FOREVER, HandoffSeries, series
from rota.orders import orders_of
from rota.spec import OverrideSpec, RotaSpec, RotationSpec, Weekday
from rota.wallclock import daily_windows, from_ts, local_date, merge, subtract, to_ts, zone

#: The layer name of team-wide override shifts (they belong to no rotation).
TEAM_LAYER = "team"

_WEEKDAY_INDEX = {day: i for i, day in enumerate(Weekday)}

#: An internal piece of timeline: (start, end, member, rotation index or -1, is override).
Piece = tuple[int, int, str, int, bool]


@dataclass(frozen=True)
class Shift:
    """A concrete interval ``[start, end)`` (aware UTC) with one member on call."""

    member: str
    rotation: str | None
    start: datetime
    end: datetime
    source: Literal["rotation", "override"]
    layer: str


class _Windows:
    """A restricted rotation's windows in UTC, materialised per local year and cached."""

    def __init__(self, rotation: RotationSpec) -> None:
        self.tz = zone(rotation.tz)
        self.rules = [
            (frozenset(_WEEKDAY_INDEX[d] for d in r.days), r.start, r.end)
            for r in rotation.restrictions
        ]
        self._years: dict[int, list[tuple[int, int]]] = {}
        self._spans: dict[tuple[int, int], list[tuple[int, int]]] = {}
        self._lock = threading.Lock()

    def _year(self, year: int) -> list[tuple[int, int]]:
        got = self._years.get(year)
        if got is None:
            first = datetime(year, 1, 1).date()  # noqa: DTZ001 (a calendar date)
            last = datetime(year, 12, 31).date()  # noqa: DTZ001
            got = []
            for days, start, end in self.rules:
                got.extend(daily_windows(self.tz, days, start, end, first, last))
            self._years[year] = got
        return got

    def covering(self, lo: int, hi: int) -> list[tuple[int, int]]:
        """The merged windows (sorted, disjoint) that overlap ``[lo, hi)``, full extents."""
        y0 = local_date(lo - 2 * 86400, self.tz).year
        y1 = local_date(min(hi, FOREVER - 1), self.tz).year
        y1 = min(y1, y0 + 50)  # an endless last shift: windows beyond 50 years are moot
        with self._lock:
            merged = self._spans.get((y0, y1))
            if merged is None:
                raw: list[tuple[int, int]] = []
                for year in range(y0, y1 + 1):
                    raw.extend(self._year(year))
                merged = merge(raw)
                if len(self._spans) > 64:
                    self._spans.clear()
                self._spans[(y0, y1)] = merged
        i = bisect_left(merged, (lo, lo))
        if i > 0 and merged[i - 1][1] > lo:
            i -= 1
        j = bisect_left(merged, (hi, hi))
        return merged[i:j]


@lru_cache(maxsize=1024)
def windows_of(rotation: RotationSpec) -> _Windows:
    """The shared window cache of a rotation spec: an edit elsewhere in the rota reuses it."""
    return _Windows(rotation)


class _CompiledRotation:
    def __init__(
        self, index: int, rotation: RotationSpec, overrides: dict[str | None, list[OverrideSpec]]
    ) -> None:
        self.index = index
        self.spec = rotation
        self.series: HandoffSeries = series(rotation)
        self.windows = windows_of(rotation) if rotation.restrictions else None
        self.orders = orders_of(rotation)
        # Effective override pieces: each override minus the later ones on this rotation.
        mine = [(to_ts(o.start), to_ts(o.end), o.member) for o in overrides.get(rotation.name, ())]
        pieces: list[tuple[int, int, str]] = []
        later: list[tuple[int, int]] = []  # union of the overrides after the current one
        for a, b, who in reversed(mine):
            for lo, hi in subtract([(a, b)], later):
                pieces.append((lo, hi, who))
            later = merge([*later, (a, b)])
        self.override_pieces = sorted(pieces)
        self.override_union = merge([(a, b) for a, b, _ in pieces])

    def nominal_shifts(self, start: int, end: int) -> list[tuple[int, int, str]]:
        """Whole shifts (handoff to handoff) overlapping ``[start, end)``, before windows."""
        ser = self.series
        if end <= ser.start:
            return []
        length = self.spec.shift_length
        member_of = self.orders.member_of
        k = ser.index_at(max(start, ser.start)) // length
        ser.index_at(end)  # materialise every handoff up to the first one after ``end``
        ser.at_index((ser.index_at(end) // length + 1) * length)  # and that shift's end
        hs = ser.instants
        count = len(hs)
        raw: list[tuple[int, int, str]] = []
        while True:
            i = k * length
            if i >= count:
                break
            a = hs[i]
            if a >= end:
                break
            j = i + length
            b = hs[j] if j < count else FOREVER
            raw.append((a, b, member_of(k)))
            if b == FOREVER:
                break
            k += 1
        return raw

    def rotation_pieces(self, start: int, end: int) -> list[tuple[int, int, str]]:
        """Rotation shifts overlapping ``[start, end)``: windows applied, overrides cut out."""
        raw = self.nominal_shifts(start, end)
        if not raw:
            return []
        if self.windows is not None:
            windows = self.windows.covering(raw[0][0], raw[-1][1])
            raw = _clip(raw, windows)
        if self.override_union:
            raw = _cut(raw, self.override_union)
        return [p for p in raw if p[1] > start and p[0] < end]


def _clip(
    pieces: list[tuple[int, int, str]], keep: list[tuple[int, int]]
) -> list[tuple[int, int, str]]:
    """Each piece intersected with the sorted disjoint intervals ``keep``."""
    out: list[tuple[int, int, str]] = []
    j = 0
    n = len(keep)
    for a, b, who in pieces:
        while j < n and keep[j][1] <= a:
            j += 1
        k = j
        while k < n:
            lo, hi = keep[k]
            if lo >= b:
                break
            if lo < a:
                lo = a
            if hi > b:
                hi = b
            if lo < hi:
                out.append((lo, hi, who))
            k += 1
    return out


def _cut(
    pieces: list[tuple[int, int, str]], drop: list[tuple[int, int]]
) -> list[tuple[int, int, str]]:
    """Each piece (sorted, disjoint) minus the sorted disjoint intervals ``drop``: one pass."""
    out: list[tuple[int, int, str]] = []
    j = 0
    n = len(drop)
    for a, b, who in pieces:
        while j < n and drop[j][1] <= a:
            j += 1
        k = j
        cur = a
        while k < n and drop[k][0] < b:
            lo, hi = drop[k]
            if lo > cur:
                out.append((cur, lo, who))
            if hi > cur:
                cur = hi
            k += 1
        if cur < b:
            out.append((cur, b, who))
    return out


class CompiledRota:
    """A RotaSpec made ready to answer questions fast; build once, keep, ask many times."""

    def __init__(self, spec: RotaSpec) -> None:
        self.spec = spec
        by_rotation: dict[str | None, list[OverrideSpec]] = {}
        for o in spec.overrides:
            by_rotation.setdefault(o.rotation, []).append(o)
        self.rotations = [
            _CompiledRotation(i, r, by_rotation) for i, r in enumerate(spec.rotations)
        ]
        self.team_wide = sorted(
            (to_ts(o.start), to_ts(o.end), o.member) for o in spec.overrides if o.rotation is None
        )

    def pieces(self, start: int, end: int, layer: str | None = None) -> list[Piece]:
        """Every shift overlapping ``[start, end)`` as raw epoch-second pieces (full extents).

        With ``layer``, only rotations of that layer and overrides on them (no team-wide ones).
        """
        out: list[Piece] = []
        for rot in self.rotations:
            if layer is not None and rot.spec.layer != layer:
                continue
            for a, b, who in rot.rotation_pieces(start, end):
                out.append((a, b, who, rot.index, False))
            for a, b, who in rot.override_pieces:
                if b > start and a < end:
                    out.append((a, b, who, rot.index, True))
        if layer is None:
            for a, b, who in self.team_wide:
                if b > start and a < end:
                    out.append((a, b, who, -1, True))
        return out

    def intervals_by_member(
        self, start: int, end: int, layer: str | None = None
    ) -> dict[str, list[tuple[int, int]]]:
        """Each member's on-call intervals clipped to ``[start, end)`` (not yet unioned).

        The coverage sweep's input: the same pieces as :meth:`pieces`, without building a
        tuple per piece that the sweep would only take apart again.
        """
        out: dict[str, list[tuple[int, int]]] = {}
        groups: list[Iterable[tuple[int, int, str]]] = []
        for rot in self.rotations:
            if layer is None or rot.spec.layer == layer:
                groups.append(rot.rotation_pieces(start, end))
                groups.append(rot.override_pieces)
        if layer is None:
            groups.append(self.team_wide)
        for group in groups:
            for a, b, who in group:
                if b <= start or a >= end:
                    continue
                if a < start:
                    a = start
                if b > end:
                    b = end
                got = out.get(who)
                if got is None:
                    out[who] = [(a, b)]
                else:
                    got.append((a, b))
        return out

    def _shift(self, piece: Piece) -> Shift:
        a, b, who, index, override = piece
        rotation = self.spec.rotations[index] if index >= 0 else None
        return Shift(
            member=who,
            rotation=rotation.name if rotation else None,
            start=from_ts(a),
            end=from_ts(min(b, FOREVER)),
            source="override" if override else "rotation",
            layer=rotation.layer if rotation else TEAM_LAYER,
        )

    def shifts(self, start: datetime, end: datetime, *, member: str | None = None) -> list[Shift]:
        """The timeline over ``[start, end)``: every shift overlapping it, sorted by start.

        Shifts keep their full extent (they may begin before ``start`` or end after ``end``).
        """
        pieces = self.pieces(to_ts(start), to_ts(end))
        if member is not None:
            pieces = [p for p in pieces if p[2] == member]
        pieces.sort(key=lambda p: (p[0], p[1], p[3], p[2]))
        return [self._shift(p) for p in pieces]

    def on_call(self, at: datetime) -> list[Shift]:
        """The shifts containing instant ``at``, with their full since/until."""
        ts = to_ts(at)
        pieces = [p for p in self.pieces(ts, ts + 1) if p[0] <= ts < p[1]]
        pieces.sort(key=lambda p: (p[3] < 0, p[3], p[0]))
        return [self._shift(p) for p in pieces]


@lru_cache(maxsize=32)
def compile_rota(spec: RotaSpec) -> CompiledRota:
    """The CompiledRota of a spec, memoised on the (frozen, hashable) spec."""
    return CompiledRota(spec)


def _compiled(rota: RotaSpec | CompiledRota) -> CompiledRota:
    return rota if isinstance(rota, CompiledRota) else compile_rota(rota)


def shifts(
    rota: RotaSpec | CompiledRota, start: datetime, end: datetime, *, member: str | None = None
) -> list[Shift]:
    """The concrete timeline over ``[start, end)`` (see :meth:`CompiledRota.shifts`)."""
    return _compiled(rota).shifts(start, end, member=member)


def on_call(rota: RotaSpec | CompiledRota, at: datetime) -> list[Shift]:
    """The shifts containing ``at`` (rotation order, team-wide overrides last)."""
    return _compiled(rota).on_call(at)


__all__ = ["TEAM_LAYER", "CompiledRota", "Shift", "compile_rota", "on_call", "shifts"]
