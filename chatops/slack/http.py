"""Serve the Bolt app over HTTP: `/slack/events` for everything Slack sends, `/healthz` for probes
(and `/readyz`, `/metrics` when given `chatops.probes.Probes`).

A threaded WSGI server from the standard library is enough here: Bolt answers every request within
milliseconds (the slow work runs in lazy listeners). What keeps it standing when the internet
leans on it: the server's slots and read deadlines (`chatops.slack.wsgi`), and here:

- a body over `MAX_BODY_BYTES` is refused (413) before it is read;
- before Bolt sees anything: the signature headers must be well formed and (with the signing
  secret) valid (else 401), and the payload must have the shape Slack sends (else 400). None of
  these answers carries a traceback, and no refused request reaches a listener.

Put TLS in front (a load balancer or proxy).
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import make_server

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk.signature import SignatureVerifier

from chatops import metrics
from chatops.intake.events import MAX_BODY_BYTES as INTAKE_MAX_BYTES
from chatops.intake.events import PATH as INTAKE_PATH
from chatops.logs import correlated, new_correlation_id
from chatops.probes import Probes
from chatops.slack.app import EVENTS_PATH
from chatops.slack.payloads import BadPayload, check_payload, parse_body
from chatops.slack.wsgi import (
    MAX_THREADS,
    READ_TIMEOUT_S,
    SLOT_WAIT_S,
    LoggingRequestHandler,
    ThreadingWSGIServer,
)

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
IntakeHandler = Callable[[bytes], tuple[int, dict[str, Any]]]
"""The intake route's work: the body in, (status, JSON answer) out."""
_STATUS = {
    202: "202 Accepted",
    400: "400 Bad Request",
    403: "403 Forbidden",
    429: "429 Too Many Requests",
    500: "500 Internal Server Error",
}
#: Calendar feeds (chatops.oncall.feeds): the token is the whole secret of the URL.
ICAL_PATH = re.compile(r"^/ical/([A-Za-z0-9_-]{1,128})\.ics$")
# Slack's payloads are a few kilobytes; refuse anything absurd before reading it.
MAX_BODY_BYTES = 1 << 20
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE = re.compile(r"^v0=[0-9a-f]{64}$")


def _answer(start_response: StartResponse, status: str, text: str) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
    return [text.encode() + b"\n"]


