"""Files to one person, through Slack's current upload API (files.upload is retired).

Three steps per Slack's documentation: `files.getUploadURLExternal` (name and length) gives an
upload URL and a file id; the bytes are POSTed to that URL; `files.completeUploadExternal`
shares the files, all in one message, in a channel. Here that channel is always the asker's DM
(`conversations.open`), never the channel the command was typed in: a report's charts are for
the person who asked, as its ephemeral answer is.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import httpx
from slack_sdk import WebClient

from chatops.blockkit import Attachment
from chatops.slack.client import WEB_API_TIMEOUT_S

log = logging.getLogger(__name__)


class UploadFailed(Exception):
    """Slack's upload URL did not take the bytes (the Web API steps raise `SlackApiError`)."""


def dm_channel(web: WebClient, user: str) -> str:
    """The id of the bot's DM with `user` (opened if it was not), which the upload step needs."""
    response = web.conversations_open(users=user)
    channel = response.get("channel")
    if not isinstance(channel, dict) or not isinstance(channel.get("id"), str):
        raise UploadFailed("conversations.open answered without a channel id")
    return str(channel["id"])


def _post_bytes(url: str, item: Attachment) -> None:
    """Step two: the raw bytes to the upload URL. The URL itself is the credential, so it is
    never logged."""
    try:
        response = httpx.post(
            url,
            content=item.data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=WEB_API_TIMEOUT_S,
        )
    except httpx.HTTPError as error:
        raise UploadFailed(f"upload unreachable ({type(error).__name__})") from None
    if response.status_code != 200:
        raise UploadFailed(f"upload refused (http {response.status_code})")


def upload_to_user(
    web: WebClient, *, user: str, files: Sequence[Attachment], comment: str
) -> list[str]:
    """Upload `files` and share them in `user`'s DM in one message with `comment`; their ids.

    Raises `SlackApiError` (a Web API step) or `UploadFailed` (the bytes): the caller tells the
    asker, since the reply itself has already been sent.
    """
    channel = dm_channel(web, user)
    uploaded: list[dict[str, str | None]] = []
    for item in files:
        ticket = web.files_getUploadURLExternal(
            filename=item.filename, length=len(item.data), alt_txt=item.title
        )
        url, file_id = ticket.get("upload_url"), ticket.get("file_id")
        if not isinstance(url, str) or not isinstance(file_id, str):
            raise UploadFailed("files.getUploadURLExternal answered without a URL or file id")
        _post_bytes(url, item)
        uploaded.append({"id": file_id, "title": item.title})
    web.files_completeUploadExternal(files=uploaded, channel_id=channel, initial_comment=comment)
    log.info("files shared", extra={"files": len(uploaded)})
    return [str(f["id"]) for f in uploaded]
