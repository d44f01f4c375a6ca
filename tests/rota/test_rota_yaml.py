"""YAML load/dump and every validation message, with its exact path."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path

import pytest
from hypothesis import given, settings

from rota.spec import RotaSpec
from rota.yamlio import RotaError, dump_rota_yaml, load_rota_yaml, parse_rota, path_of
from tests.rota.test_rota_properties import rotas

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "follow-the-sun.yaml"

GOOD = """
team: {name: T&S, required: 1}
members:
  - {id: U1, name: Amira, tz: Europe/Berlin, languages: [en, ar, no], role: manager}
  - {id: U2, name: Sofía, tz: America/New_York}
  - {id: U3, name: Priya, tz: Asia/Kolkata}
  - {id: U4, name: Mei, tz: America/Los_Angeles}
rotations:
  - name: emea
    tz: Europe/Berlin
    handoff: 0 8 * * mon
    start: 2027-01-04T08:00:00+01:00
    participants: [U1, U2]
    restrictions:
      - {days: [mon, tue, wed, thu, fri], from: 08:00, to: 16:00}
  - name: apac
    tz: Asia/Kolkata
    handoff: 0 5 * * *
    start: 2027-01-04T05:00:00+05:30
    participants: [U3]
    shift_length: 7
    layer: secondary
overrides:
  - {member: U4, rotation: emea, start: 2027-02-01T07:00:00Z, end: 2027-02-02T07:00:00Z}
  - {member: U4, start: 2027-02-01T07:00:00Z, end: 2027-02-02T07:00:00Z, reason: event}
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(RotaError) as info:
        load_rota_yaml(text)
    return info.value.messages


def test_good_file_loads_with_yaml_1_1_pitfalls_avoided() -> None:
    spec = load_rota_yaml(GOOD)
    assert spec.members[0].languages == ("en", "ar", "no")  # not False
    window = spec.rotations[0].restrictions[0]
    assert (window.start, window.end) == (time(8), time(16))  # not the base-60 integer 960
    assert spec.overrides[1].rotation is None


def test_round_trip_of_the_good_file_and_the_example() -> None:
    for spec in (load_rota_yaml(GOOD), load_rota_yaml(EXAMPLE)):
        text = dump_rota_yaml(spec)
        assert load_rota_yaml(text) == spec
        assert dump_rota_yaml(load_rota_yaml(text)) == text


@settings(max_examples=30, deadline=None, derandomize=True)
@given(rotas())
def test_round_trip_of_random_rotas(case: tuple[RotaSpec, datetime, datetime]) -> None:
    spec = case[0]
    assert load_rota_yaml(dump_rota_yaml(spec)) == spec


