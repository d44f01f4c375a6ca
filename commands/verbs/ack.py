"""`/ts ack TS-…` and the Acknowledge button: take the case and stop its escalation."""

from __future__ import annotations

from typing import Self

from chatops.blockkit import Reply
from chatops.cases import service
from chatops.escalation.messages import ACK_ACTION, headline
from commands.command import Command
from commands.context import Context, UsageError
from commands.registry import action, verb
from commands.rota_view import mention
from commands.verbs.case import CaseKey, case_word, known_key

USAGE = "/ts ack TS-YYYY-NNNN"


@verb(
    "ack",
    summary="Acknowledge a case: you take it, and its escalation stops.",
    usage=USAGE,
    examples=("/ts ack TS-2027-0042",),
    details="The first to acknowledge becomes the assignee unless the case already has one.",
)
class Ack(Command):
    key: CaseKey

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        word = case_word(args, USAGE)
        if len(args) > 1:
            raise UsageError("ack takes only the case id", USAGE)
        return cls(key=known_key(word))

    def run(self, ctx: Context) -> Reply:
        with ctx.db.transaction() as session:
            case = service.acknowledge(
                session, team_id=ctx.team_id, actor=ctx.actor, key=self.key, at=ctx.clock()
            )
        who = mention(case.acknowledged_by or "")
        post = Reply(
            text=f":eyes: {headline(case.key, case.type, case.severity)} acknowledged by {who}."
        )
        return Reply(
            text=f":eyes: You acknowledged {case.key}; escalation stopped. "
            f"Assignee: {mention(case.assignee or '')}.",
            posts=[post],
        )


@action(ACK_ACTION)
def ack_button(value: str, ctx: Context) -> Reply:
    """The button's value is the case id: the same command as typing `/ts ack` with it."""
    return Ack(key=known_key(value)).run(ctx)
