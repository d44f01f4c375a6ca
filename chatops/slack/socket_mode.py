"""Slack's Socket Mode on websocket-client's plain WebSocket, for `chatops serve`.

Neither of slack_sdk's clients holds up (timed against tests/fakesocket.py). The builtin one
polls its socket every 3 s: stopping took 3 s, a connection opened by Slack's routine refresh
went unread for up to 3 s (the whole ack deadline), and one cut short spun a core for a minute.
The websocket-client one opens from a background thread, retries without backoff, never notices a
silent connection, and a refresh closing the old socket from another thread left its reader
asleep for 10 s now and then, with no connection open. Here opening is synchronous, so serve()'s
backoff and one-line errors apply to every connection, and each connection's own thread alone
reads, pings and closes it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import selectors
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import websocket
from slack_bolt import App
from slack_bolt.adapter.socket_mode.internals import run_bolt_app, send_response
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientNotConnectedError
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

log = logging.getLogger(__name__)

# Socket Mode keepalive: a ping every PING_INTERVAL_S, and a connection that leaves one unanswered
# for PONG_TIMEOUT_S has gone silent (a cut network tells nobody) and is replaced.
PING_INTERVAL_S = 10.0
PONG_TIMEOUT_S = 5.0
CLOSE_TIMEOUT_S = 1.0  # how long a closing connection waits for Slack's close frame
OPEN_TIMEOUT_S = 10.0  # the WebSocket handshake, and any one read of a frame already begun
_HANDLERS = 10  # threads running Bolt for envelopes, as slack_sdk's clients have


class SocketModeClient(BaseSocketModeClient):
    """Socket Mode on websocket-client's plain WebSocket: opened when asked, one thread each.

    Neither of slack_sdk's clients holds up (timed against tests/fakesocket.py). The builtin
    one polls its socket every 3 s: stopping took 3 s, a connection opened by Slack's routine
    refresh went unread for up to 3 s (the whole ack deadline), and one cut short spun a core for
    a minute. The websocket-client one opens from a background thread, retries without backoff,
    never notices a silent connection, and a refresh closing the old socket from another thread
    left its reader asleep for 10 s now and then, with no connection open. Here `open()` is
    synchronous, so serve()'s backoff and one-line errors apply to every connection, and each
    connection's own thread alone reads, pings and closes it. `attention` asks serve() to look:
    the current connection was lost (or went silent), or Slack asked for a new one.
    """

    def __init__(self, app: App, app_token: str, web_client: WebClient) -> None:
        self.app = app
        self.app_token = app_token
        self.web_client = web_client
        self.logger = app.logger  # as Bolt's handlers have it, for `send_response`
        self.closed = False
        self.attention = threading.Event()
        self._lock = threading.Lock()
        self._current: Connection | None = None
        self._asked_by: Connection | None = None  # the last to pass on Slack's `disconnect`
        self._handlers = ThreadPoolExecutor(_HANDLERS, thread_name_prefix="chatops-socket-mode")

    def new_url(self) -> str:
        return str(self.web_client.apps_connections_open(app_token=self.app_token)["url"])

    def open(self, url: str) -> None:
        """Connect to `url` (raising if that fails), then close the previous connection."""
        ws = websocket.create_connection(
            url, timeout=OPEN_TIMEOUT_S, enable_multithread=True, skip_utf8_validation=True
        )
        connection = Connection(ws, self)
        with self._lock:
            previous, self._current = self._current, connection
        connection.start()
        if previous is not None:
            previous.close()

    def is_connected(self) -> bool:
        return self._current is not None

    def refresh_asked(self) -> bool:
        """Whether Slack asked the current connection to make way for a new one."""
        with self._lock:
            return self._current is not None and self._current is self._asked_by

    def send_message(self, message: str) -> None:
        connection = self._current
        if connection is None:
            raise SlackClientNotConnectedError("no Socket Mode connection")
        connection.send(message)

    def close(self) -> None:
        """Take no more requests, answer those in hand, then close with a close frame."""
        self.closed = True
        self._handlers.shutdown(wait=True)
        with self._lock:
            connection, self._current = self._current, None
        if connection is not None:
            connection.close()
            connection.join(CLOSE_TIMEOUT_S + 1)

    def received(self, connection: Connection, text: str) -> None:
        """A text frame, in the connection's thread: hand a request to Bolt, note a refresh."""
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            log.warning("unreadable Socket Mode message ignored", extra={"size": len(text)})
            return
        if message.get("type") == "disconnect":
            log.info("Slack asks for a new connection", extra={"reason": message.get("reason")})
            with self._lock:
                self._asked_by = connection
            self.attention.set()
            return
        request = SocketModeRequest.from_dict(message)
        if request is None or self.closed:  # `hello`; or stopping, so Slack sends it elsewhere
            return
        with contextlib.suppress(RuntimeError):  # the pool shut down just now
            self._handlers.submit(self._handle, request)

    def ended(self, connection: Connection, why: str | None) -> None:
        """The connection's thread is done; `why` is None when it was closed on purpose."""
        with self._lock:
            if connection is not self._current:
                return  # replaced or stopping: nothing lost
            self._current = None
        log.warning("Socket Mode connection lost; reconnecting", extra={"reason": why})
        self.attention.set()

    def _handle(self, request: SocketModeRequest) -> None:
        started = time.time()
        try:
            send_response(self, request, run_bolt_app(self.app, request), started)
        except Exception:
            log.exception("Socket Mode request failed", extra={"type": request.type})


