"""The coverage proof: exact intervals where fewer than the required members are on call.

Exact by an interval sweep over shift boundaries, never by sampling. A member on two rotations
at once counts once (members' intervals are unioned before counting).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import accumulate

from rota.resolve import CompiledRota, compile_rota
from rota.spec import MemberSpec, RotaSpec
from rota.timefmt import fmt_local, fmt_utc
from rota.wallclock import from_ts, to_ts


@dataclass(frozen=True)
class Gap:
    """``[start, end)`` in aware UTC where only ``on_call`` distinct members are on call."""

    start: datetime
    end: datetime
    on_call: int


def _compiled(rota: RotaSpec | CompiledRota) -> CompiledRota:
    return rota if isinstance(rota, CompiledRota) else compile_rota(rota)


def count_segments(
    by_member: dict[str, list[tuple[int, int]]], start: int, end: int, below: int | None = None
) -> list[tuple[int, int, int]]:
    """``[start, end)`` cut into maximal segments of constant distinct-member count.

    Each member's intervals are unioned first, so a member counts once however many shifts
    they hold at an instant. Boundaries are encoded as ``2t`` (an end) and ``2t+1`` (a start)
    so one sort orders them, ends first at a tie (touching shifts never double-count), and the
    running count is an ``accumulate``. With ``below``, only segments with a count below it.
    """
    events: list[int] = []
    for intervals in by_member.values():
        intervals.sort()
        cur_a, cur_b = intervals[0]
        for a, b in intervals:
            if a > cur_b:
                events.append(2 * cur_a + 1)
                events.append(2 * cur_b)
                cur_a, cur_b = a, b
            elif b > cur_b:
                cur_b = b
        events.append(2 * cur_a + 1)
        events.append(2 * cur_b)
    events.sort()
    counts = [0, *accumulate([(e & 1) * 2 - 1 for e in events])]
    bounds = [start, *[e >> 1 for e in events], end]
    # Segment k is [bounds[k], bounds[k+1]) with counts[k]; ties give empty ones, skipped.
    if below is None:
        picked: Iterable[int] = range(len(counts))
    else:
        picked = [k for k, c in enumerate(counts) if c < below]
    out: list[tuple[int, int, int]] = []
    for k in picked:
        a, b, c = bounds[k], bounds[k + 1], counts[k]
        if a >= b:
            continue
        if out and out[-1][1] == a and out[-1][2] == c:
            out[-1] = (out[-1][0], b, c)
        else:
            out.append((a, b, c))
    return out


def coverage_gaps(
    rota: RotaSpec | CompiledRota,
    start: datetime,
    end: datetime,
    *,
    required: int | None = None,
    layer: str | None = None,
) -> list[Gap]:
    """Every maximal interval in ``[start, end)`` with fewer than ``required`` on call.

    ``required`` defaults to the team's. With ``layer``, only that layer's rotation shifts and
    overrides on rotations of that layer count (team-wide overrides do not). Adjacent pieces
    with the same count merge; pieces with different counts stay apart.
    """
    compiled = _compiled(rota)
    need = compiled.spec.team.required if required is None else required
    s, e = to_ts(start), to_ts(end)
    if e <= s:
        return []
    gaps: list[Gap] = []
    by_member = compiled.intervals_by_member(s, e, layer)
    for a, b, count in count_segments(by_member, s, e, below=need):
        gaps.append(Gap(from_ts(a), from_ts(b), count))
    return gaps


def affected_members(
    rota: RotaSpec | CompiledRota, gap: Gap, *, layer: str | None = None
) -> list[MemberSpec]:
    """Who should hear about a gap, in team order.

    The members whose nominal turn (their rotation shift before restriction windows and
    overrides) in a counted rotation overlaps the gap, plus members of counted overrides that
    overlap it; when that is nobody (e.g. before every rotation starts), all participants of
    the counted rotations.
    """
    compiled = _compiled(rota)
    s, e = to_ts(gap.start), to_ts(gap.end)
    ids: set[str] = set()
    everyone: set[str] = set()
    for rot in compiled.rotations:
        if layer is not None and rot.spec.layer != layer:
            continue
        everyone.update(rot.spec.participants)
        ids.update(who for _, _, who in rot.nominal_shifts(s, e))
        ids.update(who for a, b, who in rot.override_pieces if b > s and a < e)
    if layer is None:
        ids.update(who for a, b, who in compiled.team_wide if b > s and a < e)
    chosen = ids or everyone
    return [m for m in compiled.spec.members if m.id in chosen]


def gap_local_times(gap: Gap, members: list[MemberSpec]) -> list[tuple[str, str, str]]:
    """``(member id, local start, local end)`` of a gap in each member's own zone."""
    return [(m.id, fmt_local(gap.start, m.tz), fmt_local(gap.end, m.tz)) for m in members]


def describe_gap(
    rota: RotaSpec | CompiledRota,
    gap: Gap,
    *,
    required: int | None = None,
    layer: str | None = None,
) -> str:
    """A refusal-ready text: the gap in UTC, then in each affected member's local time."""
    compiled = _compiled(rota)
    need = compiled.spec.team.required if required is None else required
    lines = [f"{fmt_utc(gap.start)} – {fmt_utc(gap.end)}: {gap.on_call} of {need} on call"]
    members = affected_members(compiled, gap, layer=layer)
    names = {m.id: m.name for m in members}
    for member_id, a, b in gap_local_times(gap, members):
        lines.append(f"  {names[member_id]} ({member_id}): {a} – {b}")
    return "\n".join(lines)
