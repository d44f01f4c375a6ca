"""`/ts shifts [@member] [days:N]`: upcoming shifts, in the asker's zone."""

from __future__ import annotations

from datetime import timedelta
from typing import Self

from pydantic import Field

from chatops.blockkit import Reply, context, header, section
from commands.command import Command, SlackId
from commands.context import Context, UsageError
from commands.parsing import mention_id, refuse_near_option
from commands.registry import verb
from commands.rota_view import local, mention, team_rota

USAGE = "/ts shifts [@member] [days:N]"
MAX_DAYS = 60
MAX_LINES = 40


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
        for arg in args:
            if arg.lower().startswith("days:"):
                value = arg[5:]
                if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_DAYS:
                    raise UsageError(f"days must be a number from 1 to {MAX_DAYS}", USAGE)
                days = int(value)
            elif arg.lower() in {"all", "team"}:
                member = None
            elif (slack_id := mention_id(arg)) is not None:
                member = slack_id
            else:
                refuse_near_option(arg, {"days"})
                raise UsageError(f"unexpected `{arg}`", USAGE)
        if member is not None and member not in {m.id for m in team_rota(ctx).spec.members}:
            raise UsageError(f"{mention(member)} is not a member of {ctx.team_name}", USAGE)
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
            f"{local(ctx, s.start)} → {local(ctx, s.end)}  *{s.rotation or 'team-wide'}*"
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
