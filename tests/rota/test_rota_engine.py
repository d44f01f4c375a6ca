"""The engine's rules one by one, with hand-computed answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import rota.handoffs as handoffs_module
from rota.coverage import Gap, affected_members, coverage_gaps, describe_gap, gap_local_times
from rota.handoffs import handoff_instants
from rota.load import load
from rota.resolve import TEAM_LAYER, CompiledRota, Shift, compile_rota, on_call, shifts
from rota.spec import RotaSpec
from rota.timefmt import fmt_local, fmt_utc


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def rota(
    *rotations: dict[str, Any], overrides: tuple[dict[str, Any], ...] = (), required: int = 1
) -> RotaSpec:
    return RotaSpec.model_validate(
        {
            "team": {"name": "t", "required": required},
            "members": [
                {"id": "U1", "name": "Amira", "tz": "Europe/Berlin"},
                {"id": "U2", "name": "Sofía", "tz": "America/New_York"},
                {"id": "U3", "name": "Priya", "tz": "Asia/Kolkata"},
                {"id": "U4", "name": "Bishal", "tz": "Asia/Kathmandu"},
            ],
            "rotations": list(rotations),
            "overrides": list(overrides),
        }
    )


def daily(
    name: str = "day", people: tuple[str, ...] = ("U1", "U2"), **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "tz": "UTC",
        "handoff": "0 9 * * *",
        "start": utc(2027, 1, 1, 9),
        "participants": list(people),
        **extra,
    }


def test_shift_k_belongs_to_participant_k_mod_n_and_lasts_l_handoffs() -> None:
    spec = rota(daily(people=("U1", "U2", "U3"), shift_length=2))
    got = [(s.member, s.start, s.end) for s in shifts(spec, utc(2027, 1, 1), utc(2027, 1, 8))]
    assert got == [
        ("U1", utc(2027, 1, 1, 9), utc(2027, 1, 3, 9)),
        ("U2", utc(2027, 1, 3, 9), utc(2027, 1, 5, 9)),
        ("U3", utc(2027, 1, 5, 9), utc(2027, 1, 7, 9)),
        ("U1", utc(2027, 1, 7, 9), utc(2027, 1, 9, 9)),
    ]


def test_before_start_nobody_and_the_gap_is_reported() -> None:
    spec = rota(daily())
    assert on_call(spec, utc(2027, 1, 1, 8, 59)) == []
    assert coverage_gaps(spec, utc(2027, 1, 1), utc(2027, 1, 2)) == [
        Gap(utc(2027, 1, 1), utc(2027, 1, 1, 9), 0)
    ]


def test_on_call_gives_full_since_and_until() -> None:
    spec = rota(daily())
    assert on_call(spec, utc(2027, 1, 2, 3)) == [
        Shift("U1", "day", utc(2027, 1, 1, 9), utc(2027, 1, 2, 9), "rotation", "primary")
    ]


def test_override_replaces_for_its_whole_interval_windows_or_not() -> None:
    window = {
        "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "from": "10:00",
        "to": "12:00",
    }
    spec = rota(
        daily(restrictions=[window]),
        overrides=(
            {
                "member": "U3",
                "rotation": "day",
                "start": utc(2027, 1, 2, 11),
                "end": utc(2027, 1, 2, 20),
            },
        ),
    )
    got = [
        (s.member, s.source, s.start, s.end) for s in shifts(spec, utc(2027, 1, 2), utc(2027, 1, 3))
    ]
    assert got == [
        ("U2", "rotation", utc(2027, 1, 2, 10), utc(2027, 1, 2, 11)),
        ("U3", "override", utc(2027, 1, 2, 11), utc(2027, 1, 2, 20)),
    ]


def test_later_override_on_the_same_rotation_wins() -> None:
    spec = rota(
        daily(),
        overrides=(
            {
                "member": "U3",
                "rotation": "day",
                "start": utc(2027, 1, 2, 10),
                "end": utc(2027, 1, 2, 20),
            },
            {
                "member": "U4",
                "rotation": "day",
                "start": utc(2027, 1, 2, 12),
                "end": utc(2027, 1, 2, 14),
            },
        ),
    )
    got = [
        (s.member, s.start, s.end) for s in shifts(spec, utc(2027, 1, 2, 10), utc(2027, 1, 2, 20))
    ]
    assert got == [
        ("U3", utc(2027, 1, 2, 10), utc(2027, 1, 2, 12)),
        ("U4", utc(2027, 1, 2, 12), utc(2027, 1, 2, 14)),
        ("U3", utc(2027, 1, 2, 14), utc(2027, 1, 2, 20)),
    ]


def test_team_wide_override_adds_a_responder() -> None:
    spec = rota(
        daily(),
        overrides=({"member": "U3", "start": utc(2027, 1, 2, 10), "end": utc(2027, 1, 2, 11)},),
        required=2,
    )
    who = on_call(spec, utc(2027, 1, 2, 10, 30))
    assert [(s.member, s.rotation, s.layer) for s in who] == [
        ("U2", "day", "primary"),
        ("U3", None, TEAM_LAYER),
    ]
    gaps = coverage_gaps(spec, utc(2027, 1, 2, 9), utc(2027, 1, 2, 12))
    assert gaps == [
        Gap(utc(2027, 1, 2, 9), utc(2027, 1, 2, 10), 1),
        Gap(utc(2027, 1, 2, 11), utc(2027, 1, 2, 12), 1),
    ]
    # A layer check ignores team-wide overrides.
    assert coverage_gaps(spec, utc(2027, 1, 2, 9), utc(2027, 1, 2, 12), layer="primary") == [
        Gap(utc(2027, 1, 2, 9), utc(2027, 1, 2, 12), 1)
    ]


def test_a_member_on_two_rotations_counts_once_and_layers_count_apart() -> None:
    spec = rota(daily("a", ("U1",)), daily("b", ("U1",), layer="secondary"), required=2)
    window = (utc(2027, 1, 2), utc(2027, 1, 3))
    assert coverage_gaps(spec, *window) == [Gap(*window, 1)]
    assert coverage_gaps(spec, *window, required=1, layer="secondary") == []
    assert coverage_gaps(spec, *window, required=1, layer="nope") == [Gap(*window, 0)]


def test_adjacent_gap_pieces_merge_only_with_the_same_count() -> None:
    window = {"days": ["sat"], "from": "10:00", "to": "12:00"}
    spec = rota(
        daily("a", ("U1",), restrictions=[window]),
        daily("b", ("U2",), restrictions=[window]),
        required=3,
    )
    gaps = coverage_gaps(spec, utc(2027, 1, 2, 8), utc(2027, 1, 2, 14))
    assert gaps == [
        Gap(utc(2027, 1, 2, 8), utc(2027, 1, 2, 10), 0),
        Gap(utc(2027, 1, 2, 10), utc(2027, 1, 2, 12), 2),
        Gap(utc(2027, 1, 2, 12), utc(2027, 1, 2, 14), 0),
    ]


def test_cron_outside_the_fast_path_goes_through_croniter() -> None:
    spec = rota(daily(handoff="0 9 L * *", start=utc(2027, 1, 1)))
    got = handoff_instants(spec.rotations[0], utc(2027, 1, 1), utc(2027, 4, 1))
    assert got == [utc(2027, 1, 1), utc(2027, 1, 31, 9), utc(2027, 2, 28, 9), utc(2027, 3, 31, 9)]


def test_handoffs_are_materialised_once(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = rota(daily(handoff="0 */8 * * *", start=utc(2026, 12, 30, 17)))
    compiled = CompiledRota(spec)
    coverage_gaps(compiled, utc(2027, 1, 1), utc(2027, 12, 31))
    calls = 0
    real = handoffs_module.cron_walls

    def counting(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        return real(*args)

    monkeypatch.setattr(handoffs_module, "cron_walls", counting)
    coverage_gaps(compiled, utc(2027, 1, 1), utc(2027, 12, 31))
    coverage_gaps(compile_rota(spec), utc(2027, 3, 1), utc(2027, 6, 1))
    assert calls == 0


def test_load_counts_local_nights_and_weekends() -> None:
    spec = rota(daily(people=("U1",)))
    # 2027-01-04 (Mon) 09:00 UTC to 2027-01-11 09:00 UTC: one week, U1 in Berlin (UTC+1).
    got = load(spec, utc(2027, 1, 4, 9), utc(2027, 1, 11, 9))
    assert got["U1"].on_call == timedelta(days=7)
    assert got["U1"].night_hours == 63  # 9 hours a night, 7 nights
    assert got["U1"].weekend_hours == 48
    assert got["U2"].on_call == timedelta(0)


def test_gap_in_each_members_local_time() -> None:
    spec = rota(daily(people=("U1", "U4"), restrictions=[{"from": "00:00", "to": "20:00"}]))
    gap = coverage_gaps(spec, utc(2027, 1, 2), utc(2027, 1, 3))[0]
    assert gap == Gap(utc(2027, 1, 2, 20), utc(2027, 1, 3), 0)
    members = affected_members(spec, gap)
    assert [m.id for m in members] == ["U4"]  # shift 1 (01-02 09:00 to 01-03 09:00) is U4's
    assert gap_local_times(gap, list(spec.members[:1])) == [
        ("U1", "2027-01-02 21:00 CET (UTC+01:00)", "2027-01-03 01:00 CET (UTC+01:00)")
    ]
    assert describe_gap(spec, gap).splitlines() == [
        "2027-01-02T20:00:00Z – 2027-01-03T00:00:00Z: 0 of 1 on call",
        "  Bishal (U4): 2027-01-03 01:45 UTC+05:45 – 2027-01-03 05:45 UTC+05:45",
    ]


def test_time_formats() -> None:
    at = datetime(2027, 3, 14, 7, 0, 0, 999, tzinfo=UTC)
    assert fmt_utc(at) == "2027-03-14T07:00:00Z"
    assert fmt_local(at, "America/New_York") == "2027-03-14 03:00 EDT (UTC-04:00)"
    assert fmt_local(at, "Asia/Kolkata") == "2027-03-14 12:30 IST (UTC+05:30)"
    assert fmt_local(at, "UTC") == "2027-03-14 07:00 UTC"
    with pytest.raises(ValueError, match="naive"):
        fmt_utc(datetime(2027, 1, 1))


def test_the_example_team_covers_all_of_2027_on_its_primary_layer_alone() -> None:
    from pathlib import Path

    from rota.yamlio import load_rota_yaml

    example = Path(__file__).resolve().parents[2] / "examples" / "follow-the-sun.yaml"
    spec = load_rota_yaml(example)
    year = (utc(2027, 1, 1), utc(2028, 1, 1))
    assert coverage_gaps(spec, *year) == []
    assert coverage_gaps(spec, *year, layer="primary") == []
    assert coverage_gaps(spec, *year, layer="secondary") == []
