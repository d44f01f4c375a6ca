"""`/ts exposure [@member] [week|month]`: time spent on graphic cases, per local day.

Your own figures, or (managers) anyone's. The answer is only ever the asker's (ephemeral in
Slack, the console's own screen): the figures never go to a channel, and neither the command
nor the service logs or audits them.
"""

from __future__ import annotations

from typing import Self

from chatops.blockkit import Reply, context, quote_input, section
from chatops.cases import exposure
from chatops.cases.wellbeing import hours_text
from commands.command import Command, SlackId
from commands.context import Context, UsageError
from commands.parsing import raw, suggest
from commands.registry import verb
from commands.rota_view import mention, read_member, team_rota

USAGE = "/ts exposure [@member] [week|month]"
PERIODS = {"week": 7, "month": 30}
_FILLERS = frozenset({"last", "past", "this"})


@verb(
    "exposure",
    summary="Your time on graphic cases per day (managers: anyone's). Only you see it.",
    usage=USAGE,
    examples=("/ts exposure", "/ts exposure month", "/ts exposure @amira week"),
    details=(
        "Counts the time you held a case of a type your team marks as graphic, from taking, "
        "acknowledging or being given it to resolving it or handing it over, split at your "
        "own midnights. `week`: the last 7 days (the default); `month`: the last 30. "
        "Only you and the managers can see these figures."
    ),
    subverbs=tuple(PERIODS),
)
class Exposure(Command):
    member: SlackId
    days: int = PERIODS["week"]

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        assert ctx.actor is not None
        member, days, named = ctx.actor.slack_id, PERIODS["week"], False
        at, period = 0, None
        while at < len(args):
            word = args[at]
            if word.lower() in _FILLERS and at + 1 < len(args) and args[at + 1].lower() in PERIODS:
                at += 1  # `last week`, `past month`
            elif word.lower() in PERIODS:
                if period is not None:
                    raise UsageError(f"give one period, not `{period}` and `{raw(word)}`", USAGE)
                period, days, at = raw(word), PERIODS[word.lower()], at + 1
            elif not named:
                try:
                    member, used = read_member(args[at:], team_rota(ctx).spec, me=ctx.asker)
                except UsageError as error:
                    hint = suggest(word.lower(), list(PERIODS))
                    if hint and not raw(word).startswith(("@", "<")):
                        raise UsageError(
                            f"unexpected `{quote_input(raw(word))}`{hint}", USAGE
                        ) from None
                    raise UsageError(error.reason, USAGE) from None
                named, at = True, at + used
            else:
                raise UsageError(f"unexpected `{quote_input(raw(word))}`", USAGE)
        return cls(member=member, days=days)

    def run(self, ctx: Context) -> Reply:
        assert ctx.actor is not None
        with ctx.db.transaction() as session:
            found = exposure.figures(
                session,
                team_id=ctx.team_id,
                actor=ctx.actor,
                member=self.member,
                days=self.days,
                now=ctx.clock(),
            )
        mine = found.member == ctx.actor.slack_id
        whose = "Your" if mine else f"{mention(found.member)}'s"
        lines = [
            f"{day.strftime('%a %d %b')}: {hours_text(spent) if spent else '—'}"
            for day, spent in reversed(found.days.items())
            if spent or self.days <= PERIODS["week"]
        ]
        period = "7 days" if self.days == PERIODS["week"] else f"{self.days} days"
        summary = (
            f"{whose} time on graphic cases, the last {period}: {hours_text(found.total)}. "
            f"Today so far: {hours_text(found.today)} of a daily cap of {hours_text(found.cap)}."
        )
        note = (
            "Only you and the managers can see these figures."
            if mine
            else "Only they and the managers can see these figures."
        )
        return Reply(
            text=summary,
            blocks=[
                section(summary),
                section("\n".join(lines) if lines else "No time on graphic cases."),
                context(f"Days in {found.tz}. {note}"),
            ],
        )
