"""One-directional cover: a taker holds the requester's rotation shifts over a window.

The building block of shift swaps from chat. Unlike `rota.edits.swap`, nothing is given back:
each piece of the requester's rotation time inside the window becomes an override for the taker
on the same rotation. An override on a rotation replaces its responder and the later override
wins, so a window the requester themselves holds as a rotation override is handed on as well.
Team-wide overrides (extra responders) are left alone: they belong to no rotation to hand on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

# The same validation and refusal shapes as every other pure rota edit.
from rota.edits import EditError, _rebuild, _require_member
from rota.resolve import Shift, compile_rota
from rota.spec import RotaSpec


def covered_shifts(spec: RotaSpec, member: str, start: datetime, end: datetime) -> list[Shift]:
    """`member`'s shifts on rotations overlapping [start, end), the ones a cover hands on."""
    return [
        s
        for s in compile_rota(spec).shifts(start, end, member=member)
        if s.rotation is not None and s.end > start and s.start < end
    ]


def cover(
    spec: RotaSpec,
    *,
    requester: str,
    taker: str,
    start: datetime,
    end: datetime,
    reason: str = "",
    author: str | None = None,
) -> RotaSpec:
    """`taker` covers `requester`'s rotation shifts within [start, end), as overrides."""
    _require_member(spec, requester)
    _require_member(spec, taker)
    if requester == taker:
        raise EditError("you can't take your own shifts")
    if end <= start:
        raise EditError("the window must end after it starts")
    added: list[dict[str, Any]] = [
        {
            "member": taker,
            "start": max(shift.start, start),
            "end": min(shift.end, end),
            "rotation": shift.rotation,
            "reason": reason or f"covering <@{requester}>",
            "author": author,
        }
        for shift in covered_shifts(spec, requester, start, end)
    ]
    if not added:
        raise EditError(f"<@{requester}> has no rotation shift in that window: nothing to cover")
    return _rebuild(spec, overrides=[*spec.model_dump(by_alias=True)["overrides"], *added])
