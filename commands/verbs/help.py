"""`/ts help [verb]`: the language taught by example."""

from __future__ import annotations

from typing import Self

from chatops.blockkit import Reply, context, fields, header, quote_input, section
from commands.command import Command
from commands.context import Context, UsageError
from commands.parsing import suggest
from commands.registry import VERBS, verb

USAGE = "/ts help [command]"


@verb(
    "help",
    summary="Show the commands, or how to use one of them.",
    usage=USAGE,
    examples=("/ts help", "/ts help escalate"),
    members_only=False,
)
class Help(Command):
    """`topic` None: every command; else a registered verb's name (checked when read)."""

    topic: str | None = None

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        if len(args) > 1:
            raise UsageError("help takes at most one command name")
        if not args:
            return cls()
        name = args[0].lower()
        if name not in VERBS:
            raise UsageError(f"no command `{quote_input(name)}`{suggest(name, sorted(VERBS))}")
        return cls(topic=name)

    def run(self, ctx: Context) -> Reply:
        if self.topic is not None:
            return _one(self.topic)
        rows = [
            f"`/ts {v.name}` — {v.summary}" for v in sorted(VERBS.values(), key=lambda v: v.name)
        ]
        blocks = [
            header("/ts — Trust & Safety on-call"),
            section("\n".join(rows)),
            context("Type `/ts help <command>` for its usage and examples."),
        ]
        return Reply(text="\n".join(["/ts commands:", *rows]), blocks=blocks)


def _one(name: str) -> Reply:
    found = VERBS[name]
    pairs = [("Usage", f"`{found.usage}`")]
    if found.examples:
        pairs.append(("Examples", "\n".join(f"`{e}`" for e in found.examples)))
    blocks = [header(f"/ts {found.name}"), section(found.summary), fields(pairs)]
    if found.details:
        blocks.append(section(found.details))
    lines = [f"/ts {found.name} — {found.summary}", f"Usage: {found.usage}"]
    lines += [f"  {e}" for e in found.examples]
    if found.details:
        lines.append(found.details)
    return Reply(text="\n".join(lines), blocks=blocks)
