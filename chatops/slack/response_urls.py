"""Posting answers to Slack's `response_url`s through one kept-open connection per process.

Every `/ts` answer goes to hooks.slack.com. A fresh client per answer (slack_sdk's
WebhookClient) pays a TCP and TLS handshake each time, two or three round trips in front of
every answer a person waits for; one httpx transport per origin and process keeps the connection
open and is safe to share between the work threads.

What is retried is what cannot double an answer, or what Slack asks for: a connection that
could not be made or was closed before any answer, a 429 after its Retry-After, a 5xx. A read
that times out after the request went out is not retried: the answer may have been shown.
"""

from __future__ import annotations

import json
import logging
import platform
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from chatops import __version__, metrics
from chatops.outbox.notifier import proxy_for

log = logging.getLogger(__name__)

TIMEOUT_S = 15.0
#: An idle kept connection is closed after this; Slack's side may close it sooner.
IDLE_S = 30.0
CONNECTION_RETRIES = 2
RATE_LIMIT_RETRIES = 3
SERVER_ERROR_RETRIES = 2
#: Origins kept open at once in one process; the oldest is closed to make room.
MAX_ORIGINS = 8
#: The longest Retry-After honoured in a work thread; a longer wait gives the answer up.
MAX_RETRY_AFTER_S = 30.0
#: Pause before a retry after a 5xx, doubled each time.
SERVER_ERROR_PAUSE_S = 0.5
_HEADERS = [
    (b"Content-Type", b"application/json;charset=utf-8"),
    (b"User-Agent", f"chatops/{__version__} Python/{platform.python_version()}".encode()),
]
#: Errors raised before any answer could have been shown: safe to send again. A
#: RemoteProtocolError is the server closing the connection without an answer, as Slack's side
#: does to an idle kept connection.
_NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.WriteError,
    httpx.WriteTimeout,
    httpx.RemoteProtocolError,
)

_transports: dict[tuple[bytes, bytes, int | None], httpx.HTTPTransport] = {}
_transports_lock = threading.Lock()


def _transport(url: httpx.URL) -> httpx.HTTPTransport:
    """This process's kept-open transport to `url`'s origin, made at first use (work processes
    are spawned, not forked), through the proxy the environment names for that host.

    Answers go straight to the transport, as pages do (chatops/outbox/notifier.py): httpx.Client's
    per-call URL merging, cookies and hooks cost more CPU than the rest of the post.
    """
    origin = (url.raw_scheme, url.raw_host, url.port)
    with _transports_lock:
        transport = _transports.get(origin)
        if transport is None:
            if len(_transports) >= MAX_ORIGINS:  # Slack answers from one host; tests from many
                _transports.pop(next(iter(_transports))).close()
            transport = _transports[origin] = httpx.HTTPTransport(
                proxy=proxy_for(url),
                limits=httpx.Limits(keepalive_expiry=IDLE_S),
                # Headers and body are two writes: without this, Nagle may hold the body for
                # the server's delayed ACK.
                socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            )
        return transport


def post(
    url: str,
    payload: dict[str, Any],
    *,
    timeout: float = TIMEOUT_S,
    sleep: Callable[[float], None] = time.sleep,
) -> int | None:
    """POST `payload` as JSON to `url`; Slack's final HTTP status, or None when unreachable.

    Raises nothing: the caller logs the outcome by its status, never the payload.
    """
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL:
        log.warning("response_url is not a URL")
        return None
    if target.scheme not in ("http", "https") or not target.host:
        log.warning("response_url is not an http(s) URL")
        return None
    body = json.dumps(payload).encode()
    headers = [*_HEADERS, (b"Host", target.netloc), (b"Content-Length", str(len(body)).encode())]
    extensions = {"timeout": httpx.Timeout(timeout).as_dict()}
    connection_left, rate_left = CONNECTION_RETRIES, RATE_LIMIT_RETRIES
    server_left, pause = SERVER_ERROR_RETRIES, SERVER_ERROR_PAUSE_S
    while True:
        request = httpx.Request(
            "POST", target, headers=headers, content=body, extensions=extensions
        )
        try:
            response = _transport(target).handle_request(request)
            try:
                response.read()
            finally:
                response.close()
        except _NOT_SENT as error:
            if connection_left > 0:
                connection_left -= 1
                continue
            log.warning("response_url unreachable", extra={"error": type(error).__name__})
            return None
        except Exception as error:  # a read timeout among them: the answer may be shown
            log.warning("response_url did not answer", extra={"error": type(error).__name__})
            return None
        status = response.status_code
        if status == 429:
            metrics.rate_limited("response_url")
            wait = _retry_after(response.headers.get("retry-after"))
            if rate_left > 0 and wait <= MAX_RETRY_AFTER_S:
                rate_left -= 1
                sleep(wait)
                continue
        elif status >= 500 and server_left > 0:
            server_left -= 1
            sleep(pause)
            pause *= 2
            continue
        return status


def _retry_after(raw: str | None) -> float:
    try:
        return max(float(raw), 0.0) if raw is not None else 1.0
    except ValueError:
        return 1.0
