"""The referral log (issue #14, item 2): what was disclosed to whom, where and why.

Ann reports the cases; Eve was never paged and has no access to a restricted one.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from chatops.audit import AuditEvent
from chatops.blockkit import Reply
from chatops.cases.referrals import COUNTRIES, Referral
from chatops.db import Database
from commands.registry import dispatch
from tests.support.case_world import ANN, EVE, World, counts, make_world
from tests.support.clirun import chatops

KEY = "TS-2027-0001"
SECRET = "Material reported on Commons"
NOTE = "sent the uploader's IP and two hashes"


@pytest.fixture
def world(db: Database) -> World:
    return make_world(db)


def run(world: World, text: str, who: str = ANN) -> Reply:
    return dispatch(text, world.context(who))


def referrals(world: World) -> list[Referral]:
    with world.db.transaction() as session:
        return list(session.exec(select(Referral)))


def test_a_referral_is_recorded_audited_without_its_note_and_shown(world: World) -> None:
    assert run(world, f"case open child-safety sev1 {SECRET}").ok

    made = run(world, f"refer {KEY} to NCMEC country:us basis:voluntary {NOTE}")

    assert made.ok, made.text
    (row,) = referrals(world)
    assert (row.agency, row.country, row.basis, row.note, row.by) == (
        "NCMEC",
        "US",
        "voluntary",
        NOTE,
        ANN,
    )
    with world.db.transaction() as session:
        (event,) = session.exec(select(AuditEvent).where(AuditEvent.action == "case.refer"))
    detail = json.loads(event.detail)
    assert detail["agency"] == "NCMEC" and detail["basis"] == "voluntary"
    assert "IP" not in event.detail and SECRET not in event.detail
    shown = run(world, f"case show {KEY}")
    assert "Referrals" in shown.text and "NCMEC (US, voluntary)" in shown.text
    assert NOTE.replace("'", "&#x27;") in shown.text or "two hashes" in shown.text


def test_referrals_are_hidden_from_those_without_access(world: World) -> None:
    assert run(world, f"case open child-safety sev1 {SECRET}").ok
    assert run(world, f"refer {KEY} to NCMEC country:US basis:voluntary {NOTE}").ok

    assert run(world, f"case report {KEY} filed CT-99887766").ok

    shown = run(world, f"case show {KEY}", who=EVE)

    assert shown.ok
    seen = shown.text + str(shown.blocks)
    assert "NCMEC" not in seen and "hashes" not in seen
    # Not even that a disclosure or a filing was made, nor the clearinghouse's report number.
    assert "Referr" not in seen and "CT-99887766" not in seen
    assert "Report filed" not in seen and "Report due" not in seen and "Preserve" not in seen
    assert "Opened by" in seen  # the case's life itself stays the team's


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (f"refer {KEY} to NCMEC country:US basis:curious", "unknown basis 'curious'"),
        (f"refer {KEY} to NCMEC country:UK basis:legal", "'UK' is not an ISO 3166-1"),
        (f"refer {KEY} to NCMEC country:XX basis:legal", "'XX' is not an ISO 3166-1"),
        (f"refer {KEY} to NCMEC country:USA basis:legal", "'USA' is not an ISO 3166-1"),
        (f"refer {KEY} to NCMEC basis:legal", "give country:"),
        (f"refer {KEY} to Polizei Berlin country:DE basis:legal", "kind:law-enforcement|hotline"),
        (
            f"refer {KEY} to Police Ombudsman for Northern Ireland country:GB basis:legal",
            "say what kind of agency",
        ),
        (
            f"refer {KEY} to NCMEC's CyberTipline country:US basis:legal kind:law-enforcement",
            "counts as hotline, not law-enforcement",
        ),
        (f"refer {KEY} to NCMEC country:US basis:legal kind:ngo", "unknown agency kind 'ngo'"),
        (
            f"refer {KEY} to NCMEC country:US basis:legal kind:regulator",
            "NCMEC counts as hotline, not regulator: leave out kind:",
        ),
        (
            f"refer {KEY} to the Ｆ.Ｂ.Ｉ. country:US basis:legal kind:hotline",
            "the Ｆ.Ｂ.Ｉ. counts as law-enforcement, not hotline",
        ),
        (f"refer {KEY} to NCMEC country:UK basis:legal", "use GB"),
        (f"refer {KEY} NCMEC country:US basis:legal", "say `to <agency>`"),
        (f"refer {KEY} to country:US basis:legal", "name the agency"),
        ("refer TS-2027-0009 to NCMEC country:US basis:legal", "there is no case TS-2027-0009"),
    ],
)
def test_bad_referrals_are_one_line_and_change_nothing(world: World, line: str, why: str) -> None:
    assert run(world, f"case open child-safety sev1 {SECRET}").ok
    before = counts(world.db)

    reply = run(world, line)

    assert not reply.ok
    assert why in reply.text.splitlines()[0]
    assert counts(world.db) == before
    assert referrals(world) == []


def test_a_referral_without_access_is_refused_and_audited(world: World) -> None:
    assert run(world, f"case open child-safety sev1 {SECRET}").ok
    before = counts(world.db)

    reply = run(world, f"refer {KEY} to FBI country:US basis:emergency", who=EVE)

    assert not reply.ok and "restricted" in reply.text
    assert counts(world.db) == before | {"AuditEvent": before["AuditEvent"] + 1}
    assert referrals(world) == []


def test_the_builtin_country_list_is_iso_3166_alpha_2() -> None:
    assert len(COUNTRIES) == 249
    assert {"US", "DE", "BR", "GB", "IN", "SS", "XK"} - COUNTRIES == {"XK"}
    assert "UK" not in COUNTRIES and "EU" not in COUNTRIES


def test_the_referral_report_counts_a_hand_built_set(
    world: World, database_url: str, tmp_path: Path
) -> None:
    # Three cases; five referrals inside March 2027, one on April 1st (outside --to).
    for summary in ("one", "two", "three"):
        assert run(world, f"case open harassment sev2 {summary}").ok
    made = [
        ("TS-2027-0001", "NCMEC", "US", "voluntary"),
        ("TS-2027-0001", "FBI", "US", "emergency"),
        ("TS-2027-0002", "Polizei Berlin", "DE", "emergency kind:law-enforcement"),
        ("TS-2027-0002", "the F.B.I.", "US", "legal"),  # the same agency, spelt otherwise
        ("TS-2027-0003", "Polizei Berlin", "de", "emergency kind:Law-Enforcement"),
    ]
    for key, agency, country, basis in made:
        reply = run(world, f"refer {key} to {agency} country:{country} basis:{basis}")
        assert reply.ok, reply.text
        world.clock.advance(timedelta(hours=1))
    world.clock.advance(timedelta(days=12))  # 2027-04-01
    assert run(world, "refer TS-2027-0003 to NCMEC country:US basis:legal").ok
    env = {"DATABASE_URL": database_url}

    result = chatops(
        "report",
        "referrals",
        "--from",
        "2027-03-01",
        "--to",
        "2027-03-31",
        "--json",
        cwd=tmp_path,
        env=env,
    )

    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["total"] == 5
    assert found["by_basis"] == {"emergency": 3, "legal": 1, "voluntary": 1}
    assert found["by_agency"] == {"FBI": 2, "NCMEC": 1, "Polizei Berlin": 2}
    assert found["by_kind"] == {"hotline": 1, "law-enforcement": 4}
    assert (found["from"], found["to"]) == ("2027-03-01T00:00:00Z", "2027-04-01T00:00:00Z")
    assert found["by_country"] == {"DE": 2, "US": 3}
    text = chatops(
        "report", "referrals", "--from", "2027-03-01", "--to", "2027-04-01", cwd=tmp_path, env=env
    )
    assert text.returncode == 0 and ": 6" in text.stdout.splitlines()[0]
    assert "  NCMEC: 2" in text.stdout


def test_the_referral_report_refuses_a_bad_date_in_one_line(tmp_path: Path) -> None:
    result = chatops(
        "report",
        "referrals",
        "--from",
        "March",
        "--to",
        "2027-03-31",
        cwd=tmp_path,
        env={"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"},
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "--from" in result.stderr


def test_an_agency_keeps_the_kind_it_was_first_recorded_under(world: World) -> None:
    """An agency the bot does not know is counted under the kind it was first given: a later
    referral to it may leave kind: out, and may not give another one."""
    assert run(world, f"case open child-safety sev1 {SECRET}").ok
    first = f"refer {KEY} to Garda NBCI country:IE basis:legal kind:law-enforcement"
    assert run(world, first).ok
    other = run(world, f"refer {KEY} to garda nbci country:IE basis:legal kind:regulator")
    assert not other.ok
    assert "garda nbci was recorded as law-enforcement, not regulator" in other.text
    again = run(world, f"refer {KEY} to The Garda NBCI country:IE basis:emergency")
    assert again.ok and "(law-enforcement, IE, emergency)" in again.text


def test_a_kind_check_never_tells_of_a_referral_on_a_case_one_cannot_see(world: World) -> None:
    """Eve has no access to Ann's restricted case: that its agency was recorded there, and
    under which kind, is not hers to learn from a refusal."""
    assert run(world, f"case open child-safety sev1 {SECRET}").ok
    first = f"refer {KEY} to Kinderschutz-Hotline Neukölln country:DE basis:voluntary kind:hotline"
    assert run(world, first).ok
    assert run(world, "case open harassment sev4 Eve's own case", who=EVE).ok
    hers = run(
        world,
        "refer TS-2027-0002 to Kinderschutz-Hotline Neukölln country:DE basis:legal kind:other",
        who=EVE,
    )
    assert hers.ok and "recorded as" not in hers.text
    # Ann sees both cases: her own record still holds the agency to one of its kinds.
    mine = run(
        world, f"refer {KEY} to kinderschutz hotline neukölln country:DE basis:legal kind:regulator"
    )
    assert not mine.ok and "was recorded as" in mine.text and "not regulator" in mine.text


@pytest.mark.parametrize(
    "agency", ["Police Ombudsman for Northern Ireland", "Independent Office for Police Conduct"]
)
def test_a_known_word_in_a_longer_name_only_suggests_a_kind(world: World, agency: str) -> None:
    """An oversight body of the police is not the police: its typed kind is taken."""
    assert run(world, f"case open child-safety sev1 {SECRET}").ok
    made = run(world, f"refer {KEY} to {agency} country:GB basis:legal kind:regulator")
    assert made.ok, made.text
    assert referrals(world)[-1].kind == "regulator"
