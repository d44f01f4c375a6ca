"""Reviewer groups in the rota file (`groups:`): validated with path-named errors, stored, and
exported back, so a file round-trips through the database (issue #11)."""

from __future__ import annotations

import pytest

from chatops.db import Database
from chatops.teamfile import export_rota_file, import_rota_file, load_rota_file
from rota.store import load_rota
from rota.yamlio import RotaError, load_rota_yaml

BASE = """
team: {name: Small, tz: UTC}
members:
  - {id: UA, name: Anna, tz: Europe/Berlin, role: manager}
  - {id: UB, name: Bashir, tz: America/New_York}
  - {id: UC, name: Chitra, tz: Asia/Kolkata}
rotations:
  - {name: primary, tz: UTC, handoff: "0 9 * * *", start: "2027-03-01T09:00:00Z",
     participants: [UA, UB]}
"""


def test_groups_are_stored_and_exported_in_the_files_order(db: Database) -> None:
    text = BASE + "groups:\n  self-harm: [UC]\n  child-safety: [UB, UA]\n"
    rota_file = load_rota_file(text)
    assert rota_file.spec.group("child-safety") == ("UB", "UA")
    with db.transaction() as session:
        team = import_rota_file(
            session, rota_file, actor="cli", at=rota_file.spec.rotations[0].start, detail={}
        )
        assert load_rota(session, team) == rota_file.spec
        exported = export_rota_file(session, team)
    assert "groups:\n  self-harm:\n  - UC\n  child-safety:\n  - UB\n  - UA\n" in exported
    assert load_rota_file(exported).spec == rota_file.spec


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        (
            "groups:\n  child-safety: [UA, UZ]\n",
            "groups.child-safety[1]: 'UZ' is not a member of the team",
        ),
        (
            "groups:\n  child-safty: [UA]\n",
            "groups.child-safty: unknown case type 'child-safty'; valid types: threat-of-violence",
        ),
    ],
)
def test_unknown_members_and_case_types_are_refused_by_path(groups: str, message: str) -> None:
    with pytest.raises(RotaError) as raised:
        load_rota_file(BASE + groups)
    assert any(m.startswith(message) for m in raised.value.messages), raised.value.messages


def test_the_engine_reads_a_rota_without_groups_as_before() -> None:
    assert load_rota_yaml(BASE).groups == ()
