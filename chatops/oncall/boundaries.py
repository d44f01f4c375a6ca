"""Where handoffs happen: boundaries read from the rota engine's concrete timeline.

The rule (it is what makes "who goes off, who comes on" true):

* A rotation's *timeline* is what the engine resolves for it: its shifts with restriction windows
  applied and the overrides on it in their place. Runs of the same member that touch are one run.
* A *boundary* is the start of a run: an instant where the rotation's on-call member becomes
  someone other than the member it had just before (or it had nobody just before). So a plain
  cron handoff, a restriction window opening (follow-the-sun), an override beginning and the
  rotation member coming back after an override are all boundaries; a window closing is not
  (nobody comes on), and a shift handed from a member to the same member is not.
* The *outgoing* responders: the rotation's previous member when the run touches it (a relay);
  otherwise whoever holds the same layer just before the boundary in other rotations and goes
  off before the incoming does (the region handing over in follow-the-sun), each with the
  instant they actually go off (after the boundary when windows overlap). A long override in
  another rotation of the layer that outlasts the incoming hands nothing over, so it is left out.
* Team-wide overrides add a responder; they take no pager from anybody, so they make no boundary.

Pure: reads a `CompiledRota`, no database. Instants are aware UTC; boundaries come from the
engine, so DST is the engine's business (one boundary per instant, never two).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from rota.handoffs import FOREVER
from rota.resolve import CompiledRota
from rota.wallclock import from_ts, to_ts

#: How far a search for "the next boundary" looks ahead before answering "none".
SEARCH_AHEAD = timedelta(days=62)


@dataclass(frozen=True)
class Outgoing:
    """A member handing over, and when they go off (UTC; after the boundary in an overlap)."""

    member: str
    rotation: str
    off_at: datetime


@dataclass(frozen=True)
class Boundary:
    """One handoff: at ``at`` (UTC) ``incoming`` takes ``rotation`` until ``until``."""

    rotation: str
    layer: str
    at: datetime
    incoming: str
    until: datetime
    outgoing: tuple[Outgoing, ...]

    @property
    def outgoing_ids(self) -> list[str]:
        return list(dict.fromkeys(o.member for o in self.outgoing))


def _runs(rota: CompiledRota, index: int, lo: int, hi: int) -> list[tuple[int, int, str]]:
    """Rotation ``index``'s timeline over ``[lo, hi)`` (full extents), touching same-member
    pieces merged into runs."""
    pieces = sorted((a, b, who) for a, b, who, i, _ in rota.pieces(lo, hi) if i == index)
    runs: list[tuple[int, int, str]] = []
    for a, b, who in pieces:
        if runs and runs[-1][1] == a and runs[-1][2] == who:
            runs[-1] = (runs[-1][0], b, who)
        else:
            runs.append((a, b, who))
    return runs


def _run_end(rota: CompiledRota, index: int, start: int, who: str, end: int) -> int:
    """Where a run that reaches ``end`` really ends (it may go on past the query window)."""
    step = 7 * 86400
    while end < FOREVER:
        more = _runs(rota, index, end, end + step)
        if not more or more[0][0] != end or more[0][2] != who:
            return end
        end = more[0][1]
    return end


def _layer_holders(rota: CompiledRota, layer: str, ts: int, exclude: str) -> list[Outgoing]:
    """Members on call in ``layer`` at ``ts`` other than ``exclude``, with their run ends."""
    out: list[Outgoing] = []
    for a, b, who, index, _ in rota.pieces(ts, ts + 1, layer=layer):
        if index < 0 or who == exclude or not a <= ts < b:
            continue
        end = _run_end(rota, index, a, who, b)
        out.append(Outgoing(who, rota.spec.rotations[index].name, from_ts(min(end, FOREVER))))
    out.sort(key=lambda o: (o.off_at, o.rotation, o.member))
    return out


def boundaries(
    rota: CompiledRota, start: datetime, end: datetime, *, rotation: str | None = None
) -> list[Boundary]:
    """Every boundary with ``start <= at < end``, sorted by instant then rotation order."""
    lo, hi = to_ts(start), to_ts(end)
    if hi <= lo:
        return []
    found: list[tuple[int, int, Boundary]] = []
    for rot in rota.rotations:
        name = rot.spec.name
        if rotation is not None and name != rotation:
            continue
        runs = _runs(rota, rot.index, lo - 1, hi)
        for k, (a, b, who) in enumerate(runs):
            if not lo <= a < hi:
                continue
            before = runs[k - 1] if k > 0 else None
            until = _run_end(rota, rot.index, a, who, b) if k == len(runs) - 1 else b
            outgoing: tuple[Outgoing, ...]
            if before is not None and before[1] == a:
                outgoing = (Outgoing(before[2], name, from_ts(a)),)
            else:
                outgoing = tuple(
                    o
                    for o in _layer_holders(rota, rot.spec.layer, a - 1, who)
                    if to_ts(o.off_at) <= until
                )
            found.append(
                (
                    a,
                    rot.index,
                    Boundary(
                        rotation=name,
                        layer=rot.spec.layer,
                        at=from_ts(a),
                        incoming=who,
                        until=from_ts(min(until, FOREVER)),
                        outgoing=outgoing,
                    ),
                )
            )
    found.sort(key=lambda x: (x[0], x[1]))
    return [b for _, _, b in found]


def boundary_at(rota: CompiledRota, rotation: str, at: datetime) -> Boundary | None:
    """The boundary of ``rotation`` exactly at ``at`` in the current rota, or None (moved)."""
    got = boundaries(rota, at, at + timedelta(seconds=1), rotation=rotation)
    return got[0] if got else None


def next_boundary(
    rota: CompiledRota,
    after: datetime,
    *,
    rotation: str | None = None,
    layer: str | None = None,
    outgoing: str | None = None,
    involving: str | None = None,
    ahead: timedelta = SEARCH_AHEAD,
) -> Boundary | None:
    """The first boundary strictly after ``after`` matching the filters, within ``ahead``.

    ``involving`` matches a boundary where that member comes on or goes off."""
    start = after + timedelta(seconds=1)
    step = timedelta(days=2)
    stop = after + ahead
    while start < stop:
        chunk_end = min(start + step, stop)
        for b in boundaries(rota, start, chunk_end, rotation=rotation):
            if layer is not None and b.layer != layer:
                continue
            if outgoing is not None and outgoing not in b.outgoing_ids:
                continue
            if involving is not None and involving not in [b.incoming, *b.outgoing_ids]:
                continue
            return b
        start, step = chunk_end, step * 2
    return None
