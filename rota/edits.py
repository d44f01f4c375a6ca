"""Rota edits as pure functions: old rota in, new rota out, validated like a file.

What an edit changes is judged by comparing the two rotas over a horizon: the shifts that
change (for the preview) and the minutes it would leave uncovered that were covered before
(for the refusal, docs/architecture.md invariant 2). A gap that already existed is not blamed on
the edit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from rota.coverage import Gap, coverage_gaps
from rota.orders import CycleStart, cycle_end, next_cycle_start
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


def order_change(spec: RotaSpec, *, rotation: str, now: datetime) -> CycleStart:
    """Where a new order of `rotation` would take over: its next full cycle after `now`."""
    r = spec.rotations[_rotation_index(spec, rotation)]
    start = next_cycle_start(r, now)
    if start is None:
        raise EditError(f"{rotation} has no handoff left, so no next cycle to change its order at")
    return start


def first_cycle_end(spec: RotaSpec, *, rotation: str, at: datetime) -> datetime:
    """The end of the first full cycle of `rotation`'s current order, if it starts at `at`."""
    r = spec.rotations[_rotation_index(spec, rotation)]
    start = next_cycle_start(r, at - timedelta(seconds=1))
    return at if start is None else cycle_end(r, start)


def _reorder(
    spec: RotaSpec,
    data: dict[str, Any],
    index: int,
    people: list[str],
    now: datetime,
    expected: datetime | None,
) -> None:
    """Give rotation `index` the order `people` from its next full cycle on, in `data`.

    Shifts before that cycle keep the order they were dealt by. Two edits before one cycle
    starts both take over there: the later one replaces the pending order.
    """
    rotation = spec.rotations[index]
    start = order_change(spec, rotation=rotation.name, now=now)
    if expected is not None and start.at != expected:
        raise EditError(
            f"a new cycle of {rotation.name} started since this change was previewed; "
            "run the command again"
        )
    row = data["rotations"][index]
    pending = rotation.previous and rotation.previous[-1].until == start.at
    if pending and tuple(people) == rotation.previous[-1].participants:
        row["previous"] = row["previous"][:-1]  # back to the order it had: nothing changes
    elif not pending:
        row["previous"] = [
            *row["previous"],
            {"until": start.at, "participants": list(rotation.participants)},
        ]
    row["participants"] = people


def add_participant(
    spec: RotaSpec,
    *,
    rotation: str,
    member: str,
    now: datetime,
    new_member: MemberSpec | None = None,
    expected: datetime | None = None,
) -> RotaSpec:
    """Append `member` to a rotation's order from its next full cycle after `now` on.

    `member` joins the team first when new. `expected`, when given, is the cycle start the
    change was previewed with; a different one is refused rather than applied unseen.
    """
    index = _rotation_index(spec, rotation)
    data = spec.model_dump(by_alias=True)
    members = list(data["members"])
    if new_member is not None:
        if member in {m.id for m in spec.members}:
            raise EditError(f"<@{member}> is already a member of {spec.team.name}")
        members.append(new_member.model_dump(by_alias=True))
    else:
        _require_member(spec, member)
    current = spec.rotations[index].participants
    if member in current:
        raise EditError(f"<@{member}> is already in the {rotation} rotation")
    _reorder(spec, data, index, [*current, member], now, expected)
    return _rebuild(spec, members=members, rotations=data["rotations"])


def remove_participant(
    spec: RotaSpec,
    *,
    rotation: str,
    member: str,
    now: datetime,
    expected: datetime | None = None,
) -> RotaSpec:
    """Take `member` out of a rotation's order from its next full cycle after `now` on.

    Their shifts before that cycle stay theirs, so nothing already planned loses its
    responder; handing those over sooner is an override or a swap, which the coverage check
    judges like any other edit.
    """
    index = _rotation_index(spec, rotation)
    current = spec.rotations[index].participants
    if member not in current:
        raise EditError(f"<@{member}> is not in the {rotation} rotation")
    if set(current) == {member}:
        raise EditError(f"<@{member}> is the only one in {rotation}; a rotation can't be empty")
    data = spec.model_dump(by_alias=True)
    _reorder(spec, data, index, [p for p in current if p != member], now, expected)
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
