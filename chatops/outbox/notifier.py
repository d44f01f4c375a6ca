"""Sending an outbox message: to Slack's Web API through one kept httpx client, or to a list
for the console.

A notifier makes exactly one attempt and reports what happened; retrying is the worker's job,
through the database, so a retry survives a restart. Only Slack's `ok: true` counts as sent.
Every message carries its outbox id as Slack message metadata, so a send whose answer never
came can be looked for in the conversation's history before it is sent again (`find_sent`).
"""

from __future__ import annotations

import json
import logging
import platform
import socket
import threading
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import httpx

from chatops import __version__, metrics
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


@dataclass(frozen=True)
class Lookup:
    """Whether a message is already in its conversation.

    `error` set: Slack could not say (retry later; `retry_after` after a 429). `unavailable`:
    the app may not read history (no history scopes): the caller sends without looking.
    """

    found: bool = False
    ts: str | None = None
    error: str | None = None
    retry_after: float | None = None
    unavailable: bool = False


class Notifier(Protocol):
    def send(
        self, *, channel: str, text: str, blocks: list[Block], outbox_id: int | None = None
    ) -> Outcome:
        """Post one message to a channel or (with a user id) as a DM; never raises.

        `outbox_id` goes into the message's metadata, for `find_sent`.
        """
        ...

    def find_sent(self, *, channel: str, outbox_id: int, oldest: datetime) -> Lookup:
        """Look for the message with `outbox_id` posted to `channel` since `oldest`."""
        ...


class SlackNotifier:
    """Messages through `chat.postMessage` (a user id as channel opens the DM).

    One httpx transport for every call: it keeps its connection open between messages (each is
    settled before the next is sent, so a handshake per call would sit in front of every page),
    is safe to share between threads, and goes through the proxy that HTTP(S)_PROXY / NO_PROXY
    name for Slack's host. It never retries by itself (that is the worker's job, through the
    database).

    Posts go to the transport (httpx's public `handle_request`), not through `httpx.Client`:
    the client's per-call URL merging, cookie jar, auth and redirect hooks cost more CPU than the
    rest of a page's path together (bench/RESULTS.md, "pages"), and a page needs none of them.
    The request is built from parts made once: the URL, and the headers but Content-Length.
    The rarer reads (history lookups, user groups) use `client`, an `httpx.Client` over the
    same transport and so the same kept-open connection.
    """

    def __init__(
        self, *, token: str, base_url: str, timeout: float = 10.0, idle_s: float = IDLE_S
    ) -> None:
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.transport = httpx.HTTPTransport(
            proxy=proxy_for(url),
            limits=httpx.Limits(keepalive_expiry=idle_s),
            # Headers and body go out as two writes: without this, Nagle holds the body until
            # Slack ACKs the headers, a delayed ACK of up to 40 ms on some paths.
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )
        self.client = httpx.Client(
            transport=self.transport,
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT},
            timeout=timeout,
            follow_redirects=False,
        )
        self._timeout = {"timeout": httpx.Timeout(timeout).as_dict()}
        self._headers = [
            (b"Host", url.netloc),
            (b"User-Agent", USER_AGENT.encode()),
            (b"Authorization", f"Bearer {token}".encode()),
            (b"Content-Type", b"application/json; charset=utf-8"),
        ]
        self._urls: dict[str, httpx.URL] = {}
        self.history_unavailable = False  # set at the first `missing_scope` of a lookup

    def send(
        self, *, channel: str, text: str, blocks: list[Block], outbox_id: int | None = None
    ) -> Outcome:
        payload: dict[str, Any] = {"channel": channel, "text": text, **NO_UNFURL}
        if blocks:  # no blocks at all, not an empty list: the text is the message
            payload["blocks"] = blocks
        if outbox_id is not None:
            payload["metadata"] = outbox_metadata(outbox_id)
        return self.call("chat.postMessage", payload)

    def call(self, method: str, payload: dict[str, Any]) -> Outcome:
        """One Web API call with a JSON body, straight on the transport; never raises."""
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

    def find_sent(self, *, channel: str, outbox_id: int, oldest: datetime) -> Lookup:
        """`conversations.history` (with metadata) of `channel` since `oldest`, opening the DM
        first for a user id. Without the history scopes Slack answers `missing_scope`: that is
        said once in the log, and every later lookup answers `unavailable` without a call."""
        if self.history_unavailable:
            return Lookup(unavailable=True)
        found = self._look_up(channel, outbox_id, oldest)
        if found.error in NO_HISTORY:
            self.history_unavailable = True
            log.warning(
                "cannot look up messages in doubt, so a send that timed out may be doubled: "
                "grant the history scopes (see manifest.yml) to deliver exactly once",
                extra={"error": found.error},
            )
            return Lookup(unavailable=True)
        return found

    def granted_scopes(self) -> str | None:
        """The token's scopes as Slack names them on an `auth.test` answer (`X-OAuth-Scopes`),
        or None when Slack could not be asked or did not say: a worker's start need not wait."""
        try:
            response = self.client.post("auth.test")
        except httpx.HTTPError:
            return None
        body = _json(response.content)
        if response.status_code != 200 or body is None or body.get("ok") is not True:
            return None
        return response.headers.get("x-oauth-scopes")

    def history_known_unavailable(self) -> None:
        """The token lacks the history scopes (found at start): lookups answer `unavailable`
        without a call, as after a first `missing_scope`."""
        self.history_unavailable = True

    def _look_up(self, channel: str, outbox_id: int, oldest: datetime) -> Lookup:
        if channel[:1] in {"U", "W"}:
            opened = self._call("conversations.open", {"users": channel, "return_im": "true"})
            if not isinstance(opened, dict):
                return opened
            channel = str((opened.get("channel") or {}).get("id", ""))
        args = {
            "channel": channel,
            "oldest": f"{oldest.timestamp():.6f}",
            "include_all_metadata": "true",
            "limit": str(HISTORY_PAGE),
        }
        for _ in range(HISTORY_PAGES):
            page = self._call("conversations.history", args)
            if not isinstance(page, dict):
                return page
            for message in page.get("messages") or []:
                if _outbox_id_of(message) == outbox_id:
                    return Lookup(found=True, ts=str(message.get("ts")))
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not page.get("has_more") or not cursor:
                break
            args["cursor"] = str(cursor)
        return Lookup(found=False)

    def _call(self, method: str, args: dict[str, str]) -> dict[str, Any] | Lookup:
        """A read call (form-encoded, as Slack's read methods want): its body, or why not."""
        try:
            response = self.client.post(method, data=args)
        except httpx.HTTPError as error:
            return Lookup(error=type(error).__name__)
        body = _json(response.content)
        if response.status_code == 200 and body is not None and body.get("ok") is True:
            return body
        outcome = _outcome(response.status_code, response.headers, body)
        return Lookup(error=outcome.error, retry_after=outcome.retry_after)

    def close(self) -> None:
        self.client.close()


