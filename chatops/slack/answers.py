"""Answering someone on Slack: their `response_url`, the team channel, their DM.

Each never raises: an answer that could not be given is logged by its status or Slack error
(never its text), and the asker is told when the command itself took effect but a message did not.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from slack_sdk import WebClient

from chatops.blockkit import NO_UNFURL, Reply, user_text
from chatops.slack import render, response_urls
from chatops.slack.client import slack_error
from chatops.slack.files import UploadFailed, upload_to_user

log = logging.getLogger(__name__)


def send(response_url: str | None, payload: dict[str, Any]) -> bool:
    """POST to a response_url (kept-open, with retries); failures are logged, never raised."""
    if not response_url:
        log.warning("no response_url to answer through")
        return False
    status = response_urls.post(response_url, payload)
    if status is None:
        return False  # logged by response_urls, by the error's kind
    if status != 200:
        log.warning("response_url refused the answer", extra={"status": status})
        return False
    return True


def post_all(
    web: WebClient,
    posts: Sequence[Reply],
    channel: str | None,
    response_url: str | None,
    cid: str,
) -> None:
    """Post `Reply.posts` to the team channel; tell the asker when one could not be posted."""
    if not posts:
        return
    failed: list[str] = []
    for post in posts:
        if channel is None:
            failed.append("no channel")
            continue
        try:
            web.chat_postMessage(
                channel=channel,
                text=post.text,
                blocks=post.blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
        except Exception as error:
            failed.append(slack_error(error))
            log.warning("channel post failed", extra={"channel": channel, "error": failed[-1]})
    if failed and response_url:
        where = f"<#{channel}>" if channel else "the team channel"
        send(
            response_url,
            {
                "response_type": "ephemeral",
                "replace_original": False,
                **NO_UNFURL,
                "text": (
                    f":warning: Done, but {len(failed)} message(s) could not be posted to "
                    f"{where} ({', '.join(sorted(set(failed)))}). Reference `{cid}`."
                ),
            },
        )


def send_files(web: WebClient, reply: Reply, user: str, response_url: str | None, cid: str) -> None:
    """Upload a reply's files to the asker's DM, after the reply; tell them if it failed."""
    if not reply.files or not user:
        return
    # Titles name the team and its members, text from the rota file: escaped like any.
    titles = user_text(", ".join(f.title for f in reply.files))
    try:
        upload_to_user(web, user=user, files=reply.files, comment=titles)
    except Exception as error:
        kind = slack_error(error) if not isinstance(error, UploadFailed) else str(error)
        log.warning("file upload failed", extra={"error": kind, "files": len(reply.files)})
        send(
            response_url,
            {
                "response_type": "ephemeral",
                "replace_original": False,
                **NO_UNFURL,
                "text": (
                    f":warning: The charts could not be sent to you ({kind}). Reference `{cid}`."
                ),
            },
        )


def answer_without_response_url(
    web: WebClient, reply: Reply, channel: str, message_ts: str, user: str
) -> None:
    """Some surfaces give no response_url: update or answer through the Web API instead."""
    try:
        if render.replaces_original(reply):
            web.chat_update(channel=channel, ts=message_ts, text=reply.text, blocks=reply.blocks)
        else:
            web.chat_postEphemeral(channel=channel, user=user, text=reply.text, blocks=reply.blocks)
    except Exception as error:
        log.warning("button answer failed", extra={"error": slack_error(error)})
