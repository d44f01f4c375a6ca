"""Reading the team's rota for a command, and showing instants in the asker's own zone."""

from __future__ import annotations

from datetime import datetime

from commands.context import Context, Refused
from rota.models import Team
from rota.resolve import CompiledRota, compile_rota
from rota.store import load_rota
from rota.timefmt import fmt_local


def team_rota(ctx: Context) -> CompiledRota:
    """The team's rota as the engine reads it (compiled once per distinct rota)."""
    with ctx.db.transaction() as session:
        team = session.get(Team, ctx.team_id)
        if team is None:
            raise Refused(f"the team {ctx.team_name!r} is no longer in the database")
        return compile_rota(load_rota(session, team))


def local(ctx: Context, instant: datetime) -> str:
    """An instant as the asker reads it: their local time, zone abbreviation and offset."""
    return fmt_local(instant, ctx.actor.tz if ctx.actor else "UTC")


def mention(slack_id: str) -> str:
    return f"<@{slack_id}>"
