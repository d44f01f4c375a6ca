"""Slack's side of Socket Mode on loopback: a small WebSocket server, standard library only.

slack_sdk's builtin Socket Mode client speaks WebSocket itself over a plain socket when the URL
is `ws://` on a port other than 443, so with this server (and the fake Web API answering
`apps.connections.open` with `url`) the bot's whole Socket Mode path runs with no network:
handshake, `hello`, envelopes in, acknowledgements out, pings answered.

Only what that client uses is implemented (RFC 6455 without extensions or fragmentation). Every
frame a client sends is recorded with its arrival time, so tests can wait for an ack and say how
long it took; anything the server does not expect is recorded in `errors` instead of raising in
a thread where no test would see it. All threads are daemons and poll a stop flag, so a test that
fails half-way cannot leave one blocking the run.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA
APP_ID = "A0APP"
TICKET = "fake-ticket"
_POLL_S = 0.1  # how often blocked threads look at the stop flag
_HANDSHAKE_LIMIT = 16 * 1024


@dataclass(frozen=True)
class Frame:
    """One frame a client sent, unmasked, with its arrival time (`time.monotonic()`)."""

    connection: int
    opcode: int
    data: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.data.decode("utf-8"))


@dataclass(frozen=True)
class Envelope:
    """An envelope sent to the client, and when (`time.monotonic()`), to time its ack against."""

    envelope_id: str
    type: str
    sent_at: float


@dataclass(frozen=True)
class Ack:
    """A client's answer to an envelope: `{"envelope_id": ...}`, perhaps with a `payload`."""

    message: dict[str, Any]
    at: float

    @property
    def envelope_id(self) -> str:
        return str(self.message["envelope_id"])

    @property
    def payload(self) -> dict[str, Any] | None:
        value = self.message.get("payload")
        return value if isinstance(value, dict) else None


@dataclass
class Connection:
    """One accepted WebSocket: the handshake's request target and headers, and its state."""

    number: int
    sock: socket.socket
    target: str  # the request line's path and query, as the client sent them
    headers: dict[str, str]  # lower-case names
    send_lock: threading.Lock = field(default_factory=threading.Lock)
    closed: threading.Event = field(default_factory=threading.Event)
    closed_by_client: bool = False


class _Closed(Exception):
    """The peer went away, or the server is stopping."""


