"""Slack's side of Socket Mode on loopback: a small WebSocket server, standard library only.

The bot's Socket Mode client (websocket-client) speaks plain WebSocket when the URL is `ws://`,
so with this server (and the fake Web API answering `apps.connections.open` with `url`) the
bot's whole Socket Mode path runs with no network: handshake, `hello`, envelopes in,
acknowledgements out, pings answered.

Only what such a client uses is implemented (RFC 6455 without extensions or fragmentation). Every
frame a client sends is recorded with its arrival time, so tests can wait for an ack and say how
long it took; anything the server does not expect is recorded in `errors` instead of raising in
a thread where no test would see it. `drop()` plays the network's part: a connection reset, cut
short, or gone silent, none of them with a close frame. With `tls` it is reached at `wss://` as
Slack is, with a certificate made for the test. All threads are daemons and poll a stop flag, so
a test that fails half-way cannot leave one blocking the run.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA
DROPS = ("reset", "eof", "silent")
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
    sock: socket.socket  # an ssl.SSLSocket when the server has `tls`
    target: str  # the request line's path and query, as the client sent them
    headers: dict[str, str]  # lower-case names
    send_lock: threading.Lock = field(default_factory=threading.Lock)
    closed: threading.Event = field(default_factory=threading.Event)
    closed_by_client: bool = False
    drop_how: str | None = None  # set by `FakeSocketMode.drop`
    drop_requested: threading.Event = field(default_factory=threading.Event)
    dropped: threading.Event = field(default_factory=threading.Event)


class _Closed(Exception):
    """The peer went away, or the server is stopping."""


class _Dropped(Exception):
    """A test asked for the connection to be dropped (see `FakeSocketMode.drop`)."""


class FakeSocketMode:
    """The server; start() binds an ephemeral loopback port, stop() closes everything."""

    def __init__(self, *, app_id: str = APP_ID, tls: ssl.SSLContext | None = None) -> None:
        self.app_id = app_id
        self.tls = tls
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
        scheme = "wss" if self.tls else "ws"
        return f"{scheme}://127.0.0.1:{port}/link/?ticket={TICKET}&app_id={self.app_id}"

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

    def send(self, *messages: dict[str, Any]) -> float:
        """Send messages over the newest connection, in one write; return when they left.

        Over TLS, several in one write share a record, so one read can decrypt them all.
        """
        connection = self.wait_connected(len(self.connections) or 1, timeout=0)
        sent_at = time.monotonic()
        frames = [_frame(TEXT, json.dumps(message).encode("utf-8")) for message in messages]
        try:
            self._write(connection, b"".join(frames))
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
        sent_at = self.send(_envelope(envelope_id, kind, payload, accepts_response_payload))
        return Envelope(envelope_id=envelope_id, type=kind, sent_at=sent_at)

    def send_envelopes(self, kind: str, payloads: list[dict[str, Any]]) -> list[Envelope]:
        """Send several requests in one write, as a busy server may."""
        ids = [str(uuid.uuid4()) for _ in payloads]
        sent_at = self.send(
            *(_envelope(i, kind, p, True) for i, p in zip(ids, payloads, strict=True))
        )
        return [Envelope(envelope_id=i, type=kind, sent_at=sent_at) for i in ids]

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

    def drop(self, connection: Connection, how: str) -> float:
        """Drop `connection` without a close frame; return when done (`time.monotonic()`).

        `reset` aborts it (SO_LINGER 0, so the client's next read fails with ECONNRESET); `eof`
        shuts it down (the client reads end of file); `silent` keeps it open but stops reading
        and answering, as when the network cuts out and nothing tells the client.
        """
        assert how in DROPS, how
        connection.drop_how = how
        connection.drop_requested.set()
        if not connection.dropped.wait(2.0):
            raise AssertionError(f"connection {connection.number} was not dropped ({how})")
        return time.monotonic()

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
        if self.tls is not None:
            try:
                sock.settimeout(5.0)
                sock = self.tls.wrap_socket(sock, server_side=True)
            except OSError as error:  # ssl.SSLError included
                self._error(f"TLS handshake: {error}")
                _shut(sock)
                return
            sock.settimeout(_POLL_S)
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
        reader.drop_requested = connection.drop_requested
        try:
            self._send(connection, TEXT, json.dumps(self._hello()).encode("utf-8"))
            with self._lock:
                self._connections.append(connection)
            self._read_frames(connection, reader)
        except _Dropped:
            self._drop(connection)
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

    def _drop(self, connection: Connection) -> None:
        """Carry out `drop()` in the connection's own thread, which alone reads its socket."""
        sock = connection.sock
        if connection.drop_how == "reset":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()  # with no linger: an RST, not a FIN
            connection.dropped.set()
        elif connection.drop_how == "eof":
            sock.shutdown(socket.SHUT_RDWR)
            connection.dropped.set()
        else:  # silent: hold the socket, read nothing, answer nothing, until the server stops
            connection.dropped.set()
            self._stopping.wait()

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
        self._write(connection, _frame(opcode, data))

    def _write(self, connection: Connection, frames: bytes) -> None:
        with connection.send_lock:
            try:
                connection.sock.sendall(frames)
            except OSError as error:
                raise _Closed from error


def _frame(opcode: int, data: bytes) -> bytes:
    """One unmasked frame, as a server sends them."""
    size = len(data)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return head + data


def _envelope(
    envelope_id: str, kind: str, payload: dict[str, Any], accepts_response_payload: bool
) -> dict[str, Any]:
    return {
        "envelope_id": envelope_id,
        "type": kind,
        "payload": payload,
        "accepts_response_payload": accepts_response_payload,
    }


class _Reader:
    """Exact-size reads from a socket with a short timeout, giving up once the server stops."""

    def __init__(self, sock: socket.socket, stopping: threading.Event) -> None:
        self._sock = sock
        self._stopping = stopping
        self._buffer = b""
        self.drop_requested: threading.Event | None = None

    def _fill(self) -> None:
        while True:
            if self._stopping.is_set():
                raise _Closed
            if self.drop_requested is not None and self.drop_requested.is_set():
                raise _Dropped
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


def _tls_context(folder: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A certificate for 127.0.0.1, trusted by the bot's WebSocket client for this test only."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("making a test certificate needs the openssl command")
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    command += ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    command += ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(command, check=True, capture_output=True)
    monkeypatch.setenv("WEBSOCKET_CLIENT_CA_BUNDLE", str(cert))  # read by websocket-client
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture
def fake_socket(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeSocketMode]:
    """A started Socket Mode server, stopped after the test.

    Parametrize it indirectly with "tls" to have it behind TLS, as Slack's is.
    """
    tls = getattr(request, "param", None) == "tls"
    server = FakeSocketMode(tls=_tls_context(tmp_path, monkeypatch) if tls else None).start()
    try:
        yield server
    finally:
        server.stop()
