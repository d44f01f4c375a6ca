"""Small Block Kit builders, so replies are data that Slack and the console both render.

Slack's limits shape these: a section's text is at most 3,000 characters and a message holds at
most 50 blocks, so `truncate` and `Reply.blocks` keep to them instead of letting Slack refuse.
"""

from __future__ import annotations

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
