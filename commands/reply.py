"""What a command answers: Block Kit plus a plain-text fallback, and who should see it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from commands.blocks import MAX_BLOCKS, Block, context, section


class Visibility(StrEnum):
    ephemeral = "ephemeral"  # only the person who asked
    in_channel = "in_channel"  # the channel where the command was typed


@dataclass
class Reply:
    """A reply to one command. `posts` are extra messages for the team channel."""

    text: str
    blocks: list[Block] = field(default_factory=list)
    visibility: Visibility = Visibility.ephemeral
    posts: list[Reply] = field(default_factory=list)
    ok: bool = True

    def __post_init__(self) -> None:
        if not self.blocks:
            self.blocks = [section(self.text)]
        if len(self.blocks) > MAX_BLOCKS:
            hidden = len(self.blocks) - MAX_BLOCKS + 1
            self.blocks = [*self.blocks[: MAX_BLOCKS - 1], context(f"… {hidden} more not shown")]


def internal_error_reply(cid: str) -> Reply:
    """Our own failure: the reference to quote (also in the logs), never a traceback."""
    return Reply(
        text=(
            ":x: Something went wrong on our side and nothing was changed. "
            f"Quote reference `{cid}` when you report it."
        ),
        ok=False,
    )


def error_reply(reason: str, usage: str | None = None) -> Reply:
    """A user's mistake: one line of reason, then the usage; nothing was changed."""
    lines = [f":warning: {reason}"]
    if usage:
        lines.append(f"Usage: `{usage}`")
    return Reply(text="\n".join(lines), ok=False)