class FakeSocketMode:
    """The server; start() binds an ephemeral loopback port, stop() closes everything."""

    def __init__(self, *, app_id: str = APP_ID) -> None:
        self.app_id = app_id
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._connections: list[Connection] = []
        self._frames: list[Frame] = []
        self._errors: list[str] = []
        self._numbers = itertools.count(1)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeSocketMode:
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(_POLL_S)
        self._listener = listener
        self._spawn(self._accept_loop, "fake-socket-accept")
        return self

    def stop(self) -> None:
        """Drop every connection without a close frame (the client must not reconnect here)."""
        self._stopping.set()
        for connection in self.connections:
            _shut(connection.sock)
            connection.closed.set()
        if self._listener is not None:
            self._listener.close()
        for thread in self._threads:
            thread.join(timeout=2)

    @property
    def url(self) -> str:
        """What `apps.connections.open` should answer: shaped like Slack's, ticket included."""
        assert self._listener is not None, "start() the server first"
        port = self._listener.getsockname()[1]
        return f"ws://127.0.0.1:{port}/link/?ticket={TICKET}&app_id={self.app_id}"

    # -- what tests do -------------------------------------------------------------------------

    @property
    def connections(self) -> list[Connection]:
        with self._lock:
            return list(self._connections)

    @property
    def frames(self) -> list[Frame]:
        with self._lock:
            return list(self._frames)

    @property
    def errors(self) -> list[str]:
        """Protocol trouble seen in server threads (empty when the client behaved)."""
        with self._lock:
            return list(self._errors)

    def messages(self) -> list[dict[str, Any]]:
        """Every text frame received, decoded."""
        return [frame.json() for frame in self.frames if frame.opcode == TEXT]

    def wait_connected(self, count: int = 1, timeout: float = 5.0) -> Connection:
        """The `count`-th connection, once its handshake is done and `hello` sent."""
        self._until(lambda: len(self.connections) >= count, timeout, f"connection {count}")
        return self.connections[count - 1]

    def send(self, message: dict[str, Any]) -> float:
        """Send one message over the newest connection; return when it left."""
        connection = self.wait_connected(len(self.connections) or 1, timeout=0)
        sent_at = time.monotonic()
        try:
            self._send(connection, TEXT, json.dumps(message).encode("utf-8"))
        except _Closed:
            raise AssertionError(f"connection {connection.number} is closed") from None
        return sent_at

    def send_envelope(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        envelope_id: str | None = None,
        accepts_response_payload: bool = True,
    ) -> Envelope:
        """Send a request as Slack does: `kind` is slash_commands, interactive or events_api."""
        envelope_id = envelope_id or str(uuid.uuid4())
        sent_at = self.send(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": accepts_response_payload,
            }
        )
        return Envelope(envelope_id=envelope_id, type=kind, sent_at=sent_at)

    def acks(self) -> list[Ack]:
        return [
            Ack(message=frame.json(), at=frame.at)
            for frame in self.frames
            if frame.opcode == TEXT and "envelope_id" in frame.json()
        ]

    def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> Ack:
        """The client's first answer to `envelope_id`."""
        found: list[Ack] = []

        def acked() -> bool:
            found[:] = [a for a in self.acks() if a.envelope_id == envelope_id]
            return bool(found)

        self._until(acked, timeout, f"the ack of envelope {envelope_id}")
        return found[0]

    def wait_closed(self, connection: Connection, timeout: float = 5.0) -> None:
        if not connection.closed.wait(timeout):
            raise AssertionError(f"waited {timeout}s for connection {connection.number} to close")

    def _until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() >= deadline:
                raise AssertionError(f"waited {timeout}s for {what}; errors: {self.errors}")
            time.sleep(0.01)

    # -- the server side -----------------------------------------------------------------------

    def _spawn(self, target: Callable[..., None], name: str, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _error(self, message: str) -> None:
        with self._lock:
            self._errors.append(message)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                sock, _address = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed by stop()
            sock.settimeout(_POLL_S)
            self._spawn(self._serve_connection, "fake-socket-conn", sock)

    def _serve_connection(self, sock: socket.socket) -> None:
        reader = _Reader(sock, self._stopping)
        try:
            connection = self._handshake(sock, reader)
        except _Closed:
            _shut(sock)
            return
        except ValueError as error:
            self._error(f"handshake: {error}")
            _shut(sock)
            return
        try:
            self._send(connection, TEXT, json.dumps(self._hello()).encode("utf-8"))
            with self._lock:
                self._connections.append(connection)
            self._read_frames(connection, reader)
        except _Closed:
            with self._lock:
                connection.closed_by_client = not self._stopping.is_set()
        finally:
            _shut(sock)
            connection.closed.set()

    def _handshake(self, sock: socket.socket, reader: _Reader) -> Connection:
        head = reader.until(b"\r\n\r\n", _HANDSHAKE_LIMIT).decode("latin-1")
        request_line, *header_lines = head.split("\r\n")
        method, target, _version = request_line.split(" ", 2)
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        key = headers.get("sec-websocket-key")
        if method != "GET" or headers.get("upgrade", "").lower() != "websocket" or not key:
            sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            raise ValueError(f"not a WebSocket upgrade: {request_line!r}")
        accept = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest())
        sock.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\n"
            b"Upgrade: websocket\r\n"
            b"Connection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        return Connection(number=next(self._numbers), sock=sock, target=target, headers=headers)

    def _hello(self) -> dict[str, Any]:
        return {
            "type": "hello",
            "num_connections": 1,
            "debug_info": {"host": "fake-socket-mode", "approximate_connection_time": 3600},
            "connection_info": {"app_id": self.app_id},
        }

    def _read_frames(self, connection: Connection, reader: _Reader) -> None:
        while True:
            first, second = reader.exactly(2)
            fin, opcode = first & 0x80, first & 0x0F
            masked, length = second & 0x80, second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", reader.exactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", reader.exactly(8))
            mask = reader.exactly(4) if masked else b""
            raw = reader.exactly(length)
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(raw)) if masked else raw
            frame = Frame(connection.number, opcode, data, time.monotonic())
            with self._lock:
                self._frames.append(frame)
            if not masked:
                self._error(f"unmasked client frame (opcode {opcode})")  # RFC 6455 §5.1
            if not fin:
                self._error(f"fragmented client frame (opcode {opcode}); not supported here")
            if opcode == PING:
                self._send(connection, PONG, data)
            elif opcode == CLOSE:
                self._send(connection, CLOSE, data[:2])
                raise _Closed
            elif opcode not in (TEXT, PONG):
                self._error(f"unexpected client frame (opcode {opcode})")

    def _send(self, connection: Connection, opcode: int, data: bytes) -> None:
        """One unmasked frame, as a server sends them."""
        size = len(data)
        if size < 126:
            head = struct.pack("!BB", 0x80 | opcode, size)
        elif size < 1 << 16:
            head = struct.pack("!BBH", 0x80 | opcode, 126, size)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 127, size)
        with connection.send_lock:
            try:
                connection.sock.sendall(head + data)
            except OSError as error:
                raise _Closed from error


class _Reader:
    """Exact-size reads from a socket with a short timeout, giving up once the server stops."""

    def __init__(self, sock: socket.socket, stopping: threading.Event) -> None:
        self._sock = sock
        self._stopping = stopping
        self._buffer = b""

    def _fill(self) -> None:
        while True:
            if self._stopping.is_set():
                raise _Closed
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError as error:
                raise _Closed from error
            if not chunk:
                raise _Closed
            self._buffer += chunk
            return

    def exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._fill()
        taken, self._buffer = self._buffer[:size], self._buffer[size:]
        return taken

    def until(self, marker: bytes, limit: int) -> bytes:
        """The bytes before `marker` (which is consumed too)."""
        while marker not in self._buffer:
            if len(self._buffer) > limit:
                raise ValueError(f"no {marker!r} in the first {limit} bytes")
            self._fill()
        taken, _, self._buffer = self._buffer.partition(marker)
        return taken


def _shut(sock: socket.socket) -> None:
    """Wake any thread blocked on `sock`, then release it."""
    with contextlib.suppress(OSError):  # already shut, or never connected
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@pytest.fixture
def fake_socket() -> Iterator[FakeSocketMode]:
    """A started Socket Mode server, stopped after the test."""
    server = FakeSocketMode().start()
    try:
        yield server
    finally:
        server.stop()
