"""What a page says, rendered when the page is created.

Channel posts about a restricted case carry its id, type and severity only (docs/architecture.md,
invariant 6); its
DMs do not carry the text either, but point to `/ts case show`, which checks access and audits
the view. Unrestricted cases show their summary (escaped and defanged); details never leave
`/ts case show`.
`reason` arrives as message text: its typed part was passed through `user_text` by the service.
"""

from __future__ import annotations

from chatops.blockkit import Block, actions, button, context, fields, mention, section, user_text

ACK_ACTION = "case.ack"
ESCALATE_ACTION = "case.escalate"
TAKE_ACTION = "case.take"

_ROLE_LINE = {
    "responder": "You are paged",
    "fallback": "Nobody is on call, so you are paged as a manager",
    "advisor": "You are asked to advise in {language}",
    "direct": "You are asked to help",
    "repeat": "Still unacknowledged after the last level, you are paged again",
}
#: What a repeat page calls its level: it goes to the admins and the on-call alike.
REPEAT_LEVEL = "repeat: admins and on-call"


def headline(key: str, case_type: str, severity: str) -> str:
    return f"{key} · {case_type} · {severity}"


def level_name(level: str) -> str:
    if level.isdigit():
        return f"level {level}"
    return level


def _buttons(key: str, *, take: bool = False) -> Block:
    """Acknowledge and Escalate; channel posts add Take case, since anyone there may pick it up."""
    return actions(
        button("Acknowledge", ACK_ACTION, key, style="primary"),
        button("Escalate", ESCALATE_ACTION, key, style="danger"),
        *([button("Take case", TAKE_ACTION, key)] if take else []),
    )


def _summary_line(summary: str, restricted: bool, key: str) -> str:
    if restricted:
        return f"Restricted case: read it with `/ts case show {key}` (the view is recorded)."
    return user_text(summary)


def direct_message(
    *,
    key: str,
    case_type: str,
    severity: str,
    summary: str,
    restricted: bool,
    language: str | None,
    level: str,
    role: str,
    reason: str,
) -> tuple[str, list[Block]]:
    """The DM to one paged person."""
    lead = _ROLE_LINE.get(role, "You are paged").format(language=language or "")
    title = headline(key, case_type, severity)
    shown = REPEAT_LEVEL if role == "repeat" else level_name(level)
    text = f":rotating_light: {lead} ({shown}): *{title}*"
    body = _summary_line(summary, restricted, key)
    pairs = [("Type", case_type), ("Severity", severity), ("Level", shown)]
    if language:
        pairs.append(("Language", language))
    blocks = [section(text), section(body), fields(pairs)]
    if reason:
        blocks.append(context(reason))
    blocks.append(_buttons(key))
    return f"{text}\n{body}", blocks


def channel_post(
    *,
    key: str,
    case_type: str,
    severity: str,
    summary: str,
    restricted: bool,
    level: str,
    paged: list[str],
    reason: str,
    opened: bool,
) -> tuple[str, list[Block]]:
    """The team channel's announcement of an opening or an escalation step."""
    title = headline(key, case_type, severity)
    verb = "New case" if opened else "Escalated"
    who = ", ".join(mention(p) for p in paged) or "nobody"
    text = f":rotating_light: {verb} *{title}*: paging {level_name(level)}: {who}"
    blocks = [section(text)]
    shown = user_text(summary)
    if not restricted:
        blocks.append(section(shown))
    if reason:
        blocks.append(context(reason))
    blocks.append(_buttons(key, take=True))
    return text if restricted else f"{text}\n{shown}", blocks
