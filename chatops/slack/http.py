"""Serve the Bolt app over HTTP: `/slack/events` for everything Slack sends, `/healthz` for probes.

A threaded WSGI server from the standard library is enough here: Bolt answers every request within
milliseconds (the slow work runs in lazy listeners), and one thread per request keeps a slow
client from holding up Slack's other requests. Put TLS in front (a load balancer or proxy).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from chatops.slack.app import EVENTS_PATH

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
#: Calendar feeds (chatops.oncall.feeds): the token is the whole secret of the URL.
ICAL_PATH = re.compile(r"^/ical/([A-Za-z0-9_-]{1,128})\.ics$")
# Slack's payloads are a few kilobytes; refuse anything absurd before reading it.
MAX_BODY_BYTES = 1 << 20


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    # The standard library's backlog of 5 resets connections when many clients arrive at once.
    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback to stderr; a dropped client connection is not news.
        log.warning("http connection error", exc_info=True)


class _LoggingRequestHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        # Paths only: Slack puts nothing secret in them, and bodies are never logged.
        log.debug("http %s", format % args)


class SlackHttpServer:
    """The app on `/slack/events` plus `/healthz`; `start()` returns the port (0: any free one)."""

    def __init__(
        self,
        app: App,
        *,
        host: str = "0.0.0.0",
        port: int = 0,
        feeds: Callable[[str], str | None] | None = None,
    ) -> None:
        self._bolt = SlackRequestHandler(app, path=EVENTS_PATH)
        self._feeds = feeds
        self._host = host
        self._requested_port = port
        self._server: _ThreadingWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """The WSGI application: health probe, size guard, then Bolt."""
        path = environ.get("PATH_INFO", "")
        if path == HEALTH_PATH and environ.get("REQUEST_METHOD") in {"GET", "HEAD"}:
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"ok\n"]
        if path.startswith("/ical/") and environ.get("REQUEST_METHOD") in {"GET", "HEAD"}:
            return self._ical(path, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            start_response("413 Payload Too Large", [("Content-Type", "text/plain")])
            return [b"payload too large\n"]
        return self._bolt(environ, start_response)

    def _ical(self, path: str, start_response: StartResponse) -> Iterable[bytes]:
        """A calendar feed, or a bare 404 that says nothing about why (unknown or revoked)."""
        found = ICAL_PATH.match(path)
        body = None
        if found is not None and self._feeds is not None:
            try:
                body = self._feeds(found.group(1))
            except Exception:
                log.exception("calendar feed failed")  # no token in the log: it is the secret
                start_response("500 Internal Server Error", [("Content-Length", "0")])
                return [b""]
        if body is None:
            start_response("404 Not Found", [("Content-Length", "0")])
            return [b""]
        data = body.encode()
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/calendar; charset=utf-8"),
                ("Content-Length", str(len(data))),
                ("Cache-Control", "private, max-age=300"),
            ],
        )
        return [data]

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the server is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The events URL on loopback, for tests and for the startup log line."""
        return f"http://127.0.0.1:{self.port}{EVENTS_PATH}"

    def start(self) -> int:
        """Bind and serve in a background thread; raises OSError when the port is taken."""
        if self._server is not None:
            return self.port
        server = make_server(
            self._host,
            self._requested_port,
            self.wsgi,
            server_class=_ThreadingWSGIServer,
            handler_class=_LoggingRequestHandler,
        )
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="chatops-http",
            daemon=True,
        )
        self._thread.start()
        return self.port

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting requests and release the port; safe to call twice."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout)
        self._server, self._thread = None, None

    def __enter__(self) -> SlackHttpServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
