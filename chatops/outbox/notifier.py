"""Sending an outbox message: to Slack's Web API through one kept httpx client, or to a list
for the console.

A notifier makes exactly one attempt and reports what happened; retrying is the worker's job,
through the database, so a retry survives a restart. Only Slack's `ok: true` counts as sent.
"""

from __future__ import annotations

import json
import logging
import platform
import socket
import threading
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from chatops import __version__
from chatops.blockkit import NO_UNFURL, Block, Reply

log = logging.getLogger(__name__)

#: A connection idle longer than this is not reused: servers close idle ones, and a request
#: written to a connection the server has just closed leaves in doubt whether it arrived.
IDLE_S = 4.0
USER_AGENT = f"chatops/{__version__} Python/{platform.python_version()} httpx/{httpx.__version__}"


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


class SlackNotifier:
    """Messages through `chat.postMessage` (a user id as channel opens the DM).

    One httpx transport for every call: it keeps its connection open between messages (each is
    settled before the next is sent, so a handshake per call would sit in front of every page),
    is safe to share between threads, and goes through the proxy that HTTP(S)_PROXY / NO_PROXY
    name for Slack's host. It never retries by itself (that is the worker's job, through the
    database).

    Requests go to the transport (httpx's public `handle_request`), not through `httpx.Client`:
    the client's per-call URL merging, cookie jar, auth and redirect hooks cost more CPU than the
    rest of a page's path together (bench/RESULTS.md, "pages"), and a page needs none of them.
    The request is built from parts made once: the URL, and the headers but Content-Length.
    """

    def __init__(
        self, *, token: str, base_url: str, timeout: float = 10.0, idle_s: float = IDLE_S
    ) -> None:
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.transport = httpx.HTTPTransport(
            proxy=_proxy_for(url),
            limits=httpx.Limits(keepalive_expiry=idle_s),
            # Headers and body go out as two writes: without this, Nagle holds the body until
            # Slack ACKs the headers, a delayed ACK of up to 40 ms on some paths.
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )
        self._timeout = {"timeout": httpx.Timeout(timeout).as_dict()}
        self._headers = [
            (b"Host", url.netloc),
            (b"User-Agent", USER_AGENT.encode()),
            (b"Authorization", f"Bearer {token}".encode()),
            (b"Content-Type", b"application/json; charset=utf-8"),
        ]
        self._urls: dict[str, httpx.URL] = {}

    def send(self, *, channel: str, text: str, blocks: list[Block]) -> Outcome:
        return self.call(
            "chat.postMessage", {"channel": channel, "text": text, "blocks": blocks, **NO_UNFURL}
        )

    def call(self, method: str, payload: dict[str, Any]) -> Outcome:
        """One Web API call with a JSON body; never raises."""
        url = self._urls.get(method)
        if url is None:
            url = self._urls[method] = httpx.URL(self.base_url + method)
        body = json.dumps(payload).encode()
        request = httpx.Request(
            "POST",
            url,
            headers=[*self._headers, (b"Content-Length", str(len(body)).encode())],
            content=body,
            extensions=self._timeout,
        )
        try:
            response = self.transport.handle_request(request)
            try:
                raw = response.read()
            finally:
                response.close()
        except httpx.HTTPError as error:  # network trouble: retried, never lost
            return Outcome(ok=False, error=type(error).__name__)
        return _outcome(response.status_code, response.headers, _json(raw))

    def close(self) -> None:
        self.transport.close()


def _proxy_for(url: httpx.URL) -> str | None:
    """The proxy the environment names for `url`'s host (HTTP(S)_PROXY, ALL_PROXY, NO_PROXY)."""
    proxies = urllib.request.getproxies()
    proxy = proxies.get(url.scheme) or proxies.get("all")
    if proxy is None or urllib.request.proxy_bypass(url.host):
        return None
    return proxy


def _json(raw: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None  # an HTML error page from a proxy, say
    return parsed if isinstance(parsed, dict) else None


def _outcome(status: int, headers: httpx.Headers, body: dict[str, Any] | None) -> Outcome:
    """Slack's answer as an Outcome: ok only with HTTP 200 and `ok: true`."""
    code = body.get("error") if body is not None else None
    if status == 429:
        return Outcome(
            ok=False,
            error=str(code or "ratelimited"),
            retry_after=_retry_after(headers.get("retry-after")),
        )
    if status != 200:  # the body may be an HTML error page: keep the status only
        return Outcome(ok=False, error=f"http {status}")
    if body is not None and body.get("ok") is True:
        ts = body.get("ts")
        return Outcome(ok=True, ts=str(ts) if ts is not None else None)
    return Outcome(ok=False, error=str(code or "not ok"))


def _retry_after(raw: str | None) -> float:
    try:
        return max(float(raw), 0.0) if raw is not None else 1.0
    except ValueError:
        return 1.0


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
