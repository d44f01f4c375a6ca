"""Same answers everywhere: Slack, the console and a direct `dispatch` give the very same Reply.

For each command, the blocks Slack receives at its response_url must equal the blocks
`dispatch` returns for the same member, database and clock, and the console must print exactly
those blocks rendered. Any transport-specific branch in a verb would break this.
"""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest

from chatops.clock import ManualClock
from chatops.console import Console
from chatops.db import Database
from commands.registry import dispatch
from rota.models import Team
from tests.support.fakeslack import FakeSlack
from tests.support.fakeslack import fake_slack as fake_slack  # the fixture
from tests.support.served import AMIRA, LUKAS, NOW, serve
from tests.support.teams import example_team_context

COMMANDS = [
    "help",
    "help rota",
    "who",
    "shifts all days:1",
    "rota show",
    "rota check",
    "frobnicate now",
]


@pytest.mark.parametrize("user", [AMIRA, LUKAS])
def test_console_slack_and_dispatch_share_one_reply(
    sqlite_db: Database, fake_slack: FakeSlack, user: str
) -> None:
    with serve(sqlite_db, fake_slack) as served:
        for i, text in enumerate(COMMANDS):
            assert served.command(text, user=user, rid=f"s{i}").status == 200
        slack = [served.answer(f"s{i}") for i in range(len(COMMANDS))]

    # The same team (saved again: unchanged), member and clock, without any transport.
    ctx = example_team_context(sqlite_db, user, NOW)
    with sqlite_db.transaction() as session:
        team = session.get(Team, ctx.team_id)
    assert team is not None
    clock = ManualClock(NOW)
    out = io.StringIO()
    console = Console(db=sqlite_db, team=team, context=ctx, clock=clock, out=out)

    for text, answer in zip(COMMANDS, slack, strict=True):
        direct = dispatch(text, replace(ctx, clock=clock))
        assert answer["blocks"] == json.loads(json.dumps(direct.blocks)), text
        assert answer["text"] == direct.text, text
        assert answer["response_type"] == direct.visibility.value, text

        out.seek(0)
        out.truncate()
        console.handle(f"/ts {text}")
        assert out.getvalue() == console.render(answer["blocks"]) + "\n\n", text
