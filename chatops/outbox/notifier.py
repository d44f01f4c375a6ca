"""Sending a page: to Slack over a kept-open connection (or slack_sdk's WebClient), or to a list
for the console.

A notifier makes exactly one attempt and reports what happened; retrying is the worker's job,
through the database, so a retry survives a restart. Only Slack's `ok: true` counts as delivered.
"""

from __future__ import annotations

import http.client
import logging
import threading
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from chatops.blockkit import NO_UNFURL, Block, Reply
from chatops.outbox.webapi import Answer, KeepAliveWebApi

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """One attempt's result. `retry_after` (seconds) comes from a 429's Retry-After header."""

    ok: bool
    ts: str | None = None
    error: str | None = None
    retry_after: float | None = None


class Notifier(Protocol):
    def send(self, *, channel: str, text: str, blocks: list[Block]) -> Outcome:
        """Post one message to a channel or (with a user id) as a DM; never raises."""
        ...


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    for key in (name, name.lower()):
        value = headers.get(key)
        if value is not None:
            return str(value[0] if isinstance(value, list) else value)
    return None


class SlackNotifier:
    """Pages through `chat.postMessage` (a user id as channel opens the DM)."""

    def __init__(self, client: WebClient | KeepAliveWebApi) -> None:
        self.client = client

    @classmethod
    def from_settings(cls, *, token: str, base_url: str, timeout: int = 10) -> SlackNotifier:
        """The kept-open connection, unless a proxy is configured: slack_sdk honours those."""
        if _proxied():
            return cls(WebClient(token=token, base_url=base_url, timeout=timeout))
        return cls(KeepAliveWebApi(token=token, base_url=base_url, timeout=timeout))

    def send(self, *, channel: str, text: str, blocks: list[Block]) -> Outcome:
        if isinstance(self.client, KeepAliveWebApi):
            payload = {"channel": channel, "text": text, "blocks": blocks, **NO_UNFURL}
            try:
                return _from_answer(self.client.post("chat.postMessage", payload))
            except (OSError, http.client.HTTPException) as error:
                return Outcome(ok=False, error=type(error).__name__)  # retried, never lost
        try:
            response = self.client.chat_postMessage(
                channel=channel, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False
            )
        except SlackApiError as error:
            return _from_error(error)
        except Exception as error:  # network trouble: the page is retried, never lost
            return Outcome(ok=False, error=f"{type(error).__name__}")
        if response.get("ok") is True:
            return Outcome(ok=True, ts=response.get("ts"))
        return Outcome(ok=False, error=str(response.get("error") or "not ok"))


def _proxied() -> bool:
    proxies = urllib.request.getproxies()
    return bool(proxies.get("https") or proxies.get("http"))


def _from_answer(answer: Answer) -> Outcome:
    """Slack's answer as an Outcome, read exactly as `_from_error` reads slack_sdk's errors."""
    code = answer.body.get("error") if answer.body is not None else None
    if answer.status == 429:
        return Outcome(
            ok=False,
            error=str(code or "ratelimited"),
            retry_after=_retry_after(answer.headers.get("retry-after")),
        )
    if answer.status != 200:  # the body may be an HTML error page: keep the status only
        return Outcome(ok=False, error=f"http {answer.status}")
    if answer.body is not None and answer.body.get("ok") is True:
        ts = answer.body.get("ts")
        return Outcome(ok=True, ts=str(ts) if ts is not None else None)
    return Outcome(ok=False, error=str(code or "not ok"))


def _retry_after(raw: str | None) -> float:
    try:
        return max(float(raw), 0.0) if raw is not None else 1.0
    except ValueError:
        return 1.0


def _from_error(error: SlackApiError) -> Outcome:
    response = error.response
    status = getattr(response, "status_code", None)
    data = getattr(response, "data", None)
    code = data.get("error") if isinstance(data, dict) else None
    if status == 429:
        raw = _header(getattr(response, "headers", None), "Retry-After")
        return Outcome(ok=False, error=code or "ratelimited", retry_after=_retry_after(raw))
    if status != 200:  # the body may be an HTML error page: keep the status only
        return Outcome(ok=False, error=f"http {status}")
    return Outcome(ok=False, error=str(code or "not ok"))


@dataclass
class Sent:
    channel: str
    text: str
    blocks: list[Block]


@dataclass
class ConsoleNotifier:
    """ "Sends" by keeping the messages, so the console (and tests) can show them."""

    sent: list[Sent] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, *, channel: str, text: str, blocks: list[Block]) -> Outcome:
        with self._lock:
            self.sent.append(Sent(channel, text, blocks))
            return Outcome(ok=True, ts=f"console.{len(self.sent)}")

    def drain(self) -> list[Reply]:
        """The messages sent since the last drain, each as a Reply headed by its recipient."""
        with self._lock:
            taken, self.sent = self.sent, []
        return [
            Reply(
                text=f"(to {_where(s.channel)}) {s.text}",
                blocks=[
                    {
                        "type": "context",
                        "elements": [{"type": "mrkdwn", "text": f"to {_where(s.channel)}"}],
                    },
                    *s.blocks,
                ],
            )
            for s in taken
        ]


def _where(channel: str) -> str:
    return f"<@{channel}>" if channel[:1] in {"U", "W"} else f"#{channel.lstrip('#')}"
