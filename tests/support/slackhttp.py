"""Send the app what Slack sends: slash commands, button presses and events, signed as Slack signs.

Requests go over real HTTP to the served app, so routing, signature checks and body parsing are
all exercised. Knobs produce the bad requests the app must refuse: a wrong signature, a stale
timestamp, missing headers.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

TEAM_ID = "T0FAKE"
STALE_SECONDS = 6 * 60  # Slack (and Bolt) refuse requests older than 5 minutes


@dataclass(frozen=True)
class HttpResult:
    status: int
    body: str
    elapsed: float


def slash_command(
    text: str,
    *,
    user_id: str,
    response_url: str,
    channel_id: str = "C0ASKED",
    command: str = "/ts",
) -> tuple[bytes, str]:
    """A slash command's form body and content type."""
    fields = {
        "token": "legacy-unused",
        "team_id": TEAM_ID,
        "team_domain": "fake",
        "channel_id": channel_id,
        "channel_name": "asked-here",
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": "A0APP",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": "1.2.3",
    }
    return urlencode(fields).encode(), "application/x-www-form-urlencoded"


def block_action(
    action_id: str,
    value: str,
    *,
    user_id: str,
    response_url: str | None,
    channel_id: str = "C0ASKED",
    message_ts: str = "1700000000.000100",
) -> tuple[bytes, str]:
    """A button press on a channel message, as the form body Slack posts (`payload=<json>`)."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_id.lower(), "team_id": TEAM_ID},
        "api_app_id": "A0APP",
        "token": "legacy-unused",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "trigger_id": "1.2.3",
        "team": {"id": TEAM_ID, "domain": "fake"},
        "channel": {"id": channel_id, "name": "asked-here"},
        "message": {"type": "message", "ts": message_ts, "text": "original", "blocks": []},
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b1",
                "value": value,
                "text": {"type": "plain_text", "text": "Press"},
                "action_ts": "1700000001.000200",
            }
        ],
    }
    if response_url is not None:
        payload["response_url"] = response_url
    return urlencode({"payload": json.dumps(payload)}).encode(), "application/x-www-form-urlencoded"


def view_submission(
    callback_id: str,
    values: dict[str, dict[str, Any]],
    *,
    user_id: str,
    private_metadata: str = "",
) -> tuple[bytes, str]:
    """A submitted modal (`view.state.values`), as the form body Slack posts (`payload=<json>`)."""
    payload: dict[str, Any] = {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "fake"},
        "user": {"id": user_id, "username": user_id.lower(), "team_id": TEAM_ID},
        "api_app_id": "A0APP",
        "token": "legacy-unused",
        "trigger_id": "4.5.6",
        "view": {
            "id": "V0MODAL",
            "team_id": TEAM_ID,
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "blocks": [],
            "state": {"values": values},
            "hash": "1700000000.abc",
            "app_id": "A0APP",
            "bot_id": "B0BOT",
        },
        "response_urls": [],
    }
    return urlencode({"payload": json.dumps(payload)}).encode(), "application/x-www-form-urlencoded"


def message_action(
    callback_id: str,
    *,
    user_id: str,
    response_url: str,
    channel_id: str = "C0GENERAL",
    message: dict[str, Any] | None = None,
) -> tuple[bytes, str]:
    """A message shortcut used on a channel message, as the form body Slack posts."""
    payload: dict[str, Any] = {
        "type": "message_action",
        "callback_id": callback_id,
        "team": {"id": TEAM_ID, "domain": "fake"},
        "user": {"id": user_id, "username": user_id.lower(), "team_id": TEAM_ID},
        "channel": {"id": channel_id, "name": "general"},
        "message": message
        if message is not None
        else {"type": "message", "user": "U0AUTHOR", "ts": "1700000000.000200", "text": "hi"},
        "message_ts": (message or {}).get("ts", "1700000000.000200"),
        "response_url": response_url,
        "trigger_id": "7.8.9",
        "action_ts": "1700000001.000000",
        "token": "legacy-unused",
        "api_app_id": "A0APP",
    }
    return urlencode({"payload": json.dumps(payload)}).encode(), "application/x-www-form-urlencoded"


def app_home_opened(
    user_id: str, tab: str = "home", *, event_id: str | None = None
) -> tuple[bytes, str]:
    """An Events API callback for a user opening the App Home (each event its own id, as Slack
    gives it: a repeated id is a retry, answered once)."""
    body = {
        "token": "legacy-unused",
        "team_id": TEAM_ID,
        "api_app_id": "A0APP",
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "event": {
            "type": "app_home_opened",
            "user": user_id,
            "channel": "D0HOME",
            "tab": tab,
            "event_ts": f"{time.time():.6f}",
        },
        "authorizations": [
            {"team_id": TEAM_ID, "user_id": "U0BOT", "is_bot": True, "enterprise_id": None}
        ],
    }
    return json.dumps(body).encode(), "application/json"


def signed_headers(
    body: bytes,
    secret: str,
    *,
    timestamp: int | None = None,
    wrong_signature: bool = False,
    stale: bool = False,
    omit: tuple[str, ...] = (),
) -> dict[str, str]:
    """The X-Slack-* headers for `body`; the knobs spoil them in the ways an attacker might."""
    ts = timestamp if timestamp is not None else int(time.time())
    if stale:
        ts -= STALE_SECONDS
    signature = SignatureVerifier(secret).generate_signature(
        timestamp=str(ts), body=body.decode("utf-8")
    )
    if wrong_signature:
        signature = SignatureVerifier(secret + "-not").generate_signature(
            timestamp=str(ts), body=body.decode("utf-8")
        )
    headers = {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": str(signature)}
    return {k: v for k, v in headers.items() if k not in omit}


def post(
    url: str,
    body: bytes,
    content_type: str,
    secret: str,
    *,
    timeout: float = 10.0,
    **knobs: Any,
) -> HttpResult:
    """POST a signed request and return status, body and how long the answer took."""
    headers = {"Content-Type": content_type, **signed_headers(body, secret, **knobs)}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read().decode("utf-8")
            status = response.status
    except urllib.error.HTTPError as failure:
        text = failure.read().decode("utf-8")
        status = failure.code
    return HttpResult(status=status, body=text, elapsed=time.monotonic() - started)


def get(url: str, *, timeout: float = 5.0) -> HttpResult:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return HttpResult(response.status, response.read().decode(), time.monotonic() - started)
    except urllib.error.HTTPError as failure:
        return HttpResult(failure.code, failure.read().decode(), time.monotonic() - started)
