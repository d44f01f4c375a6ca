"""Reading the team's rota for a command, and showing instants in the asker's own zone."""

from __future__ import annotations

from datetime import datetime

from chatops import blockkit
from chatops.blockkit import quote_input, user_text
from chatops.oncall.cache import compiled_rota
from commands.context import Context, Refused, UsageError
from commands.parsing import mention_id
from rota.resolve import CompiledRota, Shift
from rota.spec import RotaSpec
from rota.store import UnknownTeam
from rota.timefmt import fmt_local


def team_rota(ctx: Context) -> CompiledRota:
    """The team's rota as the engine reads it (compiled once per distinct rota)."""
    with ctx.db.transaction() as session:
        try:
            return compiled_rota(session, ctx.team_id)
        except UnknownTeam:
            raise Refused(
                f"the team '{user_text(ctx.team_name)}' is no longer in the database"
            ) from None


def local(ctx: Context, instant: datetime) -> str:
    """An instant as the asker reads it: their local time, zone abbreviation and offset."""
    return fmt_local(instant, ctx.actor.tz if ctx.actor else "UTC")


mention = blockkit.mention


def resolve_member(token: str, spec: RotaSpec) -> str:
    """A Slack mention `<@U…>` or `@name` (a unique name prefix) to a member's Slack id."""
    slack_id = mention_id(token)
    if slack_id is not None:
        return slack_id
    if not token.startswith("@") or len(token) < 2:
        raise UsageError(f"`{quote_input(token)}` is not a member; mention them like @name")
    wanted = token[1:].casefold()
    exact = [m for m in spec.members if m.name.casefold() == wanted or m.id.casefold() == wanted]
    if exact:
        return exact[0].id
    matches = [m for m in spec.members if m.name.casefold().startswith(wanted)]
    if len(matches) == 1:
        return matches[0].id
    if not matches:
        raise UsageError(
            f"nobody on {user_text(spec.team.name)} is called `{quote_input(token[1:])}`"
        )
    names = user_text(", ".join(m.name for m in matches[:10]), 300)
    raise UsageError(f"`{quote_input(token)}` could be {names}; say which")


def shift_line(spec: RotaSpec, shift: Shift, sign: str) -> str:
    """One shift in its member's own zone, for previews that several people read."""
    member = spec.member(shift.member) if shift.member in {m.id for m in spec.members} else None
    tz = member.tz if member else "UTC"
    where = user_text(shift.rotation) if shift.rotation else "team-wide"
    kind = " (override)" if shift.source == "override" else ""
    return (
        f"{sign} {mention(shift.member)} *{where}*{kind}: "
        f"{fmt_local(shift.start, tz)} → {fmt_local(shift.end, tz)}"
    )
