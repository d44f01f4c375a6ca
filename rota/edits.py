"""Rota edits as pure functions: old rota in, new rota out, validated like a file.

What an edit changes is judged by comparing the two rotas over a horizon: the shifts that
change (for the preview) and the minutes it would leave uncovered that were covered before
(for the refusal, docs/architecture.md invariant 2). A gap that already existed is not blamed on
the edit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from rota.coverage import Gap, coverage_gaps
from rota.resolve import Shift, compile_rota
from rota.spec import MemberSpec, RotaSpec
from rota.wallclock import from_ts, subtract, to_ts
from rota.yamlio import validation_messages


class EditError(ValueError):
    """The edit cannot be made as asked; the message is one line for the person who asked."""


def digest(spec: RotaSpec) -> str:
    """A short fingerprint of a rota, so a confirmation can tell the rota changed meanwhile."""
    return hashlib.sha256(spec.model_dump_json(by_alias=True).encode()).hexdigest()[:16]


def _rebuild(spec: RotaSpec, **changes: Any) -> RotaSpec:
    data = spec.model_dump(by_alias=True)
    data.update(changes)
    try:
        return RotaSpec.model_validate(data)
    except ValidationError as error:
        raise EditError("; ".join(validation_messages(error))) from None


def _rotation_index(spec: RotaSpec, name: str) -> int:
    for i, r in enumerate(spec.rotations):
        if r.name == name:
            return i
    known = ", ".join(r.name for r in spec.rotations)
    raise EditError(f"no rotation called '{name}' (rotations: {known})")


def _require_member(spec: RotaSpec, member: str) -> None:
    if member not in {m.id for m in spec.members}:
        raise EditError(f"<@{member}> is not a member of {spec.team.name}")


def add_override(
    spec: RotaSpec,
    *,
    member: str,
    start: datetime,
    end: datetime,
    rotation: str | None,
    reason: str = "",
    author: str | None = None,
) -> RotaSpec:
    """`member` covers [start, end) on `rotation` (or team-wide, adding a responder)."""
    _require_member(spec, member)
    if rotation is not None:
        _rotation_index(spec, rotation)
    if end <= start:
        raise EditError("the override must end after it starts")
    override = {
        "member": member,
        "start": start,
        "end": end,
        "rotation": rotation,
        "reason": reason,
        "author": author,
    }
    return _rebuild(spec, overrides=[*spec.model_dump(by_alias=True)["overrides"], override])


def swap(
    spec: RotaSpec,
    *,
    first: str,
    second: str,
    start: datetime,
    end: datetime,
    reason: str = "",
    author: str | None = None,
) -> RotaSpec:
    """Within [start, end), each one's rotation shifts go to the other (as overrides)."""
    _require_member(spec, first)
    _require_member(spec, second)
    if first == second:
        raise EditError("a swap needs two different members")
    if end <= start:
        raise EditError("the swap must end after it starts")
    compiled = compile_rota(spec)
    added: list[dict[str, Any]] = []
    for giver, taker in ((first, second), (second, first)):
        for shift in compiled.shifts(start, end, member=giver):
            if shift.source != "rotation":
                continue
            added.append(
                {
                    "member": taker,
                    "start": max(shift.start, start),
                    "end": min(shift.end, end),
                    "rotation": shift.rotation,
                    "reason": reason or f"swap with <@{giver}>",
                    "author": author,
                }
            )
    if not added:
        raise EditError("neither member has a rotation shift in that window: nothing to swap")
    return _rebuild(spec, overrides=[*spec.model_dump(by_alias=True)["overrides"], *added])


def add_participant(
    spec: RotaSpec, *, rotation: str, member: str, new_member: MemberSpec | None = None
) -> RotaSpec:
    """Append `member` to a rotation's order, adding them to the team first when new."""
    index = _rotation_index(spec, rotation)
    data = spec.model_dump(by_alias=True)
    members = list(data["members"])
    if new_member is not None:
        if member in {m.id for m in spec.members}:
            raise EditError(f"<@{member}> is already a member of {spec.team.name}")
        members.append(new_member.model_dump(by_alias=True))
    else:
        _require_member(spec, member)
    if member in spec.rotations[index].participants:
        raise EditError(f"<@{member}> is already in the {rotation} rotation")
    rotations = list(data["rotations"])
    rotations[index]["participants"] = [*rotations[index]["participants"], member]
    return _rebuild(spec, members=members, rotations=rotations)


def remove_participant(spec: RotaSpec, *, rotation: str, member: str) -> RotaSpec:
    """Take `member` out of a rotation's order (every place they hold in it)."""
    index = _rotation_index(spec, rotation)
    current = spec.rotations[index].participants
    if member not in current:
        raise EditError(f"<@{member}> is not in the {rotation} rotation")
    if set(current) == {member}:
        raise EditError(f"<@{member}> is the only one in {rotation}; a rotation can't be empty")
    data = spec.model_dump(by_alias=True)
    data["rotations"][index]["participants"] = [p for p in current if p != member]
    return _rebuild(spec, rotations=data["rotations"])


def set_handoff(spec: RotaSpec, *, rotation: str, cron: str) -> RotaSpec:
    """Change when a rotation hands off (a cron rule read in the rotation's own zone)."""
    index = _rotation_index(spec, rotation)
    if spec.rotations[index].handoff == cron:
        raise EditError(f"{rotation} already hands off at '{cron}'")
    data = spec.model_dump(by_alias=True)
    data["rotations"][index]["handoff"] = cron
    return _rebuild(spec, rotations=data["rotations"])


@dataclass(frozen=True)
class EditImpact:
    """What an edit does over a window: shifts removed and added, and new uncovered time."""

    removed: list[Shift]
    added: list[Shift]
    new_gaps: list[Gap]


def impact(old: RotaSpec, new: RotaSpec, start: datetime, end: datetime) -> EditImpact:
    before = set(compile_rota(old).shifts(start, end))
    after = set(compile_rota(new).shifts(start, end))
    old_gaps = [(to_ts(g.start), to_ts(g.end)) for g in coverage_gaps(old, start, end)]
    new_gaps = coverage_gaps(new, start, end)
    fresh: list[Gap] = []
    for gap in new_gaps:
        for a, b in subtract([(to_ts(gap.start), to_ts(gap.end))], old_gaps):
            fresh.append(Gap(from_ts(a), from_ts(b), gap.on_call))
    return EditImpact(
        removed=sorted(before - after, key=lambda s: (s.start, s.member)),
        added=sorted(after - before, key=lambda s: (s.start, s.member)),
        new_gaps=fresh,
    )
