"""`/ts shifts [@member] [days:N]`: upcoming shifts, in the asker's zone."""

from __future__ import annotations

from datetime import timedelta
from typing import Self

from pydantic import Field

from chatops.blockkit import Reply, context, header, quote_input, section, user_text
from commands.command import Command, SlackId
from commands.context import Context, UsageError
from commands.names import UnknownName
from commands.parsing import raw, refuse_near_option
from commands.registry import verb
from commands.rota_view import local, mention, read_member, team_rota
from rota.spec import RotaSpec

USAGE = "/ts shifts [@member] [days:N]"
MAX_DAYS = 60
MAX_LINES = 40


def _member(words: list[str], spec: RotaSpec, me: str | None) -> tuple[str, int]:
    """The member named at the start of `words`. A plain word that names nobody is just
    unexpected (`everyone`); an `@name`, or a name several share, gets the matcher's answer."""
    try:
        return read_member(words, spec, me)
    except UsageError as error:
        if words[0].startswith(("@", "<")) or not isinstance(error.__cause__, UnknownName):
            raise
        raise UsageError(f"unexpected `{quote_input(words[0])}`", USAGE) from None


@verb(
    "shifts",
    summary="Upcoming shifts: yours, someone else's, or the whole team's.",
    usage=USAGE,
    examples=("/ts shifts", "/ts shifts @amira", "/ts shifts all days:3"),
    details="Shows the next 7 days by default (at most 60); times in your own time zone.",
)
class Shifts(Command):
    """Whose shifts (`member` None: the whole team's) over the next `days` days."""

    member: SlackId | None
    days: int = Field(default=7, ge=1, le=MAX_DAYS)

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        assert ctx.actor is not None
        member: str | None = ctx.actor.slack_id
        days = 7
        spec = team_rota(ctx).spec
        at = 0
        while at < len(args):
            arg, at = args[at], at + 1
            if arg.lower().startswith("days:"):
                value = arg[5:]
                if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_DAYS:
                    raise UsageError(f"days must be a number from 1 to {MAX_DAYS}", USAGE)
                days = int(value)
            elif arg.lower() in {"all", "team"}:
                member = None
            else:
                refuse_near_option(raw(arg), {"days"})
                member, used = _member(args[at - 1 :], spec, ctx.asker)
                at += used - 1
        if member is not None and member not in {m.id for m in spec.members}:
            raise UsageError(
                f"{mention(member)} is not a member of {user_text(ctx.team_name)}", USAGE
            )
        return cls(member=member, days=days)

    def run(self, ctx: Context) -> Reply:
        assert ctx.actor is not None
        member, days = self.member, self.days
        start = ctx.clock()
        found = team_rota(ctx).shifts(start, start + timedelta(days=days), member=member)
        if member is None:
            whose = "The team's"
        elif member == ctx.actor.slack_id:
            whose = "Your"
        else:
            whose = f"{mention(member)}'s"
        if not found:
            return Reply(text=f"{whose} shifts: none in the next {days} days.")
        lines = [
            f"{local(ctx, s.start)} → {local(ctx, s.end)}  *{user_text(s.rotation or 'team-wide')}*"
            + (f" {mention(s.member)}" if member is None else "")
            + (" _(override)_" if s.source == "override" else "")
            for s in found[:MAX_LINES]
        ]
        more = [context(f"… and {len(found) - MAX_LINES} more")] if len(found) > MAX_LINES else []
        return Reply(
            text=f"{len(found)} shift(s) in the next {days} days",
            blocks=[
                header(f"Shifts, next {days} days"),
                section(f"{whose} shifts:\n" + "\n".join(lines)),
                *more,
                context(f"Times in {ctx.actor.tz}."),
            ],
        )