#: What Slack answers when the app may not read a conversation's history (or open a DM).
NO_HISTORY = frozenset({"missing_scope", "not_allowed_token_type", "no_permission"})
#: Messages per history page, and pages read at most: an in-doubt send is minutes old.
HISTORY_PAGE = 200
HISTORY_PAGES = 3
#: The metadata event type of every outbox message.
METADATA_EVENT = "chatops_outbox"


def outbox_metadata(outbox_id: int) -> dict[str, Any]:
    """Slack message metadata naming the outbox row a message was sent for."""
    return {"event_type": METADATA_EVENT, "event_payload": {"outbox_id": outbox_id}}


def _outbox_id_of(message: Any) -> int | None:
    meta = message.get("metadata") if isinstance(message, dict) else None
    if not isinstance(meta, dict) or meta.get("event_type") != METADATA_EVENT:
        return None
    value = (meta.get("event_payload") or {}).get("outbox_id")
    if isinstance(value, str) and value.isdigit():  # should Slack give it back as a string
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def proxy_for(url: httpx.URL) -> str | None:
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
        metrics.rate_limited("chat.postMessage")
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
    outbox_id: int | None = None


@dataclass
class ConsoleNotifier:
    """ "Sends" by keeping the messages, so the console (and tests) can show them."""

    sent: list[Sent] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(
        self, *, channel: str, text: str, blocks: list[Block], outbox_id: int | None = None
    ) -> Outcome:
        with self._lock:
            self.sent.append(Sent(channel, text, blocks, outbox_id))
            return Outcome(ok=True, ts=f"console.{len(self.sent)}")

    def find_sent(self, *, channel: str, outbox_id: int, oldest: datetime) -> Lookup:
        """The console keeps no history to look in: a message in doubt (its worker died) is
        sent again, as without the history scopes."""
        return Lookup(found=False)

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
