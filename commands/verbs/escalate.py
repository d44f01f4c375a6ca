"""`/ts escalate TS-… [to @member|level N] [reason…]` and the Escalate button."""

from __future__ import annotations

from typing import Self

from pydantic import Field

from chatops.blockkit import Reply
from chatops.cases import service
from chatops.cases.pacing import check_paging_rate
from chatops.escalation.messages import ESCALATE_ACTION
from commands.command import Command, FreeText, SlackId
from commands.context import Context, UsageError
from commands.parsing import verbatim
from commands.registry import action, verb
from commands.verbs.case import CaseKey, case_word, known_key, member_words, pacing, paging_line

USAGE = "/ts escalate TS-YYYY-NNNN [to @member | level N] [reason…]"


@verb(
    "escalate",
    summary="Page the next level of a case's policy now, a given level, or one member.",
    usage=USAGE,
    examples=(
        "/ts escalate TS-2027-0042",
        "/ts escalate TS-2027-0042 level 3 needs a manager's decision",
        "/ts escalate TS-2027-0042 to @amira speaks Arabic",
    ),
    details="The case is open again until someone acknowledges; the policy's timers restart.",
)
class Escalate(Command):
    """Neither `to_level` nor `to_member`: the next level of the case's policy.

    A level stays a word (`2`, `admins`): the case's policy names its levels, and the service
    answers a level it does not have with the ones it does.
    """

    key: CaseKey
    to_level: str | None = None
    to_member: SlackId | None = None
    reason: FreeText = Field(default="", repr=False)

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        word = case_word(args, USAGE)
        rest = args[1:]
        to_level = to_member = None
        if rest and rest[0].lower() == "to":
            rest = rest[1:]
            if not rest:
                raise UsageError("`to` needs a member or a level", USAGE)
            if rest[0].lower() != "level":
                to_member, used = member_words(ctx, rest)
                rest = rest[used:]
        if rest and rest[0].lower() == "level":
            if len(rest) < 2:
                raise UsageError("`level` needs a number (or admins)", USAGE)
            to_level, rest = rest[1].lower(), rest[2:]
        return cls(
            key=known_key(word), to_level=to_level, to_member=to_member, reason=verbatim(rest)
        )

    def run(self, ctx: Context) -> Reply:
        with ctx.db.transaction() as session:
            check_paging_rate(session, **pacing(ctx))
            case, paging = service.escalate(
                session,
                team_id=ctx.team_id,
                actor=ctx.actor,
                key=self.key,
                at=ctx.clock(),
                to_level=self.to_level,
                to_member=self.to_member,
                reason=self.reason,
            )
        return Reply(
            text=f":arrow_double_up: Escalated {case.key}. {paging_line(paging, ctx, case.key)}"
        )


@action(ESCALATE_ACTION)
def escalate_button(value: str, ctx: Context) -> Reply:
    """The button's value is the case id: the next level now, with no reason given."""
    return Escalate(key=known_key(value)).run(ctx)
