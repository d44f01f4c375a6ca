"""The *Report to Trust & Safety* message shortcut: check the message, open the short form.

Runs in Bolt's listener thread right after the acknowledgement, as the modal must open while
the trigger id lives (3 seconds). The case itself is opened when the form comes back
(`commands.verbs.emergency.report_message_form`), through the same work path as every form.

What the form carries back is where the message is and who wrote it, never its text. The link
comes from `chat.getPermalink`, which also tells whether the bot can see the message at all: a
message in a conversation the bot is not in is answered with one line and nothing opens. When
Slack cannot be asked (a timeout), the link is built from the payload instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from chatops.blockkit import NO_UNFURL
from chatops.slack.client import slack_error
from commands.forms import MessageRef, permalink_for, report_view

log = logging.getLogger(__name__)

#: Slack's answers that mean the bot cannot see the message.
UNREADABLE = frozenset(
    {"channel_not_found", "message_not_found", "not_in_channel", "missing_scope", "access_denied"}
)
CANNOT_READ = (
    ":warning: I can't read that message (it is in a conversation I'm not part of), so I can't "
    "report it. Use `/ts emergency <what happened>` instead and paste the message's link."
)
BAD_PAYLOAD = ":warning: Slack didn't say which message this was, so nothing was reported."


def _get(payload: dict[str, Any], *path: str) -> str:
    value: Any = payload
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) else ""


def message_ref(web: WebClient, body: dict[str, Any]) -> MessageRef | str:
    """The reported message, or the one line to answer instead."""
    channel = _get(body, "channel", "id")
    ts = _get(body, "message", "ts") or _get(body, "message_ts")
    author = _get(body, "message", "user")
    domain = _get(body, "team", "domain")
    if not (channel and ts and author):
        return BAD_PAYLOAD
    try:
        answer = web.chat_getPermalink(channel=channel, message_ts=ts)
        link = answer.get("permalink")
        permalink = link if isinstance(link, str) else ""
    except SlackApiError as error:
        code = slack_error(error)
        if code in UNREADABLE:
            return CANNOT_READ
        log.warning("chat.getPermalink failed; link built", extra={"error": code})
        permalink = permalink_for(domain, channel, ts, _get(body, "message", "thread_ts"))
    except Exception as error:
        log.warning("chat.getPermalink unreachable", extra={"error": type(error).__name__})
        permalink = permalink_for(domain, channel, ts, _get(body, "message", "thread_ts"))
    ref = MessageRef(channel=channel, ts=ts, author=author, permalink=permalink)
    return ref if ref.valid() else BAD_PAYLOAD


def open_report_form(
    web: WebClient, body: dict[str, Any], send: Callable[[str | None, dict[str, Any]], bool]
) -> None:
    """Open the form on the message, or answer the reporter with one line; never raises."""
    found = message_ref(web, body)
    if isinstance(found, str):
        log.info("message shortcut refused", extra={"reason": found[:40]})
        send(
            _get(body, "response_url") or None,
            {"response_type": "ephemeral", "text": found, **NO_UNFURL},
        )
        return
    try:
        web.views_open(trigger_id=_get(body, "trigger_id"), view=report_view(found))
    except Exception as error:
        log.warning("views.open failed", extra={"error": slack_error(error)})
        send(
            _get(body, "response_url") or None,
            {
                "response_type": "ephemeral",
                "text": ":warning: Slack did not open the form in time; try the shortcut again.",
                **NO_UNFURL,
            },
        )
