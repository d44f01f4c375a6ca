"""`/ts ical [reset|team]`: your on-call shifts in your own calendar app.

The link is shown once (only a fingerprint of it is kept); `reset` revokes it and gives a new
one. Managers get the whole team's calendar with `team` (and `team reset`).
"""

from __future__ import annotations

from typing import Self

from chatops.blockkit import Reply, quote_input
from chatops.oncall import feeds
from commands.command import Command
from commands.context import Context, Refused, UsageError
from commands.registry import verb
from rota.timefmt import fmt_utc

USAGE = "/ts ical [reset] | /ts ical team [reset]"


@verb(
    "ical",
    summary="Subscribe to your shifts in your calendar app (a private webcal link).",
    usage=USAGE,
    examples=("/ts ical", "/ts ical reset", "/ts ical team"),
    details=(
        "Gives you a private `webcal://` link to your shifts, 7 days back to 90 days ahead, "
        "updated with every rota change. Keep it to yourself; `/ts ical reset` replaces it."
    ),
    subverbs=("reset", "team"),
)
class Ical(Command):
    team: bool = False
    reset: bool = False

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        words = [a.lower() for a in args]
        team = bool(words) and words[0] == "team"
        rest = words[1:] if team else words
        if rest not in ([], ["reset"]):
            raise UsageError(f"unexpected `{quote_input(' '.join(args))}`", USAGE)
        return cls(team=team, reset=rest == ["reset"])

    def run(self, ctx: Context) -> Reply:
        if not ctx.public_url:
            raise Refused(
                "calendar links are not set up here (CHATOPS_PUBLIC_URL is unset); "
                f"ask {ctx.admin_contact}"
            )
        with ctx.db.transaction() as session:
            issued = feeds.issue_token(
                session,
                team_id=ctx.team_id,
                actor=ctx.actor,
                now=ctx.clock(),
                team_feed=self.team,
                reset=self.reset,
            )
        whose = "the team's" if self.team else "your"
        again = "/ts ical team reset" if self.team else "/ts ical reset"
        if issued.token is None:
            return Reply(
                text=(
                    f"You already have {whose} calendar link (made {fmt_utc(issued.issued_at)}). "
                    "It is shown only once, so it cannot be shown again: use it from where you "
                    f"saved it, or `{again}` for a new one (the old one stops working)."
                )
            )
        url = feeds.feed_url(ctx.public_url, issued.token)
        revoked = " The old link no longer works." if issued.revoked else ""
        return Reply(
            text=(
                f":calendar: Subscribe to {whose} on-call calendar with this private link "
                f"(shown once; keep it to yourself):\n{url}{revoked}"
            )
        )
