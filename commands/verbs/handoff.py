"""`/ts handoff [accept | note <text…>]` and the Accept handoff button.

Parsing and rendering only; the rules (who may accept, where a note goes, what an early post
does) live in `chatops.handoff.service`.
"""

from __future__ import annotations

from typing import Self
from zoneinfo import ZoneInfo

from pydantic import Field

from chatops.blockkit import Reply, quote_input, user_text
from chatops.handoff import verbs as service
from chatops.handoff.messages import ACCEPT_ACTION
from commands.command import Command, FreeText, button_id
from commands.context import Context, UsageError
from commands.parsing import verbatim
from commands.registry import action, verb
from commands.rota_view import local, mention

USAGE = "/ts handoff [accept | note [rotation:NAME] <text…>]"
NOTE_USAGE = "/ts handoff note [rotation:NAME] <text…>"


@verb(
    "handoff",
    summary="Post your handoff now, accept the one coming to you, or leave a note for it.",
    usage=USAGE,
    examples=(
        "/ts handoff",
        "/ts handoff accept",
        "/ts handoff note TS-2027-0042 waits for the police's callback, ref 7731",
    ),
    details=(
        "`/ts handoff` (outgoing): post the handoff message now instead of at the boundary. "
        "`accept` (incoming): take over; until you do, the outgoing responder stays on call "
        "and is paged with you, and after the deadline they and the managers are paged. "
        "`note`: added to your own next handoff (where you go off call, or come on), or to the "
        "next handoff of `rotation:NAME`. Notes are posted in the team channel: name "
        "restricted cases by id only."
    ),
    subverbs=("accept", "note"),
)
class HandoffCommand(Command):
    """A `/ts handoff …` line: alone it posts your handoff now, else `accept` or `note`."""

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> HandoffCommand:
        if not args:
            return HandoffPost()
        sub = SUBVERBS.get(args[0].lower())
        if sub is None:
            raise UsageError(f"unknown `handoff {quote_input(args[0])}`", USAGE)
        return sub.parse(args[1:], ctx)


class HandoffPost(HandoffCommand):
    """The outgoing responder posts their handoff before the boundary."""

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        if args:
            raise UsageError(f"unexpected `{quote_input(' '.join(args))}`", USAGE)
        return cls()

    def run(self, ctx: Context) -> Reply:
        with ctx.db.transaction() as session:
            h = service.post_now(session, team_id=ctx.team_id, actor=ctx.actor, at=ctx.clock())
        rotation = user_text(h.rotation)
        return Reply(
            text=f":arrows_counterclockwise: Your *{rotation}* handoff to "
            f"{mention(h.incoming)} (at {local(ctx, h.at)}) is being posted in the team channel. "
            "You stay on call until they accept."
        )


class HandoffAccept(HandoffCommand):
    """`handoff_id` None: the handoff coming to the asker (typed); a button names its own."""

    handoff_id: int | None = None

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        if args:
            raise UsageError("accept takes nothing more", USAGE)
        return cls()

    def run(self, ctx: Context) -> Reply:
        now = ctx.clock()
        with ctx.db.transaction() as session:
            h = service.accept(
                session, team_id=ctx.team_id, actor=ctx.actor, at=now, handoff_id=self.handoff_id
            )
        rotation = user_text(h.rotation)
        going = ", ".join(mention(m) for m, _, _ in h.outgoing_members()) or "nobody"
        late = " (after the deadline)" if h.escalated_at is not None else ""
        when = "from" if now >= h.at else f"at {local(ctx, h.at)} from"
        post = Reply(
            text=f":white_check_mark: {mention(h.incoming)} accepted the *{rotation}* handoff "
            f"from {going}{late}."
        )
        return Reply(
            text=f":white_check_mark: You take over *{rotation}* {when} {going}.",
            posts=[post],
        )


class HandoffNote(HandoffCommand):
    """A note for one handoff (posted in the channel): the asker's own next one, or the next of
    the rotation named by a leading `rotation:NAME`."""

    text: FreeText = Field(repr=False)
    rotation: str | None = None

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        rotation = None
        if args and args[0].lower().startswith("rotation:"):
            rotation = args[0].partition(":")[2].strip()
            if not rotation:
                raise UsageError(
                    "`rotation:` needs a rotation name, e.g. rotation:apac", NOTE_USAGE
                )
            args = args[1:]
        if not args:
            raise UsageError("a note needs some text", NOTE_USAGE)
        return cls(text=verbatim(args), rotation=rotation)

    def run(self, ctx: Context) -> Reply:
        with ctx.db.transaction() as session:
            _, target = service.add_note(
                session,
                team_id=ctx.team_id,
                actor=ctx.actor,
                at=ctx.clock(),
                text=self.text,
                rotation=self.rotation,
            )
        tz = ctx.actor.tz if ctx.actor else "UTC"
        when = f"{local(ctx, target.at)} ({target.at.astimezone(ZoneInfo(tz)):%a}, your time)"
        me = ctx.actor.slack_id if ctx.actor else ""
        rotation = user_text(target.rotation)
        if self.rotation is not None:
            where = f"the *{rotation}* handoff at {when}"
        elif me in [target.incoming, *target.outgoing_ids]:
            where = f"your *{rotation}* handoff at {when}"
        else:
            where = f"the team's next handoff, *{rotation}* at {when}"
        return Reply(
            text=f":memo: Your note will be in {where}. It will be posted in the team channel: "
            "name restricted cases by id only."
        )


SUBVERBS: dict[str, type[HandoffCommand]] = {"accept": HandoffAccept, "note": HandoffNote}


@action(ACCEPT_ACTION)
def accept_button(value: str, ctx: Context) -> Reply:
    """The button names the very handoff it was posted for."""
    handoff_id = button_id(value, "this button does not name a handoff")
    return HandoffAccept(handoff_id=handoff_id).run(ctx)
