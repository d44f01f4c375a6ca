"""Reading the team's rota for a command, and showing instants in the asker's own zone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from chatops import blockkit
from chatops.blockkit import user_text
from chatops.oncall.cache import compiled_rota
from commands.context import Context, Refused, UsageError
from commands.names import NameNotFound, Person, match_words
from commands.parsing import mention_id
from rota.resolve import CompiledRota, Shift
from rota.spec import RotaSpec
from rota.store import UnknownTeam
from rota.timefmt import fmt_local


def team_rota(ctx: Context) -> CompiledRota:
    """The team's rota as the engine reads it (compiled once per distinct rota)."""
    with ctx.db.reading() as session:
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
    """A member named by `token` (any form `commands.names` reads) as their Slack id.

    A mention of someone outside the team is passed on as their id: the service, or `rota add`
    for a newcomer, answers it in its own words.
    """
    return read_member([token], spec)[0]


def read_member(words: Sequence[str], spec: RotaSpec, me: str | None = None) -> tuple[str, int]:
    """The member named at the start of `words` as a Slack id, and how many words it took
    (`@Sofía Martínez` is two); a name nobody or several answer to is a `UsageError`. `me`:
    the asker's Slack id, so `me` names them."""
    slack_id = mention_id(words[0]) if words else None
    if slack_id is not None:
        return slack_id, 1
    people = [Person(m.id, m.name) for m in spec.members]
    try:
        person, used = match_words(words, people, team=spec.team.name, me=me)
    except NameNotFound as error:
        raise UsageError(str(error)) from error  # the cause tells unknown from ambiguous
    return person.slack_id, used


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
