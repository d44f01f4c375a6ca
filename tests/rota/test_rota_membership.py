"""Adding or removing a member changes shifts only from the rotation's next full cycle on.

Checked against the minute-by-minute oracle on random rotas near 2027's DST dates, for one or
two membership edits in a row: nothing before the cycle start changes, no rotation loses a
minute of coverage, from the cycle start on shifts follow the new order from its first member,
and the engine agrees with the oracle on the edited rota (earlier orders included).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from rota.edits import EditError, add_participant, order_change, remove_participant
from rota.resolve import CompiledRota
from rota.spec import MemberSpec, RotaSpec
from tests.rota.oracle import MIN, Oracle, RotationOracle, ts
from tests.rota.test_rota_properties import SETTINGS, rotas

NEWCOMER = MemberSpec(id="U5", name="U5", tz="Europe/Berlin")


def _edit(spec: RotaSpec, rotation: str, member: str, now: datetime, add: bool) -> RotaSpec:
    if add:
        known = member in {m.id for m in spec.members}
        return add_participant(
            spec,
            rotation=rotation,
            member=member,
            now=now,
            new_member=None if known else NEWCOMER,
        )
    return remove_participant(spec, rotation=rotation, member=member, now=now)


@st.composite
def edited(draw: st.DrawFn) -> tuple[RotaSpec, RotaSpec, str, datetime, datetime, datetime]:
    """(old rota, new rota, edited rotation, when the last edit was made, lo, hi)."""
    rota, lo, hi = draw(rotas())
    hi += timedelta(hours=draw(st.integers(0, 36)))  # room to see the new order take over
    rotation = draw(st.sampled_from(rota.rotations)).name
    now = lo + timedelta(minutes=15 * draw(st.integers(-8, 200)))
    new = rota
    for _ in range(draw(st.integers(1, 2))):
        current = next(r for r in new.rotations if r.name == rotation).participants
        add = draw(st.booleans()) or len(set(current)) == 1
        choices = sorted({"U1", "U2", "U3", "U4", "U5"} - set(current)) if add else current
        assume(choices)
        member = draw(st.sampled_from(sorted(set(choices))))
        try:
            new = _edit(new, rotation, member, now, add)
        except EditError:
            assume(False)
        now += timedelta(minutes=15 * draw(st.integers(0, 48)))
    # the last edit's instant: the one whose cycle start must hold
    return rota, new, rotation, now, lo, hi


@SETTINGS
@given(edited())
def test_membership_edits_change_nothing_before_the_next_cycle(
    case: tuple[RotaSpec, RotaSpec, str, datetime, datetime, datetime],
) -> None:
    old, new, rotation, _, lo, hi = case
    before, after = Oracle(old, lo, hi), Oracle(new, lo, hi)
    edited_spec = next(r for r in new.rotations if r.name == rotation)
    # The first instant the new rota may differ: where the first new order took over (none
    # when a second edit put the old order back).
    old_spec = next(r for r in old.rotations if r.name == rotation)
    fresh = edited_spec.previous[len(old_spec.previous) :]
    boundary = ts(fresh[0].until) if fresh else ts(hi)
    for t in range(ts(lo), ts(hi), MIN):
        was, now_ = before.who(t), after.who(t)
        if t < boundary:
            assert now_ == was, datetime.fromtimestamp(t, UTC)
        # Coverage is never lost: every rotation covering this minute still covers it.
        assert {r for _, r, _ in now_} >= {r for _, r, _ in was}


@SETTINGS
@given(edited())
def test_from_the_cycle_start_the_new_order_deals_from_its_first_member(
    case: tuple[RotaSpec, RotaSpec, str, datetime, datetime, datetime],
) -> None:
    _, new, rotation, _, lo, hi = case
    spec = next(r for r in new.rotations if r.name == rotation)
    if not spec.previous:
        return  # the last edit put the old order back: nothing to deal differently
    oracle = RotationOracle.build(spec, ts(lo), ts(hi))
    boundary = ts(spec.previous[-1].until)
    # The boundary is a shift start, found by walking the shifts one by one.
    k0 = 0
    while (start := oracle.shift_start(k0)) is not None and start < boundary:
        k0 += 1
    if start is None:
        return  # the new order takes over beyond the window
    assert start == boundary
    people = spec.participants
    k = k0
    while (s := oracle.shift_start(k)) is not None and s < ts(hi):
        assert oracle.dealt(k) == people[(k - k0) % len(people)]
        k += 1


@SETTINGS
@given(edited())
def test_the_cycle_start_is_the_next_full_cycle_of_the_order_it_replaces(
    case: tuple[RotaSpec, RotaSpec, str, datetime, datetime, datetime],
) -> None:
    """Recomputed by brute force: the first shift after the edit that begins a full cycle of
    the order in force, counted from where that order took over."""
    old, _, rotation, _, lo, hi = case
    now = lo + timedelta(hours=1)
    spec = next(r for r in old.rotations if r.name == rotation)
    try:
        got = ts(order_change(old, rotation=rotation, now=now).at)
    except EditError:
        return
    oracle = RotationOracle.build(spec, ts(lo), max(ts(hi), got) + MIN)
    anchor = 0
    if spec.previous:
        while (s := oracle.shift_start(anchor)) is not None and s < ts(spec.previous[-1].until):
            anchor += 1
    k = anchor
    while (s := oracle.shift_start(k)) is not None and s <= ts(now):
        k += len(spec.participants)
    assert s == got


@SETTINGS
@given(edited())
def test_engine_agrees_with_the_oracle_on_an_edited_rota(
    case: tuple[RotaSpec, RotaSpec, str, datetime, datetime, datetime],
) -> None:
    _, new, _, _, lo, hi = case
    oracle = Oracle(new, lo, hi)
    timeline = CompiledRota(new).shifts(lo, hi)
    for t in range(ts(lo), ts(hi), MIN):
        at = datetime.fromtimestamp(t, UTC)
        got = {(s.member, s.rotation, s.source) for s in timeline if s.start <= at < s.end}
        assert got == oracle.who(t), at


def test_a_removed_member_keeps_their_shifts_until_the_cycle_start() -> None:
    """The plain case in words: a daily rotation of three, one removed on the second day."""
    spec = RotaSpec.model_validate(
        {
            "team": {"name": "t"},
            "members": [{"id": m, "name": m, "tz": "Europe/Berlin"} for m in ("A", "B", "C")],
            "rotations": [
                {
                    "name": "r",
                    "tz": "Europe/Berlin",
                    "handoff": "0 9 * * *",
                    "start": "2027-03-25T09:00:00+01:00",
                    "participants": ["A", "B", "C"],
                }
            ],
        }
    )
    now = datetime(2027, 3, 26, 12, tzinfo=UTC)  # B's shift; C's comes next, then A's cycle
    new = remove_participant(spec, rotation="r", member="C", now=now)
    (earlier,) = new.rotations[0].previous
    # The cycle starts on the 28th at 09:00 Berlin, after the spring-forward night: 07:00 UTC.
    assert earlier.until == datetime(2027, 3, 28, 7, tzinfo=UTC)
    shifts = CompiledRota(new).shifts(now, now + timedelta(days=5))
    assert [s.member for s in shifts] == ["B", "C", "A", "B", "A", "B"]
    with pytest.raises(EditError, match="not in the r rotation"):
        remove_participant(new, rotation="r", member="C", now=now)
