"""Block Kit builders and `Reply`: answers are data that Slack and the console both render.

This module sits below every service and every verb (docs/architecture.md, "Layers"): services
build the messages they queue with it, commands build their answers with it, and only the edges
(chatops/slack, the console) turn them into transport calls.

Slack's limits shape these: a section's text is at most 3,000 characters and a message holds at
most 50 blocks, so `truncate` and `Reply.blocks` keep to them instead of letting Slack refuse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

Block = dict[str, Any]

SECTION_TEXT_LIMIT = 3000
FIELD_TEXT_LIMIT = 2000
MAX_FIELDS = 10
MAX_BLOCKS = 50


def truncate(text: str, limit: int = SECTION_TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": truncate(text)}


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": truncate(text, 150)}}


def section(text: str) -> Block:
    return {"type": "section", "text": mrkdwn(text)}


def fields(pairs: list[tuple[str, str]]) -> Block:
    """A section of label/value pairs (at most ten, as Slack allows)."""
    return {
        "type": "section",
        "fields": [
            {"type": "mrkdwn", "text": truncate(f"*{label}*\n{value}", FIELD_TEXT_LIMIT)}
            for label, value in pairs[:MAX_FIELDS]
        ],
    }


def context(text: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(text)]}


def divider() -> Block:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": truncate(text, 75)},
        "action_id": action_id,
        "value": truncate(value, 2000),
    }
    if style in {"primary", "danger"}:
        element["style"] = style
    return element


def actions(*buttons: Block) -> Block:
    return {"type": "actions", "elements": list(buttons)}


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
