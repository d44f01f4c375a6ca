"""`/ts away …`: say when you are away, so the rota warns and the team is asked to cover.

Times are read in your own zone. A window already begun (`today`, or `nov 30 to dec 3` typed on
December 1st) is away from now on: the part gone by needs no cover. The team channel is asked to
take your shifts in that time two weeks and again three days before it starts
(`chatops.oncall.away`).
"""

from __future__ import annotations

from typing import Self

from chatops.blockkit import Reply, context, quote_input, section
from chatops.oncall import away
from commands.command import Command, FreeText, UtcDatetime
from commands.context import Context, UsageError
from commands.parsing import suggest, verbatim
from commands.registry import verb
from commands.rota_view import local, mention, team_rota
from commands.timeparse import parse_span
from rota.fatigue import Away, away_warnings

USAGES = {
    "add": "/ts away <day> | <from> to <to> | <from> for <duration> [reason…]",
    "list": "/ts away list",
    "cancel": "/ts away cancel <id>",
}
USAGE = "/ts away <day> | <from> to <to> | <from> for <duration> [reason…] | list | cancel <id>"


@verb(
    "away",
    summary="Say when you are away; the rota warns about your shifts then and asks for cover.",
    usage=USAGE,
    examples=(
        "/ts away 2027-04-01 to 2027-04-15 holiday",
        "/ts away fri dentist",
        "/ts away dec 28 for 3 days",
        "/ts away list",
        "/ts away cancel 3",
    ),
    details="\n".join(f"`{u}`" for u in USAGES.values())
    + "\nThe team channel is asked to take your shifts two weeks and three days ahead.",
    subverbs=("list", "cancel"),
)
class AwayCommand(Command):
    """A `/ts away …` line: a new away period, or `list` / `cancel`."""

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> AwayCommand:
        if not args:
            raise UsageError("when are you away?", USAGE)
        sub = args[0].lower()
        if sub == "list":
            if len(args) > 1:
                raise UsageError(f"unexpected `{quote_input(verbatim(args[1:]))}`", USAGES["list"])
            return AwayList()
        if sub == "cancel":
            if len(args) != 2 or not args[1].lstrip("#").isdigit():
                raise UsageError("say which away period, by its number", USAGES["cancel"])
            return AwayCancel(away_id=int(args[1].lstrip("#")))
        try:
            return AwayAdd.parse(args, ctx)
        except UsageError as error:
            hint = suggest(sub, ["list", "cancel"])
            if hint:  # "away lst": a mistyped word, not a time
                raise UsageError(f"unknown `{quote_input(args[0])}`{hint}", USAGE) from None
            raise UsageError(error.reason, USAGES["add"]) from None


class AwayAdd(AwayCommand):
    start: UtcDatetime
    end: UtcDatetime
    reason: FreeText = ""

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        start, end, rest = parse_span(args, ctx, whole_days=True)
        now = ctx.clock()
        if start < now < end:  # `today`, or days already begun: away from now on
            start = now
        return cls(start=start, end=end, reason=verbatim(rest))

    def run(self, ctx: Context) -> Reply:
        with ctx.db.transaction() as session:
            row = away.add_away(
                session,
                team_id=ctx.team_id,
                actor=ctx.actor,
                start=self.start,
                end=self.end,
                reason=self.reason,
                now=ctx.clock(),
            )
        assert row.id is not None
        clash = away_warnings(
            team_rota(ctx), [Away(row.id, row.member, row.start, row.end)], row.start, row.end
        )
        shifts = len(clash[0].spans) if clash else 0
        text = (
            f":palm_tree: Away #{row.id} noted: {local(ctx, row.start)} → {local(ctx, row.end)}. "
            + (
                f"You have {shifts} shift(s) then; the team will be asked to take them "
                f"{away.when_asked(row.start, ctx.clock())}."
                if shifts
                else "You have no shift then."
            )
        )
        return Reply(text=text)


class AwayList(AwayCommand):
    def run(self, ctx: Context) -> Reply:
        with ctx.db.transaction() as session:
            rows = away.list_away(session, team_id=ctx.team_id, now=ctx.clock())
        if not rows:
            return Reply(text="Nobody on the team is away now or later.")
        lines = [
            f"#{r.id} {mention(r.member)}: {local(ctx, r.start)} → {local(ctx, r.end)}"
            + (f" — {away.shown_reason(r.reason)}" if r.reason else "")
            for r in rows[:40]
        ]
        return Reply(
            text=f"{len(rows)} away period(s)",
            blocks=[
                section("*Away*\n" + "\n".join(lines)),
                context(f"Times in {ctx.actor.tz if ctx.actor else 'UTC'}."),
            ],
        )


class AwayCancel(AwayCommand):
    away_id: int

    def run(self, ctx: Context) -> Reply:
        with ctx.db.transaction() as session:
            row = away.cancel_away(
                session, team_id=ctx.team_id, actor=ctx.actor, away_id=self.away_id, now=ctx.clock()
            )
        return Reply(text=f"Away #{row.id} of {mention(row.member)} is cancelled.")
