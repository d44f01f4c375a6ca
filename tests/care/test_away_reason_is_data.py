"""An away reason is typed text: every message that shows it has it escaped, its links
defanged and its control and reordering characters dropped (invariant 9)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from chatops.clock import ManualClock
from chatops.db import Database
from chatops.outbox.models import OutboxMessage
from chatops.outbox.notifier import ConsoleNotifier
from chatops.worker import run_due
from commands.registry import dispatch
from tests.support.teams import example_team_context

NOW = datetime(2027, 3, 17, 12, 0, tzinfo=UTC)
AMIRA = "U01AHADDAD"
EVIL = "<!channel> <@U01LBECKER> <https://evil.example|click> \x07bell \u202eevil"


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%MZ")


def _assert_safe(shown: str) -> None:
    for raw in ("<!channel>", "<@U01LBECKER>", "<https://", "evil.example", "\x07", "\u202e"):
        assert raw not in shown, (raw, shown)
    assert "&lt;!channel&gt;" in shown and "hxxps://evil[.]example" in shown


def test_an_away_reason_is_shown_safely_everywhere(sqlite_db: Database) -> None:
    ctx = example_team_context(sqlite_db, AMIRA, NOW)
    start, end = NOW + timedelta(days=20), NOW + timedelta(days=41)  # Amira has shifts then
    assert dispatch(f"away {_iso(start)} to {_iso(end)} {EVIL}", ctx).ok
    listed = dispatch("away list", ctx)
    _assert_safe(listed.text + str(listed.blocks))
    checked = dispatch("rota check days:60", ctx)
    assert "while away (#1" in str(checked.blocks)
    _assert_safe(str(checked.blocks))
    clock = ManualClock(start - timedelta(days=14))
    run_due(sqlite_db, clock, ConsoleNotifier(), worker_id="w")
    with sqlite_db.transaction() as session:
        posted = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "away.cover")).one()
    assert "is away from" in posted.text
    _assert_safe(posted.text)
    _assert_safe(str(posted.blocks))
