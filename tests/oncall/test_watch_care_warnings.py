"""The daily coverage watch carries the care warnings of its window (shifts while away,
fatigue) as warnings, never as gaps; a shift held while away breaks a quiet watch's silence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from chatops.db import Database
from chatops.oncall.watch import WatchSettings, run_team, watch_dm
from chatops.outbox.models import OutboxMessage
from commands.registry import dispatch
from rota.fatigue import RotaWarning
from rota.models import Team
from tests.support.teams import example_team_context

NOW = datetime(2027, 3, 17, 12, 0, tzinfo=UTC)
AMIRA = "U01AHADDAD"
QUIET = WatchSettings(days=45)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%MZ")


def _fire(db: Database, team_id: int, fire_at: datetime, settings: WatchSettings) -> list[str]:
    with db.transaction() as session:
        team = session.get(Team, team_id)
        assert team is not None
        run_team(session, team=team, fire_at=fire_at, now=fire_at, settings=settings, worker_id="w")
    with db.transaction() as session:
        sent = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "coverage.watch"))
        return [m.text + "\n" + str(m.blocks) for m in sent if m.created_at == fire_at]


def test_a_shift_held_while_away_is_in_the_watch_as_a_warning(sqlite_db: Database) -> None:
    ctx = example_team_context(sqlite_db, AMIRA, NOW)
    assert _fire(sqlite_db, ctx.team_id, NOW, QUIET) == []  # covered, nobody away: quiet
    start, end = NOW + timedelta(days=20), NOW + timedelta(days=41)  # Amira has shifts then
    assert dispatch(f"away {_iso(start)} to {_iso(end)} holiday", ctx).ok
    later = NOW + timedelta(days=1)
    sent = _fire(sqlite_db, ctx.team_id, later, QUIET)
    assert sent, "a shift held while away is something to say"
    for message in sent:  # one per manager
        assert "no coverage gaps in the next 45 days, but" in message  # never a gap
        assert "care warning(s)" in message and "while away (#1" in message


def _warning(n: int) -> RotaWarning:
    at = NOW + timedelta(days=n)
    return RotaWarning("long_shift", "U1", "Ann", "UTC", ((at, at + timedelta(hours=30)),), "long")


def test_the_watch_message_counts_warnings_and_shows_the_first_few() -> None:
    warnings = [_warning(n) for n in range(7)]
    text, blocks = watch_dm(
        team="T&S", days=14, gaps=[], start=NOW, end=NOW + timedelta(days=14), warnings=warnings
    )
    shown = str(blocks)
    assert "no coverage gaps" in text and "7 care warning(s)" in text
    assert "not gaps" in shown and "and 2 more" in shown
    gapped, gap_blocks = watch_dm(
        team="T&S", days=14, gaps=["a gap"], start=NOW, end=NOW, warnings=warnings[:1]
    )
    assert "1 coverage gap(s)" in gapped and "1 care warning(s)" in str(gap_blocks)
    assert len(gap_blocks) <= 50
    plain, plain_blocks = watch_dm(team="T&S", days=14, gaps=[], start=NOW, end=NOW)
    assert "care warning" not in plain + str(plain_blocks)
