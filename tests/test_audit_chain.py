"""The tamper-evident audit trail (issue #11): `chatops audit verify` notices an edited event, a
deleted one and removed newest ones, changed directly in the database with SQL, on SQLite and
PostgreSQL; the export can be checked without this code; `/ts audit` is for admins only.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import col, select

from chatops import audit
from chatops.audit import AuditEvent, AuditSeal
from chatops.cli.main import main
from chatops.db import Database
from commands.registry import dispatch
from tests.support.case_world import ANN, BEN, CAT, DAN, NOW, World, make_world

Verify = Callable[..., tuple[int, str]]


def busy_day(world: World) -> None:
    """Real commands and worker passes: about fifty audit events."""
    for n in range(1, 6):
        key = f"TS-2027-{n:04d}"
        dispatch(f"case open harassment sev3 Thread number {n}", world.context(ANN))
        world.tick()
        dispatch(f"case note {key} looked at it", world.context(ANN))
        dispatch(f"escalate {key} need a second pair of eyes", world.context(ANN))
        world.tick()
        dispatch(f"ack {key}", world.context(BEN))
        dispatch(f"case assign {key} @Ann", world.context(CAT))
        world.clock.advance(timedelta(minutes=7))
        dispatch(f"case resolve {key} done", world.context(CAT))
        world.tick()


@pytest.fixture
def world(db: Database) -> World:
    made = make_world(db)
    busy_day(made)
    return made


def cli(
    args: list[str],
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str]:
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    monkeypatch.setenv("DATABASE_URL", db.engine.url.render_as_string(hide_password=False))
    code = main(args)
    return code, capsys.readouterr().out


def sql(db: Database, statement: str) -> None:
    with db.engine.begin() as connection:
        connection.execute(text(statement))


def sealed_ids(db: Database) -> list[tuple[int, int]]:
    with db.transaction() as session:
        rows = session.exec(select(AuditSeal).order_by(col(AuditSeal.seq))).all()
    return [(r.seq, r.event_id) for r in rows]


@pytest.fixture
def verify(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> Verify:
    def run(*extra: str) -> tuple[int, str]:
        return cli(["audit", "verify", *extra], world.db, monkeypatch, tmp_path, capsys)

    return run


def test_an_untouched_chain_of_real_commands_verifies(world: World, verify: Verify) -> None:
    code, out = verify()
    with world.db.transaction() as session:
        total = len(session.exec(select(AuditEvent)).all())
        head = audit.head(session)
    assert total >= 45
    assert code == 0, out
    assert head is not None and head.seq == total
    assert out.strip() == f"{total} events verified, chain head {head.hash[:8]}"
    assert verify()[0] == 0  # verifying again changes nothing


def test_the_worker_pass_seals_events_in_id_order(world: World) -> None:
    seals = sealed_ids(world.db)
    assert seals, "the worker passes of busy_day sealed the events"
    assert [s for s, _ in seals] == list(range(1, len(seals) + 1))
    assert [e for _, e in seals] == sorted(e for _, e in seals)


def test_an_edited_event_is_named(world: World, verify: Verify) -> None:
    verify()
    seq, event_id = sealed_ids(world.db)[20]
    sql(world.db, f"UPDATE audit_event SET actor = 'U0MALLORY' WHERE id = {event_id}")
    code, out = verify()
    assert code == 1
    assert out.startswith(f"audit chain broken at seq {seq}, event id {event_id}: edited")
    assert "20 events verified before it" in out


def test_an_edited_event_with_a_recomputed_seal_breaks_the_next_link(
    world: World, verify: Verify
) -> None:
    verify()
    seq, event_id = sealed_ids(world.db)[20]
    sql(world.db, f"UPDATE audit_event SET actor = 'U0MALLORY' WHERE id = {event_id}")
    with world.db.transaction() as session:
        event = session.get(AuditEvent, event_id)
        seal_row = session.get(AuditSeal, seq)
        assert event is not None and seal_row is not None
        forged = audit.event_hash(event, seq=seq, prev_hash=seal_row.prev_hash)
    sql(world.db, f"UPDATE audit_seal SET hash = '{forged}' WHERE seq = {seq}")
    code, out = verify()
    assert code == 1
    assert out.startswith(f"audit chain broken at seq {seq + 1}, ")
    assert "events missing before it" in out


def test_a_deleted_middle_event_is_named(world: World, verify: Verify) -> None:
    verify()
    seq, event_id = sealed_ids(world.db)[10]
    sql(world.db, f"DELETE FROM audit_event WHERE id = {event_id}")
    code, out = verify()
    assert code == 1
    assert out.startswith(f"audit chain broken at seq {seq}, event id {event_id}: ")
    assert "missing (deleted)" in out


def test_a_middle_event_deleted_with_its_seal_is_named(world: World, verify: Verify) -> None:
    verify()
    seals = sealed_ids(world.db)
    seq, event_id = seals[10]
    sql(world.db, f"DELETE FROM audit_event WHERE id = {event_id}")
    sql(world.db, f"DELETE FROM audit_seal WHERE seq = {seq}")
    code, out = verify()
    assert code == 1
    after = seals[11]
    assert out.startswith(f"audit chain broken at seq {after[0]}, event id {after[1]}: ")
    assert f"events missing before it (seq {seq} removed)" in out


def test_removed_newest_events_are_noticed(world: World, verify: Verify) -> None:
    verify()
    seals = sealed_ids(world.db)
    last = seals[-1][0]
    cut = seals[-3]
    sql(world.db, f"DELETE FROM audit_event WHERE id >= {cut[1]}")
    sql(world.db, f"DELETE FROM audit_seal WHERE seq >= {cut[0]}")
    code, out = verify()
    assert code == 1
    assert out.startswith(f"audit chain broken at seq {cut[0]}: tail removed")
    assert f"ends at seq {last - 3}" in out


def test_events_written_after_a_removed_tail_do_not_hide_it(world: World, verify: Verify) -> None:
    verify()
    seals = sealed_ids(world.db)
    cut = seals[-3]
    sql(world.db, f"DELETE FROM audit_event WHERE id >= {cut[1]}")
    sql(world.db, f"DELETE FROM audit_seal WHERE seq >= {cut[0]}")
    dispatch("case open harassment sev4 Another thread", world.context(ANN))
    code, out = verify()
    assert code == 1
    assert f"seq {seals[-1][0] + 1}, " in out  # the new event follows the recorded head
    assert "events missing before it" in out
    with world.db.transaction() as session:
        ids = [e.id for e in session.exec(select(AuditEvent))]
    assert min(i for i in ids if i is not None and i >= cut[1]) > seals[-1][1]  # no id reused


def test_a_whole_rewritten_tail_is_caught_by_a_head_kept_elsewhere(
    world: World,
    verify: Verify,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    verify()
    code, out = cli(["audit", "head"], world.db, monkeypatch, tmp_path, capsys)
    kept = json.loads(out)
    assert code == 0 and kept["seq"] == sealed_ids(world.db)[-1][0]
    seals = sealed_ids(world.db)
    cut = seals[-2]
    sql(world.db, f"DELETE FROM audit_event WHERE id >= {cut[1]}")
    sql(world.db, f"DELETE FROM audit_seal WHERE seq >= {cut[0]}")
    with world.db.transaction() as session:
        prev = session.get(AuditSeal, cut[0] - 1)
        assert prev is not None
    # The attacker also moves the head: the chain alone now looks whole.
    sql(
        world.db,
        f"UPDATE audit_head SET seq = {prev.seq}, hash = '{prev.hash}', event_id = {prev.event_id}",
    )
    assert verify()[0] == 0
    code, out = verify("--expect", f"{kept['seq']}:{kept['hash']}")
    assert code == 1
    assert out.startswith(f"audit chain broken at seq {kept['seq']}: rewritten since")


def test_export_lines_parse_and_match_the_chain(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out_file = tmp_path / "audit.jsonl"
    window = ["--from", "2027-03-20T12:00:00Z", "--to", "2027-03-20T12:14:00Z"]
    code, out = cli(
        ["audit", "export", *window, "--out", str(out_file)],
        world.db,
        monkeypatch,
        tmp_path,
        capsys,
    )
    rows = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert code == 0 and out.strip() == f"{len(rows)} events written to {out_file}"
    with world.db.transaction() as session:
        seals = {s.seq: s for s in session.exec(select(AuditSeal))}
        inside = [
            e
            for e in session.exec(select(AuditEvent))
            if e.at < NOW + timedelta(minutes=14)  # every event is at or after NOW
        ]
    assert len(rows) == len(inside) and 0 < len(rows) < len(seals)
    for row in rows:
        assert row["at"].endswith("Z")
        assert seals[row["seq"]].hash == row["hash"] and seals[row["seq"]].event_id == row["id"]
        # Anyone can recompute a hash from the exported line (docs/audit.md).
        fields = [
            row["seq"],
            row["id"],
            row["team_id"],
            row["at"],
            row["actor"],
            row["action"],
            row["subject"],
            row["detail"],
            row["correlation_id"],
            row["prev_hash"],
        ]
        canonical = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
        assert hashlib.sha256(canonical.encode()).hexdigest() == row["hash"]
    assert [r["seq"] for r in rows] == sorted(r["seq"] for r in rows)
    assert all("Thread number" not in line for line in out_file.read_text().splitlines())


def test_export_refuses_a_backwards_window_in_one_line(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["audit", "export", "--from", "2027-03-21T00:00:00Z", "--to", "2027-03-20T00:00:00Z"]
    code, _ = cli(args, world.db, monkeypatch, tmp_path, capsys)
    assert code == 2
    assert capsys.readouterr().err == ""  # already read by cli: the line went to stderr


@pytest.mark.postgres
def test_concurrent_writers_and_the_sealer_keep_one_whole_chain(postgres_url: str) -> None:
    from chatops.db import make_engine
    from chatops.schema.migrate import upgrade

    db = Database(make_engine(postgres_url))
    upgrade(db.engine)
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for n in range(150):
                with db.transaction() as session:
                    audit.record(session, at=NOW, actor=name, action="test.write", subject=str(n))
                    session.flush()
                    # Hold the transaction open a moment after the id is taken, so a later
                    # id can commit first: what would make a careless sealer skip this one.
                    session.execute(text("SELECT pg_sleep(0.002)"))
        except BaseException as error:  # surfaced below
            errors.append(error)

    def sealer() -> None:
        try:
            while not stop.is_set():
                audit.seal(db, now=NOW)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(w,)) for w in ("U0ONE", "U0TWO")]
    sealing = threading.Thread(target=sealer)
    sealing.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    sealing.join()
    assert errors == []
    audit.seal(db, now=NOW)
    with db.transaction() as session:
        verdict = audit.verify(session)
    db.dispose()
    assert verdict.problem is None
    assert verdict.verified == 300


def test_ts_audit_is_refused_to_a_responder_and_changes_nothing(world: World) -> None:
    with world.db.transaction() as session:
        before = len(session.exec(select(AuditEvent)).all())
    reply = dispatch("audit TS-2027-0001", world.context(ANN))
    assert not reply.ok
    assert reply.text.splitlines()[0].endswith("only admins can read a case's audit trail")
    manager = dispatch("audit TS-2027-0001", world.context(CAT))
    assert not manager.ok
    with world.db.transaction() as session:
        assert len(session.exec(select(AuditEvent)).all()) == before


def test_ts_audit_shows_an_admin_the_case_in_plain_words_and_is_audited(world: World) -> None:
    reply = dispatch("audit ts-2027-1", world.context(DAN))
    assert reply.ok, reply.text
    lines = reply.text.splitlines()
    assert lines[0].startswith("*Audit trail of TS-2027-0001*: events 1–")
    assert any("<@U0ANN> opened the case" in line for line in lines)
    assert any("<@U0CAT> resolved it" in line for line in lines)
    assert any("the bot delivered a page" in line for line in lines)
    assert "Thread number" not in reply.text and "looked at it" not in reply.text
    assert not any("TS-2027-0002" in line for line in lines[1:])
    with world.db.transaction() as session:
        views = session.exec(select(AuditEvent).where(AuditEvent.action == "case.audit_view")).all()
    assert [(v.actor, v.subject) for v in views] == [(DAN, "TS-2027-0001")]


def test_ts_audit_pages_at_twenty(world: World) -> None:
    for _ in range(10):  # 12 events of the case, then each view adds one
        dispatch("audit TS-2027-0001", world.context(DAN))
    first = dispatch("audit TS-2027-0001", world.context(DAN))
    assert first.ok
    assert len(first.text.splitlines()) == 1 + 20 + 1
    assert first.text.splitlines()[-1] == "More: `/ts audit TS-2027-0001 2`"
    second = dispatch("audit TS-2027-0001 2", world.context(DAN))
    assert second.ok and "(page 2 of 2)" in second.text.splitlines()[0]
    beyond = dispatch("audit TS-2027-0001 9", world.context(DAN))
    assert not beyond.ok and "has 2 pages of audit events" in beyond.text


@pytest.mark.postgres
def test_an_app_role_without_update_or_delete_can_record_and_seal(postgres_url: str) -> None:
    """The grants of docs/audit.md: the app appends and seals but cannot rewrite history."""
    import re
    import uuid

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ProgrammingError

    from chatops.db import make_engine
    from chatops.schema.migrate import upgrade

    owner = Database(make_engine(postgres_url))
    upgrade(owner.engine)
    role = f"chatops_app_{uuid.uuid4().hex[:8]}"
    doc = (Path(__file__).parent.parent / "docs" / "audit.md").read_text()
    block = doc.split("-- as the owner, after `chatops db upgrade`\n", 1)[1].split("\n\n", 1)[0]
    grants = [re.sub(r"\s+", " ", line.strip()) for line in block.splitlines()]
    grants = [g.replace("chatops_app", role).replace("PASSWORD '…'", "") for g in grants]
    sql(owner, grants[0])
    try:
        for grant in grants[1:]:
            sql(owner, grant)
        app = Database(make_engine(make_url(postgres_url).set(username=role).render_as_string()))
        for n in range(3):
            with app.transaction() as session:
                audit.record(session, at=NOW, actor="U0APP", action="test.write", subject=str(n))
        assert audit.seal(app, now=NOW) == 3
        with app.transaction() as session:
            assert audit.verify(session).verified == 3
        for statement in (
            "UPDATE audit_event SET actor = 'U0MALLORY'",
            "DELETE FROM audit_event",
            "DELETE FROM audit_seal",
            "TRUNCATE audit_event",
        ):
            with pytest.raises(ProgrammingError, match="permission denied"):
                sql(app, statement)
        app.dispose()
    finally:
        sql(owner, f"DROP OWNED BY {role}")
        owner.dispose()
        sql_admin = Database(
            make_engine(make_url(postgres_url).set(database="test").render_as_string())
        )
        sql(sql_admin, f"DROP ROLE IF EXISTS {role}")
        sql_admin.dispose()
