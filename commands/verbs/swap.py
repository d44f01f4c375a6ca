"""`/ts swap request <from> to <to> [reason…]`: ask the team to cover your shifts;
`/ts swap cancel <id>` withdraws the request.

The request goes to the team channel with a Take button; the first eligible member to press it
gets the requester's rotation shifts in that window (coverage re-proved at that moment, see
`chatops.oncall.swaps`). Any member may ask and take; no manager is needed for a one-for-one
handover.
"""

from __future__ import annotations

from typing import Self

from chatops.blockkit import (
    Reply,
    Visibility,
    actions,
    button,
    context,
    quote_input,
    section,
    user_text,
)
from chatops.oncall import swaps
from commands.command import MAX_ROW_ID, Command, FreeText, UtcDatetime, button_id
from commands.context import Context, UsageError
from commands.parsing import suggest, verbatim
from commands.registry import action, verb
from commands.rota_view import local, mention, shift_line, team_rota
from commands.timeparse import parse_span
from rota.timefmt import fmt_local

USAGES = {
    "request": "/ts swap request <from> to <to> [reason…]",
    "cancel": "/ts swap cancel <request number>",
}
USAGE = "/ts swap request|cancel …"
TAKE = swaps.TAKE_ACTION
CANCEL = "swap_cancel"
MAX_LINES = 15


@verb(
    "swap",
    summary="Ask the team to take your shifts over a window; the first to press Take gets them.",
    usage=USAGE,
    examples=(
        "/ts swap request tomorrow 08:00 to tomorrow 18:00 dentist",
        "/ts swap request 2027-03-22 to 2027-03-29 family visit",
        "/ts swap cancel 12",
    ),
    details=(
        "Posts your request to the team channel with a *Take* button. The first member who can "
        "take it without leaving a minute uncovered gets your shifts in that window; times are "
        "read in your own zone. A request expires when its window begins; until then you can "
        "withdraw it with `/ts swap cancel <number>` or its *Cancel* button.\n"
        + "\n".join(f"`{u}`" for u in USAGES.values())
    ),
    subverbs=tuple(USAGES),
)
class SwapCommand(Command):
    """A `/ts swap …` line: `request` or `cancel`."""

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> SwapCommand:
        if not args:
            raise UsageError("which swap action? request or cancel", USAGE)
        sub = args[0].lower()
        if sub not in USAGES:
            raise UsageError(
                f"unknown swap action `{quote_input(sub)}`{suggest(sub, list(USAGES))}", USAGE
            )
        try:
            if sub == "cancel":
                return SwapCancel.parse(args[1:], ctx)
            return SwapRequest.parse(args[1:], ctx)
        except UsageError as error:
            raise UsageError(error.reason, error.usage or USAGES[sub]) from None


class SwapRequest(SwapCommand):
    """The asker's shifts from `start` to `end` (read in their zone), offered to the team."""

    start: UtcDatetime
    end: UtcDatetime
    reason: FreeText = ""

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        start, end, rest = parse_span(args, ctx, whole_days=True)
        return cls(start=start, end=end, reason=verbatim(rest))

    def run(self, ctx: Context) -> Reply:
        start, end, reason = self.start, self.end, self.reason
        with ctx.db.transaction() as session:
            opened = swaps.request_swap(
                session,
                team_id=ctx.team_id,
                actor=ctx.actor,
                start=start,
                end=end,
                reason=reason,
                now=ctx.clock(),
            )
        request = opened.request
        start = request.start  # "now" is the instant the request was made
        spec = team_rota(ctx).spec
        lines = [shift_line(spec, s, "•") for s in opened.shifts[:MAX_LINES]]
        if len(opened.shifts) > MAX_LINES:
            lines.append(f"… and {len(opened.shifts) - MAX_LINES} more")
        asks = (
            f":raising_hand: {mention(request.requester)} asks someone to take their shifts "
            f"from {local(ctx, start)} to {local(ctx, end)}"
            + (f" — {user_text(reason, 500)}" if reason else "")
        )
        post = Reply(
            text=asks,
            blocks=[
                section(asks),
                section("\n".join(lines)),
                context(
                    "The first member who can take it without leaving a gap gets these shifts."
                ),
                actions(
                    button("Take", TAKE, str(request.id), style="primary"),
                    button("Cancel (requester only)", CANCEL, str(request.id)),
                ),
            ],
            visibility=Visibility.in_channel,
        )
        where = f"<#{ctx.channel}>" if ctx.channel and ctx.channel.startswith("C") else "the team"
        return Reply(
            text=(
                f":incoming_envelope: Your swap request ({len(opened.shifts)} shift(s)) is "
                f"posted to {where}; you will be mentioned there when someone takes it. It is "
                f"request {request.id}: withdraw it with `/ts swap cancel {request.id}`; it "
                + (
                    f"stays open until {local(ctx, end)}, and whoever takes it covers from then on."
                    if swaps.asked_from_now(request)
                    else f"expires at {local(ctx, start)}."
                )
            ),
            posts=[post],
        )


class SwapCancel(SwapCommand):
    """Withdraw one's own open request, by the number its confirmation gave."""

    request_id: int

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        number = args[0].lstrip("#") if len(args) == 1 else ""
        if not (number.isascii() and number.isdigit()) or not 1 <= int(number) <= MAX_ROW_ID:
            raise UsageError("name the request by its number, e.g. `/ts swap cancel 12`")
        return cls(request_id=int(number))

    def run(self, ctx: Context) -> Reply:
        return _cancel(self.request_id, ctx)


def _cancel(request_id: int, ctx: Context, *, button: bool = False) -> Reply:
    """Typed: the asker is told and the channel too. Pressed: the request's post itself is
    replaced by the notice, so its Take button goes away."""
    with ctx.db.transaction() as session:
        request = swaps.cancel_swap(
            session, team_id=ctx.team_id, request_id=request_id, actor=ctx.actor, now=ctx.clock()
        )
    window = f"{local(ctx, request.start)} to {local(ctx, request.end)}"
    told = (
        f":no_entry_sign: {mention(request.requester)} withdrew their swap request "
        f"{request.id} ({window}); nothing to take."
    )
    if button:
        return Reply(text=told, visibility=Visibility.in_channel)
    return Reply(
        text=f":no_entry_sign: Swap request {request.id} is cancelled; your shifts stay yours.",
        posts=[Reply(text=told, visibility=Visibility.in_channel)],
    )


@action(CANCEL)
def cancel_button(value: str, ctx: Context) -> Reply:
    """The Cancel button on the channel post: only the requester's press counts."""
    request_id = button_id(value, "this Cancel button is broken; use `/ts swap cancel <number>`")
    return _cancel(request_id, ctx, button=True)


@action(TAKE)
def take(value: str, ctx: Context) -> Reply:
    """The Take button: one winner; everyone else is told who took it."""
    request_id = button_id(value, "this Take button is broken; ask for a new swap request")
    with ctx.db.transaction() as session:
        taken = swaps.take_swap(
            session,
            team_id=ctx.team_id,
            request_id=request_id,
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
