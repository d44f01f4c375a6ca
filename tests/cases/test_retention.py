"""Case retention (issue #11): `chatops cases purge` is a dry run unless `--apply`; applied, it
deletes exactly the resolved cases past their retention that no legal hold keeps, with every
row about them, and leaves one audit event each (id, key and type only)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from chatops import audit
from chatops.audit import AuditEvent
from chatops.cases.models import Case, CaseEvent
from chatops.cases.referrals import Referral, count_referrals
from chatops.cli.main import main
from chatops.db import Database
from chatops.escalation.models import EscalationTimer
from chatops.outbox.models import OutboxMessage
from commands.registry import dispatch
from tests.support.case_world import ANN, CAT, DAN, NOW, World, counts, make_world

LATER = NOW + timedelta(days=91)


@pytest.fixture
def world(db: Database) -> World:
    """Five cases: 1 harassment, 2 held, 3 child-safety (kept a year), resolved at NOW;
    4 resolved 10 days later; 5 still open."""
    made = make_world(db)
    for kind in ("harassment", "harassment", "child-safety", "harassment", "other"):
        dispatch(f"case open {kind} sev3 Summary that must vanish", made.context(ANN))
    made.tick()
    # A child-safety case is resolved only with its reporting duty settled (issue #14).
    assert dispatch("case report TS-2027-0003 no-report not apparent CSAM", made.context(DAN)).ok
    for n in (1, 2, 3):
        dispatch(f"case note TS-2027-000{n} private note text", made.context(ANN))
        assert dispatch(f"case resolve TS-2027-000{n}", made.context(DAN)).ok
    assert dispatch("case hold TS-2027-0002 preservation request 114", made.context(CAT)).ok
    made.clock.advance(timedelta(days=10))
    assert dispatch("case resolve TS-2027-0004", made.context(DAN)).ok
    made.tick()
    return made


def purge(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    *extra: str,
) -> tuple[int, list[str]]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", world.db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CHATOPS_RETENTION_DAYS_BY_TYPE", "child-safety=365")
    code = main(["cases", "purge", "--now", LATER.isoformat(), *extra])
    return code, capsys.readouterr().out.splitlines()


def keys(world: World) -> list[str]:
    with world.db.transaction() as session:
        return [c.key for c in session.exec(select(Case).order_by(col(Case.id)))]


def test_a_dry_run_lists_ids_and_changes_nothing(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = counts(world.db)
    code, out = purge(world, monkeypatch, tmp_path, capsys)
    assert code == 0
    assert out == [
        "kept TS-2027-0002 (team 1): legal hold",
        "would purge TS-2027-0001 (team 1)",
        "1 cases would be purged; run with --apply to purge them",
    ]
    assert counts(world.db) == before
    assert "vanish" not in "\n".join(out) and "114" not in "\n".join(out)


def test_apply_purges_exactly_the_expired_unheld_cases_and_audits_each(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with world.db.transaction() as session:
        doomed = session.exec(select(Case).where(Case.key == "TS-2027-0001")).one()
        assert session.exec(select(OutboxMessage).where(OutboxMessage.case_id == doomed.id)).all()
    code, out = purge(world, monkeypatch, tmp_path, capsys, "--apply")
    assert code == 0
    assert out[-2:] == ["purged TS-2027-0001 (team 1)", "1 cases purged"]
    assert keys(world) == ["TS-2027-0002", "TS-2027-0003", "TS-2027-0004", "TS-2027-0005"]
    with world.db.transaction() as session:
        for table in (CaseEvent, OutboxMessage, EscalationTimer):
            left = session.exec(
                select(func.count()).select_from(table).where(table.case_id == doomed.id)
            ).one()
            assert left == 0, table.__name__
        purges = session.exec(select(AuditEvent).where(AuditEvent.action == "case.purge")).all()
    assert [(p.subject, p.actor, json.loads(p.detail)) for p in purges] == [
        ("TS-2027-0001", "cli", {"case_id": doomed.id, "type": "harassment"})
    ]
    # Applying again finds nothing more; the audit chain still verifies.
    assert purge(world, monkeypatch, tmp_path, capsys, "--apply")[1][-1] == "0 cases purged"
    audit.seal(world.db)
    with world.db.transaction() as session:
        assert audit.verify(session).ok


def test_a_released_hold_lets_the_case_go(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert dispatch("case release TS-2027-0002", world.context(DAN)).ok
    _, out = purge(world, monkeypatch, tmp_path, capsys, "--apply")
    assert "purged TS-2027-0002 (team 1)" in out
    assert "TS-2027-0002" not in keys(world)


def test_hold_and_release_are_for_managers_and_audited_without_the_reason(world: World) -> None:
    before = counts(world.db)
    refused = dispatch("case hold TS-2027-0001 because", world.context(ANN))
    assert not refused.ok
    assert refused.text.splitlines()[0].endswith(
        "only managers and admins can put a case on legal hold"
    )
    assert not dispatch("case release TS-2027-0002", world.context(ANN)).ok
    assert counts(world.db) == before
    again = dispatch("case hold TS-2027-0002 again", world.context(CAT))
    assert not again.ok and "already on legal hold" in again.text
    missing = dispatch("case hold TS-2027-0001", world.context(CAT))
    assert not missing.ok and "say why the case is held" in missing.text
    with world.db.transaction() as session:
        holds = session.exec(select(AuditEvent).where(AuditEvent.action == "case.hold")).all()
    assert [(h.actor, h.subject) for h in holds] == [(CAT, "TS-2027-0002")]
    assert "114" not in holds[0].detail


def test_a_wrong_retention_setting_is_one_line(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", world.db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CHATOPS_RETENTION_DAYS_BY_TYPE", "childsafety=365")
    before = counts(world.db)
    assert main(["cases", "purge", "--apply"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chatops: CHATOPS_RETENTION_DAYS_BY_TYPE: 'childsafety=365' is not")
    assert len(err.splitlines()) == 1
    assert counts(world.db) == before


def test_a_purge_keeps_the_referral_counted_without_its_case_or_note(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Transparency reports count a year of disclosures; cases may go after 90 days."""
    made = dispatch(
        "refer TS-2027-0001 to police country:DE basis:emergency note-that-must-vanish",
        world.context(ANN),
    )
    assert made.ok, made.text
    with world.db.transaction() as session:
        before = count_referrals(session, start=NOW - timedelta(days=1), end=LATER)
    assert before.total == 1
    code, out = purge(world, monkeypatch, tmp_path, capsys, "--apply")
    assert code == 0 and out[-1] == "1 cases purged"
    with world.db.transaction() as session:
        after = count_referrals(session, start=NOW - timedelta(days=1), end=LATER)
        rows = session.exec(select(Referral)).all()
    assert after == before
    assert [(r.case_id, r.note, r.agency, r.country) for r in rows] == [(None, "", "police", "DE")]
