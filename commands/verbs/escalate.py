"""`/ts escalate TS-… [to @member|level N] [reason…]` and the Escalate button."""

from __future__ import annotations

from chatops.cases import service
from chatops.escalation.messages import ESCALATE_ACTION
from commands.context import Context, UsageError
from commands.registry import action, verb
from commands.reply import Reply
from commands.verbs.case import case_key, member_arg, paging_line

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
def escalate(args: list[str], ctx: Context) -> Reply:
    key = case_key(args, USAGE)
    rest = args[1:]
    to_level = to_member = None
    if rest and rest[0].lower() == "to":
        rest = rest[1:]
        if not rest:
            raise UsageError("`to` needs a member or a level", USAGE)
        if rest[0].lower() != "level":
            to_member, rest = member_arg(ctx, rest[0]), rest[1:]
    if rest and rest[0].lower() == "level":
        if len(rest) < 2:
            raise UsageError("`level` needs a number (or admins)", USAGE)
        to_level, rest = rest[1].lower(), rest[2:]
    return run(key, ctx, to_level=to_level, to_member=to_member, reason=" ".join(rest))


@action(ESCALATE_ACTION)
def escalate_button(value: str, ctx: Context) -> Reply:
    return run(value, ctx, to_level=None, to_member=None, reason="")


def run(
    key: str, ctx: Context, *, to_level: str | None, to_member: str | None, reason: str
) -> Reply:
    with ctx.db.transaction() as session:
        case, paging = service.escalate(
            session,
            team_id=ctx.team_id,
            actor=ctx.actor,
            key=key,
            at=ctx.clock(),
            to_level=to_level,
            to_member=to_member,
            reason=reason,
        )
    return Reply(text=f":arrow_double_up: Escalated {case.key}. {paging_line(paging, ctx)}")
