"""One person holding two layers at once (primary and secondary overlapping, say).

Coverage counts it as covered, yet a ladder that pages level 1 and then level 2 reaches the same
person twice and nobody else: a warning for `rota check`, not a gap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rota.resolve import CompiledRota, Shift, compile_rota
from rota.spec import RotaSpec
from rota.timefmt import fmt_local, fmt_utc


@dataclass(frozen=True)
class DoubleHolding:
    """`member` holds rotations `rotations` (of different layers) over [start, end)."""

    member: str
    start: datetime
    end: datetime
    rotations: tuple[str, str]
    layers: tuple[str, str]


def double_holdings(
    rota: RotaSpec | CompiledRota, start: datetime, end: datetime
) -> list[DoubleHolding]:
    """Every interval of [start, end) in which one member holds shifts of two layers, sorted.

    Team-wide overrides belong to no layer and are left out; touching intervals are merged.
    """
    compiled = rota if isinstance(rota, CompiledRota) else compile_rota(rota)
    by_member: dict[str, list[Shift]] = {}
    for shift in compiled.shifts(start, end):
        if shift.rotation is not None:
            by_member.setdefault(shift.member, []).append(shift)
    found: list[DoubleHolding] = []
    for member, held in by_member.items():
        for i, first in enumerate(held):
            for second in held[i + 1 :]:
                if first.layer == second.layer:
                    continue
                a, b = max(first.start, second.start, start), min(first.end, second.end, end)
                if a < b:
                    assert first.rotation is not None and second.rotation is not None
                    pair = sorted([(first.layer, first.rotation), (second.layer, second.rotation)])
                    found.append(
                        DoubleHolding(
                            member,
                            a,
                            b,
                            (pair[0][1], pair[1][1]),
                            (pair[0][0], pair[1][0]),
                        )
                    )
    return _merged(sorted(found, key=lambda d: (d.start, d.member, d.rotations)))


def _merged(found: list[DoubleHolding]) -> list[DoubleHolding]:
    out: list[DoubleHolding] = []
    for d in found:
        same = [
            i
            for i, o in enumerate(out)
            if (o.member, o.rotations) == (d.member, d.rotations) and o.end >= d.start
        ]
        if same:
            o = out[same[-1]]
            out[same[-1]] = DoubleHolding(
                o.member, o.start, max(o.end, d.end), o.rotations, o.layers
            )
        else:
            out.append(d)
    return out


def describe_double(rota: RotaSpec | CompiledRota, double: DoubleHolding) -> str:
    """One warning line: who, which two rotations, when in UTC and in their own zone."""
    spec = rota.spec if isinstance(rota, CompiledRota) else rota
    member = spec.member(double.member)
    (r1, r2), (l1, l2) = double.rotations, double.layers
    return (
        f"{member.name} ({member.id}) holds {r1} ({l1}) and {r2} ({l2}) at once: "
        f"{fmt_utc(double.start)} – {fmt_utc(double.end)} "
        f"({fmt_local(double.start, member.tz)} – {fmt_local(double.end, member.tz)})"
    )