def _with(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            _with("handoff: 0 5 * * *", "handoff: 61 * * * *"),
            "rotations[1].handoff: bad cron expression '61 * * * *'",
        ),
        (
            _with("handoff: 0 5 * * *", "handoff: 0 0 31 2 *"),
            "rotations[1].handoff: bad cron expression '0 0 31 2 *': it never fires",
        ),
        (
            _with("handoff: 0 5 * * *", "handoff: 0 0 0 * * *"),
            "rotations[1].handoff: bad cron expression '0 0 0 * * *'",
        ),
        (
            _with("tz: Asia/Kolkata}", "tz: Europe/Paris2}"),
            "members[2].tz: unknown time zone 'Europe/Paris2'",
        ),
        (
            _with("tz: Asia/Kolkata\n", "tz: Mars/Olympus\n"),
            "rotations[1].tz: unknown time zone 'Mars/Olympus'",
        ),
        (
            _with("participants: [U1, U2]", "participants: []"),
            "rotations[0].participants: empty rotation",
        ),
        (
            _with("participants: [U1, U2]", "participants: [U1, U999]"),
            "rotations[0].participants[1]: 'U999' is not a member of the team",
        ),
        (
            _with("end: 2027-02-02T07:00:00Z}", "end: 2027-01-31T07:00:00Z}"),
            "overrides[0]: ends before it starts",
        ),
        (
            _with("end: 2027-02-02T07:00:00Z}", "end: 2027-02-01T07:00:00Z}"),
            "overrides[0]: is empty: it ends when it starts",
        ),
        (
            _with("{id: U4,", "{id: U1,"),
            "members[3].id: duplicate member id 'U1'",
        ),
        (
            _with("name: apac", "name: emea"),
            "rotations[1].name: duplicate rotation name 'emea'",
        ),
        (
            _with("rotation: emea", "rotation: x"),
            "overrides[0].rotation: unknown rotation 'x'",
        ),
        (
            _with("{member: U4, start", "{member: U9, start"),
            "overrides[1].member: 'U9' is not a member of the team",
        ),
        (
            _with("start: 2027-01-04T05:00:00+05:30", "start: 2027-01-04T05:00:00"),
            "rotations[1].start: naive datetime '2027-01-04T05:00:00': "
            "add a UTC offset or 'Z' (a local time is ambiguous)",
        ),
        (
            _with("shift_length: 7", "shift_length: 7\n    colour: red"),
            "rotations[1].colour: unknown key",
        ),
        (
            _with("[mon, tue, wed, thu, fri]", "[mon, tue, funday]"),
            "rotations[0].restrictions[0].days[2]: unknown day 'funday' "
            "(use mon, tue, wed, thu, fri, sat, sun)",
        ),
        (
            _with("team: {name: T&S, required: 1}", "team: {required: 1}"),
            "team.name: required key is missing",
        ),
        (
            _with("role: manager", "role: boss"),
            "members[0].role: Input should be 'responder', 'manager' or 'admin'",
        ),
        (
            "team: [",
            "(yaml): bad YAML syntax at line 1, column 8: expected the node content, "
            "but found '<stream end>'",
        ),
        ("- just\n- a list\n", "(root): expected a mapping with team, members and rotations"),
    ],
)
def test_each_validation_error_names_its_path(text: str, message: str) -> None:
    assert message in errors_of(text)


def test_several_problems_come_back_together() -> None:
    text = _with("handoff: 0 5 * * *", "handoff: 61 * * * *").replace(
        "tz: Asia/Kolkata}", "tz: Europe/Paris2}"
    )
    assert errors_of(text) == [
        "members[2].tz: unknown time zone 'Europe/Paris2'",
        "rotations[1].handoff: bad cron expression '61 * * * *'",
    ]
    refs = _with("participants: [U1, U2]", "participants: [U1, U999]").replace(
        "rotation: emea", "rotation: x"
    )
    assert errors_of(refs) == [
        "rotations[0].participants[1]: 'U999' is not a member of the team",
        "overrides[0].rotation: unknown rotation 'x'",
    ]


def test_parse_rota_and_paths() -> None:
    assert (
        path_of(("rotations", 1, "restrictions", 0, "from")) == "rotations[1].restrictions[0].from"
    )
    assert path_of(()) == "(root)"
    with pytest.raises(RotaError) as info:
        parse_rota({"team": {"name": "t"}, "members": [], "rotations": [], "policies": []})
    assert info.value.messages == ["policies: unknown key"]


def test_a_path_argument_reads_the_file(tmp_path: Path) -> None:
    file = tmp_path / "rota.yaml"
    file.write_text(GOOD, encoding="utf-8")
    assert load_rota_yaml(file) == load_rota_yaml(GOOD)
    with pytest.raises(RotaError) as info:
        load_rota_yaml(tmp_path / "missing.yaml")
    assert info.value.messages[0].startswith("(file): cannot read")


def test_example_rotation_start_is_kept_as_written() -> None:
    spec = load_rota_yaml(EXAMPLE)
    assert spec.rotations[0].start == datetime(2026, 1, 4, 23, 30, tzinfo=UTC)
