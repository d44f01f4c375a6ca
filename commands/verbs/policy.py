"""`/ts policy show`: who gets paged for which cases, and how fast it escalates."""

from __future__ import annotations

from typing import Self

from chatops.blockkit import Reply, context, header, quote_input, section
from chatops.escalation.policy import PolicySpec, ladder
from chatops.escalation.store import effective_policies
from commands.command import Command
from commands.context import Context, UsageError
from commands.registry import verb

USAGE = "/ts policy show"


@verb(
    "policy",
    summary="Show the team's escalation policies.",
    usage=USAGE,
    examples=("/ts policy show",),
    details="Policies are part of the rota file (`policies:`); admins change them by importing it.",
    subverbs=("show",),
)
class PolicyShow(Command):
    """`show` is the only policy action (and the one meant when none is named)."""

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        if [a.lower() for a in args] not in ([], ["show"]):
            raise UsageError(f"unknown policy action `{quote_input(' '.join(args))}`", USAGE)
        return cls()

    def run(self, ctx: Context) -> Reply:
        with ctx.db.transaction() as session:
            policies, built_in = effective_policies(session, team_id=ctx.team_id)
        blocks = [header(f"Escalation policies of {ctx.team_name}")]
        lines: list[str] = []
        for p in policies:
            text = describe(p)
            blocks.append(section(text))
            lines.append(text)
        if built_in:
            note = "The team defines no policy: these built-in ones apply."
            blocks.append(context(note))
            lines.append(note)
        return Reply(text="\n".join(lines), blocks=blocks)


def describe(policy: PolicySpec) -> str:
    """One policy as a few lines: what it matches, then each level with its timeout."""
    types = ", ".join(policy.types) or "every type"
    severities = ", ".join(policy.severities) or "every severity"
    lines = [f"*{policy.name}* — {types}; {severities}"]
    for number, level in enumerate(policy.levels, start=1):
        who = ", ".join(t.describe() for t in level.targets)
        lines.append(f"{number}. {who} — wait {level.timeout}")
    if policy.repeat:
        times = "once" if policy.repeat == 1 else f"{policy.repeat} times"
        lines.append(f"then repeat the levels {times}")
    lines.append(f"then the admins ({len(ladder(policy))} steps in all)")
    if policy.final_repeat:
        lines.append(f"then the admins and the on-call every {policy.final_repeat} until acked")
    elif not policy.severities or {"sev1", "sev2"} & set(policy.severities):
        lines.append("then, for sev1/sev2, the admins and the on-call every 15m until acked")
    if policy.working_hours:
        lines.append("pages wait for each person's working hours (09:00–18:00 Mon–Fri)")
    return "\n".join(lines)