class SlackHttpServer:
    """The app on `/slack/events` plus `/healthz`; `start()` returns the port (0: any free one).

    `signing_secret` defaults to the app's own: with it, signatures are checked here too, so an
    unsigned request is a 401 before its payload is even parsed.
    """

    def __init__(
        self,
        app: App,
        *,
        host: str = "0.0.0.0",
        port: int = 0,
        max_threads: int = MAX_THREADS,
        slot_wait: float = SLOT_WAIT_S,
        read_timeout: float = READ_TIMEOUT_S,
        signing_secret: str | None = None,
        feeds: Callable[[str], str | None] | None = None,
        probes: Probes | None = None,
        intake: IntakeHandler | None = None,
    ) -> None:
        self._probes = probes
        self._bolt = SlackRequestHandler(app, path=EVENTS_PATH)
        self._feeds = feeds
        self._intake = intake
        self._host = host
        self._requested_port = port
        self._max_threads = max_threads
        self._slot_wait = slot_wait
        self._read_timeout = read_timeout
        secret = signing_secret or getattr(app, "_signing_secret", None)
        self._verifier = SignatureVerifier(secret) if secret else None
        self._server: ThreadingWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """The WSGI application: health probe, size and shape guards, then Bolt."""
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD")
        probed = self._probes.answer(environ, start_response) if self._probes else None
        if probed is not None:
            return probed
        if path == HEALTH_PATH and method in {"GET", "HEAD"}:
            return _answer(start_response, "200 OK", "ok")
        if path.startswith("/ical/") and method in {"GET", "HEAD"}:
            return self._ical(path, start_response)
        if path == INTAKE_PATH and method == "POST" and self._intake is not None:
            return self._enqueue(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            return _answer(start_response, "413 Payload Too Large", "payload too large")
        if path != EVENTS_PATH or method != "POST":
            return self._bolt(environ, start_response)
        started = time.monotonic()
        refusal = self._refusal(environ, length)
        if refusal is not None:
            return _answer(start_response, *refusal)
        try:
            answered = self._bolt(environ, start_response)
            metrics.ack(time.monotonic() - started)  # listeners ack before the slow half
            return answered
        except Exception:
            cid = new_correlation_id()
            with correlated(cid):
                log.exception("bolt failed on a checked request")
            return _answer(start_response, "500 Internal Server Error", f"error {cid}")

    def _refusal(self, environ: WSGIEnvironment, length: int) -> tuple[str, str] | None:
        """Why a POST to the events path is refused, as (status, one line); None: serve it.

        On success the body has been read and `wsgi.input` replaced by a copy of it.
        """
        timestamp = str(environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", ""))
        signature = str(environ.get("HTTP_X_SLACK_SIGNATURE", ""))
        if not _TIMESTAMP.match(timestamp) or not _SIGNATURE.match(signature):
            return "401 Unauthorized", "missing or malformed Slack signature headers"
        try:
            body = environ["wsgi.input"].read(length) if length else b""
        except OSError:
            return "400 Bad Request", "the body could not be read"
        if len(body) != length:
            return "400 Bad Request", "the body is shorter than its Content-Length"
        environ["wsgi.input"] = io.BytesIO(body)
        if self._verifier is not None and not self._verifier.is_valid(
            body=body, timestamp=timestamp, signature=signature
        ):
            return "401 Unauthorized", "invalid request"
        try:
            check_payload(parse_body(body, str(environ.get("CONTENT_TYPE", ""))))
        except BadPayload as error:
            log.warning("malformed slack payload refused", extra={"reason": str(error)})
            return "400 Bad Request", f"malformed payload: {error}"
        return None

    def _enqueue(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """An event from another tool (`chatops.intake.events`): the route only moves bytes."""
        assert self._intake is not None
        if "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower():
            # Some tools stream their events: read the chunks (bounded) as the body.
            chunked = _read_chunked(environ["wsgi.input"], INTAKE_MAX_BYTES)
            length = len(chunked) if chunked is not None else INTAKE_MAX_BYTES + 1
            environ["wsgi.input"] = io.BytesIO(chunked or b"")
        else:
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = -1
        if length < 0 or length > INTAKE_MAX_BYTES:
            if 0 < length <= MAX_BODY_BYTES:
                # Read it to the end first: a client still sending when the answer comes would
                # see the connection reset instead of the reason.
                _discard(environ["wsgi.input"], length)
            status, answer = (
                400,
                {
                    "status": "invalid event",
                    "message": "Event object is invalid",
                    "errors": [f"the body is over {INTAKE_MAX_BYTES // 1024} KiB"],
                },
            )
        else:
            try:
                body = environ["wsgi.input"].read(length) if length else b""
                status, answer = self._intake(body)
            except Exception:
                cid = new_correlation_id()
                with correlated(cid):
                    log.exception("intake event failed")  # never the body: it may be restricted
                status, answer = 500, {"status": "error", "message": f"internal error {cid}"}
        data = json.dumps(answer).encode()
        start_response(
            _STATUS.get(status, f"{status} Error"),
            [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
        )
        return [data]

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
        limits = {
            "max_threads": self._max_threads,
            "slot_wait": self._slot_wait,
            "read_timeout": self._read_timeout,
        }
        server_class = type("_Server", (ThreadingWSGIServer,), limits)
        handler_class = type("_Handler", (LoggingRequestHandler,), {"timeout": self._read_timeout})
        server: ThreadingWSGIServer = make_server(
            self._host,
            self._requested_port,
            self.wsgi,
            server_class=server_class,
            handler_class=handler_class,
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


def _discard(stream: Any, length: int) -> None:
    """Read and drop `length` bytes of a request body, in chunks."""
    while length > 0:
        chunk = stream.read(min(length, 64 * 1024))
        if not chunk:
            return
        length -= len(chunk)


def _read_chunked(stream: Any, limit: int) -> bytes | None:
    """A chunked request body (RFC 9112, 7.1), or None when it is over `limit` bytes or not
    chunked as it says: the caller refuses it either way."""
    body = bytearray()
    while True:
        line = stream.readline(1024)
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return None
        if size < 0 or len(body) + size > limit:
            return None
        if size == 0:
            while stream.readline(1024) not in (b"\r\n", b"\n", b""):
                pass  # trailer fields, unused
            return bytes(body)
        chunk = stream.read(size)
        if len(chunk) != size or stream.readline(8) not in (b"\r\n", b"\n"):
            return None
        body += chunk
