"""Turn transport-neutral `Reply` objects into Slack payloads, and build the App Home view.

Kept apart from the listeners so the shapes Slack receives can be read (and tested) in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chatops.blockkit import NO_UNFURL, Block, Reply, Visibility, context, header, section

# App Home views hold at most 100 blocks (messages 50, which `Reply` already enforces).
MAX_HOME_BLOCKS = 100


def command_response(reply: Reply) -> dict[str, Any]:
    """The response_url body answering a slash command."""
    return {
        "response_type": reply.visibility.value,
        "text": reply.text,
        "blocks": reply.blocks,
        **NO_UNFURL,
    }


def replaces_original(reply: Reply) -> bool:
    """A button's answer replaces the message only when it is a success meant for everyone.

    A refusal must not destroy the buttons others still need, and an ephemeral success (such as
    restricted case details) must never be written into a channel message.
    """
    return reply.ok and reply.visibility is Visibility.in_channel


def action_response(reply: Reply) -> dict[str, Any]:
    """The response_url body answering a button press."""
    if replaces_original(reply):
        return {
            "replace_original": True,
            "text": reply.text,
            "blocks": reply.blocks,
            **NO_UNFURL,
        }
    return {
        "replace_original": False,
        "response_type": Visibility.ephemeral.value,
        "text": reply.text,
        "blocks": reply.blocks,
        **NO_UNFURL,
    }


def home_view(sections: Sequence[Sequence[Block]] = ()) -> dict[str, Any]:
    """The App Home tab: a header and the way in, then any sections later features add."""
    blocks: list[Block] = [
        header("Trust & Safety on-call"),
        section("Type `/ts help` in any channel to see what I can do."),
    ]
    for extra in sections:
        blocks.extend(extra)
    if len(blocks) > MAX_HOME_BLOCKS:
        hidden = len(blocks) - MAX_HOME_BLOCKS + 1
        blocks = [*blocks[: MAX_HOME_BLOCKS - 1], context(f"… {hidden} more not shown")]
    return {"type": "home", "blocks": blocks}
