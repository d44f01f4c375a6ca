"""Test teams: the example rota loaded into a database, and a Context acting as one member."""

from __future__ import annotations

from datetime import datetime

from chatops.clock import ManualClock
from chatops.db import Database
from chatops.team import actor_for_slack_id
from commands.context import Context
from rota.store import save_rota
from rota.yamlio import load_rota_yaml
from tests.support.clirun import EXAMPLE


def example_team_context(db: Database, slack_id: str, now: datetime) -> Context:
    """The example team saved into `db`, and a Context for `slack_id` at `now`."""
    spec = load_rota_yaml(EXAMPLE)
    with db.transaction() as session:
        team = save_rota(session, spec)
        actor = actor_for_slack_id(session, team, slack_id)
    assert team.id is not None
    return Context(
        db=db,
        team_id=team.id,
        team_name=team.name,
        actor=actor,
        clock=ManualClock(now),
        channel=team.channel,
    )
