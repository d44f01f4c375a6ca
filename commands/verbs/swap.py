"""`/ts swap request <from> to <to> [reason…]`: ask the team to cover your shifts.

The request goes to the team channel with a Take button; the first eligible member to press it
gets the requester's rotation shifts in that window (coverage re-proved at that moment, see
`chatops.oncall.swaps`). Any member may ask and take; no manager is needed for a one-for-one
handover.
"""

from __future__ import annotations

from typing import Self

from chatops.blockkit import Reply, Visibility, actions, button, context, section
from chatops.oncall import swaps
from commands.command import Command, UtcDatetime
from commands.context import Context, Refused, UsageError
from commands.parsing import suggest, verbatim
from commands.registry import action, verb
from commands.rota_view import local, mention, shift_line, team_rota
from commands.timeparse import parse_span
from rota.timefmt import fmt_local

USAGES = {"request": "/ts swap request <from> to <to> [reason…]"}
USAGE = USAGES["request"]
TAKE = swaps.TAKE_ACTION
MAX_LINES = 15


@verb(
    "swap",
    summary="Ask the team to take your shifts over a window; the first to press Take gets them.",
    usage=USAGE,
    examples=(
        "/ts swap request tomorrow 08:00 to tomorrow 18:00 dentist",
        "/ts swap request 2027-03-22 to 2027-03-29 family visit",
    ),
    details=(
        "Posts your request to the team channel with a *Take* button. The first member who can "
        "take it without leaving a minute uncovered gets your shifts in that window; times are "
        "read in your own zone."
    ),
    subverbs=tuple(USAGES),
)
class SwapCommand(Command):
    """A `/ts swap …` line; `request` is its one action so far."""

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> SwapCommand:
        if not args:
            raise UsageError("which swap action?", USAGE)
        sub = args[0].lower()
        if sub not in USAGES:
            raise UsageError(f"unknown swap action `{sub}`{suggest(sub, list(USAGES))}", USAGE)
        return SwapRequest.parse(args[1:], ctx)


class SwapRequest(SwapCommand):
    """The asker's shifts from `start` to `end` (read in their zone), offered to the team."""

    start: UtcDatetime
    end: UtcDatetime
    reason: str = ""

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        start, end, rest = parse_span(args, ctx)
        return cls(start=start, end=end, reason=verbatim(rest))

    def run(self, ctx: Context) -> Reply:
        start, end, reason = self.start, self.end, self.reason
        opened = swaps.request_swap(
            ctx.db,
            team_id=ctx.team_id,
            actor=ctx.actor,
            start=start,
            end=end,
            reason=reason,
            now=ctx.clock(),
        )
        request = opened.request
        spec = team_rota(ctx).spec
        lines = [shift_line(spec, s, "•") for s in opened.shifts[:MAX_LINES]]
        if len(opened.shifts) > MAX_LINES:
            lines.append(f"… and {len(opened.shifts) - MAX_LINES} more")
        asks = (
            f":raising_hand: {mention(request.requester)} asks someone to take their shifts "
            f"from {local(ctx, start)} to {local(ctx, end)}" + (f" — {reason}" if reason else "")
        )
        post = Reply(
            text=asks,
            blocks=[
                section(asks),
                section("\n".join(lines)),
                context(
                    "The first member who can take it without leaving a gap gets these shifts."
                ),
                actions(button("Take", TAKE, str(request.id), style="primary")),
            ],
            visibility=Visibility.in_channel,
        )
        where = f"<#{ctx.channel}>" if ctx.channel and ctx.channel.startswith("C") else "the team"
        return Reply(
            text=(
                f":incoming_envelope: Your swap request ({len(opened.shifts)} shift(s)) is "
                f"posted to {where}; you will be mentioned there when someone takes it."
            ),
            posts=[post],
        )


@action(TAKE)
def take(value: str, ctx: Context) -> Reply:
    """The Take button: one winner; everyone else is told who took it."""
    if not value.isdigit():
        raise Refused("this Take button is broken; ask for a new swap request")
    taken = swaps.take_swap(
        ctx.db,
        team_id=ctx.team_id,
        request_id=int(value),
        actor=ctx.actor,
        now=ctx.clock(),
        horizon_days=ctx.horizon_days,
    )
    request, plan = taken.request, taken.plan
    assert request.taker is not None
    # One zone for everyone reading the channel: the requester's, whose shifts these were.
    tz = plan.new.member(request.requester).tz
    window = f"{fmt_local(request.start, tz)} to {fmt_local(request.end, tz)}"
    mine = [s for s in plan.impact.added if s.member == request.taker]
    lines = [shift_line(plan.new, s, "+") for s in mine[:MAX_LINES]]
    done = (
        f":handshake: {mention(request.taker)} took {mention(request.requester)}'s shifts "
        f"from {window}."
    )
    told = (
        f"{mention(request.requester)}, you are covered: {mention(request.taker)} now holds "
        f"your shifts from {window}. The rota is updated."
    )
    return Reply(
        text=done,
        blocks=[section(done), *([section("\n".join(lines))] if lines else [])],
        visibility=Visibility.in_channel,
        posts=[Reply(text=told, visibility=Visibility.in_channel)],
    )