class Connection:
    """One WebSocket and its thread, the only one to read, ping or close it.

    A socket closed under a thread waiting on it can leave that thread waiting; `close()` only
    asks, through a wake-up socket, and the thread sends the close frame itself.
    """

    def __init__(self, ws: websocket.WebSocket, client: SocketModeClient) -> None:
        self._ws = ws
        self._client = client
        self._closing = threading.Event()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._thread = threading.Thread(target=self._run, name="chatops-socket-mode", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def send(self, text: str) -> None:
        self._ws.send(text)  # websocket-client locks around sending

    def close(self) -> None:
        self._closing.set()
        with contextlib.suppress(OSError):  # the thread is done already
            self._wake_writer.send(b"\0")

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        why: str | None
        try:
            why = self._read()
        except (websocket.WebSocketException, OSError) as error:
            why = _why(error)
        except Exception as error:  # a bug here must still end in `ended()`
            log.exception("Socket Mode connection failed")
            why = type(error).__name__
        try:
            if why is None:
                self._ws.close(timeout=CLOSE_TIMEOUT_S)  # a close frame, then Slack's answer
            else:
                self._ws.shutdown()
        finally:
            self._wake_reader.close()
            self._wake_writer.close()
            self._client.ended(self, why)

    def _read(self) -> str | None:
        """Read frames until asked to close (None) or the connection fails (why)."""
        sock = self._ws.sock
        assert sock is not None
        next_ping = time.monotonic() + PING_INTERVAL_S
        pong_due: float | None = None
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_READ)
            selector.register(self._wake_reader, selectors.EVENT_READ)
            while not self._closing.is_set():
                now = time.monotonic()
                if pong_due is not None and now >= pong_due:
                    return "no answer to a ping"
                if now >= next_ping:
                    self._ws.ping()
                    pong_due = pong_due or now + PONG_TIMEOUT_S
                    next_ping = now + PING_INTERVAL_S
                # TLS may hold decrypted bytes that the socket no longer shows as readable.
                buffered = isinstance(sock, ssl.SSLSocket) and sock.pending() > 0
                timeout = min(next_ping, pong_due or next_ping) - now
                if not buffered and not any(
                    key.fileobj is sock for key, _ in selector.select(timeout)
                ):
                    continue
                opcode, frame = self._ws.recv_data_frame(control_frame=True)  # answers pings
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    return "closed by Slack"
                if opcode == websocket.ABNF.OPCODE_PONG:
                    pong_due = None
                elif opcode == websocket.ABNF.OPCODE_TEXT:
                    self._client.received(self, frame.data.decode("utf-8", "replace"))
        return None


def _why(error: Exception) -> str:
    """A lost connection's reason for the log line: the exception's kind and its message."""
    return f"WebSocket: {type(error).__name__}: {error}".rstrip(": ")
