"""Slack Web API calls over a kept-open connection, for the pages the worker sends one by one.

slack_sdk's `WebClient` opens a new connection, and over HTTPS a new TLS handshake, for every
call. Pages go out one after another (each settled before the next is sent), so that handshake
would sit in front of every page. Here each thread keeps one connection and reuses it while it
is fresh. A call is one attempt and never raises: retrying is the worker's job, through the
database, so a failure here only reports what happened.
"""

from __future__ import annotations

import http.client
import json
import platform
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from chatops import __version__

#: A connection idle longer than this is not reused: servers close idle ones, and a request
#: written to a connection the server has just closed leaves in doubt whether it arrived.
IDLE_S = 4.0
USER_AGENT = f"chatops/{__version__} Python/{platform.python_version()}"


@dataclass(frozen=True)
class Answer:
    """What Slack answered: HTTP status, headers (lower-case names) and the JSON body, if any."""

    status: int
    headers: dict[str, str]
    body: dict[str, Any] | None


class KeepAliveWebApi:
    """POSTs JSON to `base_url` + method with the bot token, one kept connection per thread."""

    def __init__(
        self, *, token: str, base_url: str, timeout: float = 10.0, idle_s: float = IDLE_S
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.base_url = base_url
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = parts.path if parts.path.endswith("/") else parts.path + "/"
        self._token = token
        self._timeout = timeout
        self._idle_s = idle_s
        self._ssl = ssl.create_default_context() if self._https else None
        self._local = threading.local()

    def post(self, method: str, payload: dict[str, Any]) -> Answer:
        """One call; raises `OSError` or `http.client.HTTPException` on network trouble."""
        body = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Authorization": f"Bearer {self._token}",
            "User-Agent": USER_AGENT,
        }
        connection = self._connection()
        try:
            connection.request("POST", self._path + method, body, headers)
            response = connection.getresponse()
            raw = response.read()
        except BaseException:
            self._drop()
            raise
        # A response that closes the connection is handled by http.client: the next request
        # opens a new one on the same object.
        self._local.used = time.monotonic()
        answer_headers = {k.lower(): v for k, v in response.getheaders()}
        return Answer(status=response.status, headers=answer_headers, body=_json(raw))

    def close(self) -> None:
        """Close this thread's connection (others close theirs when their threads end)."""
        self._drop()

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        used: float = getattr(self._local, "used", 0.0)
        if connection is not None and time.monotonic() - used > self._idle_s:
            self._drop()
            connection = None
        if connection is None:
            connection = (
                http.client.HTTPSConnection(
                    self._host, self._port, timeout=self._timeout, context=self._ssl
                )
                if self._https
                else http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
            )
            self._local.connection = connection
        return connection

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()


def _json(raw: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None  # an HTML error page from a proxy, say
    return parsed if isinstance(parsed, dict) else None
